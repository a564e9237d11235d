"""Contract suite of :class:`~persistence.conversations.base.ConversationStore`: the
agents' conversation memory, over every backend (the ``backend`` fixture of
conftest.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from persistence.backend import Backend
from persistence.base import ScoreCatalog, ScoreRecord
from persistence.conversations.base import ConversationStore, Message
from persistence.errors import NotFound


@dataclass
class Pair:
    catalog: ScoreCatalog
    conversations: ConversationStore


@pytest.fixture
def pair(backend: Backend) -> Pair:
    return Pair(backend.storage.catalog, backend.conversations)


def said(text: str, *, at: float = 1.0, author: str | None = "ada", kind: str = "user") -> Message:
    return Message(author, kind, {"text": text}, at)  # type: ignore[arg-type]


async def test_append_returns_growing_ids_and_recent_is_oldest_first(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    ids = [await pair.conversations.append("s1", said(f"m{i}", at=float(i))) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    recent = await pair.conversations.recent("s1")
    assert [m.body["text"] for m in recent] == ["m0", "m1", "m2", "m3", "m4"]
    assert [m.id for m in recent] == ids
    assert recent[0].score_id == "s1" and recent[0].author_id == "ada"
    assert recent[0].author_kind == "user" and recent[0].created_at == 0.0


async def test_message_fields_round_trip(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    body = {
        "text": "Harmonise bars 3-4 ♪",
        "mentions": ["bach"],
        "task": {"id": "t1", "bars": [3, 4]},
        "ok": True,
        "score": 0.5,
        "none": None,
    }
    message = Message(None, "system", body, 1700000000.25)
    await pair.conversations.append("s1", message)
    [stored] = await pair.conversations.recent("s1")
    assert stored.message == message
    assert stored.body == body


async def test_limit_keeps_the_newest(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    for i in range(6):
        await pair.conversations.append("s1", said(f"m{i}"))
    assert [m.body["text"] for m in await pair.conversations.recent("s1", limit=2)] == ["m4", "m5"]
    assert await pair.conversations.recent("s1", limit=0) == []


async def test_max_chars_trims_from_the_newest_backwards(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    for text in ["a" * 50, "b" * 10, "c" * 10]:
        await pair.conversations.append("s1", said(text))
    everything = await pair.conversations.recent("s1")
    sizes = [m.chars for m in everything]
    assert sizes[1] == sizes[2] == len('{"text":"' + "b" * 10 + '"}')
    two = await pair.conversations.recent("s1", max_chars=sizes[1] + sizes[2])
    assert [m.body["text"][0] for m in two] == ["b", "c"]
    assert [
        m.body["text"][0] for m in await pair.conversations.recent("s1", max_chars=sum(sizes))
    ] == ["a", "b", "c"]
    assert await pair.conversations.recent("s1", max_chars=sizes[2] - 1) == []


async def test_scores_are_separate(pair: Pair) -> None:
    for score in ("s1", "s2"):
        await pair.catalog.create_score(ScoreRecord(score))
    await pair.conversations.append("s1", said("one"))
    await pair.conversations.append("s2", said("two"))
    assert [m.body["text"] for m in await pair.conversations.recent("s2")] == ["two"]
    assert await pair.conversations.recent("nobody") == []


async def test_trim_keeps_the_newest_and_counts(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    for i in range(5):
        await pair.conversations.append("s1", said(f"m{i}"))
    assert await pair.conversations.trim("s1", 2) == 3
    assert [m.body["text"] for m in await pair.conversations.recent("s1")] == ["m3", "m4"]
    assert await pair.conversations.trim("s1", 2) == 0
    assert await pair.conversations.trim("s1", 0) == 2
    assert await pair.conversations.recent("s1") == []
    newer = await pair.conversations.append("s1", said("again"))
    assert [m.id for m in await pair.conversations.recent("s1")] == [newer]


async def test_unknown_score_is_refused(pair: Pair) -> None:
    with pytest.raises(NotFound):
        await pair.conversations.append("ghost", said("hello"))


async def test_deleting_a_score_deletes_its_messages(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    await pair.catalog.create_score(ScoreRecord("s2"))
    await pair.conversations.append("s1", said("gone"))
    await pair.conversations.append("s2", said("kept"))
    await pair.catalog.delete_score("s1")
    assert await pair.conversations.recent("s1") == []
    await pair.catalog.create_score(ScoreRecord("s1"))
    assert await pair.conversations.recent("s1") == []
    assert [m.body["text"] for m in await pair.conversations.recent("s2")] == ["kept"]


@pytest.mark.parametrize(
    "message",
    [
        Message("ada", "robot", {"text": "x"}, 1.0),  # type: ignore[arg-type]
        Message("ada", "user", ["not", "an", "object"], 1.0),  # type: ignore[arg-type]
        Message("ada", "user", {"x": float("nan")}, 1.0),
        Message("ada", "user", {"x": object()}, 1.0),
        Message("", "user", {"text": "x"}, 1.0),
        Message("ada", "user", {"text": "x"}, float("inf")),
    ],
)
async def test_invalid_messages_are_refused(pair: Pair, message: Message) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    with pytest.raises(ValueError):
        await pair.conversations.append("s1", message)
    assert await pair.conversations.recent("s1") == []


async def test_invalid_arguments_are_refused(pair: Pair) -> None:
    with pytest.raises(ValueError):
        await pair.conversations.append("../x", said("x"))
    with pytest.raises(ValueError):
        await pair.conversations.recent("s1", limit=-1)
    with pytest.raises(ValueError):
        await pair.conversations.recent("s1", max_chars=-1)
    with pytest.raises(ValueError):
        await pair.conversations.trim("s1", -1)


async def test_concurrent_appends_get_distinct_ids_in_read_order(pair: Pair) -> None:
    await pair.catalog.create_score(ScoreRecord("s1"))
    ids = await asyncio.gather(*(pair.conversations.append("s1", said(f"m{i}")) for i in range(20)))
    assert len(set(ids)) == 20
    recent = await pair.conversations.recent("s1", limit=100)
    assert [m.id for m in recent] == sorted(ids)
    assert sorted(m.body["text"] for m in recent) == sorted(f"m{i}" for i in range(20))
