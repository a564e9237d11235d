"""Contract suite of :class:`~persistence.webhooks.base.WebhookStore`: subscriptions, the
delivery outbox with its claim, and notifications, over every backend (the ``backend``
fixture of conftest.py)."""

from __future__ import annotations

import asyncio

import pytest

from persistence.backend import Backend
from persistence.base import ScoreRecord
from persistence.errors import NotFound
from persistence.webhooks.base import Subscription, WebhookStore


@pytest.fixture
async def store(backend: Backend) -> WebhookStore:
    await backend.storage.catalog.create_score(ScoreRecord("s1", owner="ada"))
    await backend.storage.catalog.create_score(ScoreRecord("s2", owner="bob"))
    return backend.webhooks


def sub(
    sid: str, *, owner: str = "ada", score: str | None = "s1", events: tuple[str, ...] = ()
) -> Subscription:
    return Subscription(
        sid,
        owner,
        f"http://127.0.0.1:9/{sid}",
        events or ("comment.added", "version.created"),
        "whsec_x",
        score,
        created_at=float(int(sid[-1])),
    )


async def test_subscriptions_round_trip_list_and_delete(store: WebhookStore) -> None:
    first = await store.add_subscription(sub("wh1"))
    await store.add_subscription(sub("wh2", owner="bob", score=None, events=("mention",)))
    assert await store.get_subscription("wh1") == first
    assert [s.id for s in await store.list_subscriptions(owner="ada")] == ["wh1"]
    assert [s.id for s in await store.list_subscriptions(score_id="s1")] == ["wh1"]
    assert [s.id for s in await store.list_subscriptions()] == ["wh1", "wh2"]
    await store.delete_subscription("wh1")
    with pytest.raises(NotFound):
        await store.get_subscription("wh1")
    with pytest.raises(NotFound):
        await store.delete_subscription("wh1")


async def test_refuses_unknown_scores_and_events(store: WebhookStore) -> None:
    with pytest.raises(NotFound):
        await store.add_subscription(sub("wh1", score="nope"))
    with pytest.raises(ValueError):
        await store.add_subscription(sub("wh1", events=("score.exploded",)))


async def test_matching_by_score_and_by_user(store: WebhookStore) -> None:
    await store.add_subscription(sub("wh1"))  # ada on s1
    await store.add_subscription(sub("wh2", score=None, events=("comment.added", "mention")))
    await store.add_subscription(sub("wh3", owner="bob", score="s2"))
    found = await store.matching("comment.added", score_id="s1", users=("ada",))
    assert [s.id for s in found] == ["wh1", "wh2"]
    assert [s.id for s in await store.matching("comment.added", score_id="s1")] == ["wh1"]
    assert [s.id for s in await store.matching("mention", score_id=None, users=("ada",))] == ["wh2"]
    assert await store.matching("version.created", score_id="s2", users=("ada",)) == [
        await store.get_subscription("wh3")
    ]


async def test_claims_lease_rows_and_finish_records_attempts(store: WebhookStore) -> None:
    await store.add_subscription(sub("wh1"))
    ids = await store.enqueue(["wh1", "gone"], "comment.added", {"text": "hi ♪"}, now=100.0)
    assert len(ids) == 1
    assert await store.claim(now=99.0, lease=30, limit=10) == []  # not due yet
    [claimed] = await store.claim(now=100.0, lease=30, limit=10)
    assert claimed.payload == {"text": "hi ♪"} and claimed.attempts == 0
    assert await store.claim(now=101.0, lease=30, limit=10) == []  # leased
    [again] = await store.claim(now=131.0, lease=30, limit=10)  # lease ran out: taken over
    await store.finish(
        again.id, now=132.0, status="pending", http_status=503, error="down", next_at=200.0
    )
    assert await store.claim(now=150.0, lease=30, limit=10) == []  # backing off
    [third] = await store.claim(now=200.0, lease=30, limit=10)
    assert third.attempts == 1 and third.last_status == 503 and third.last_error == "down"
    await store.finish(third.id, now=201.0, status="delivered", http_status=204, error=None)
    assert await store.claim(now=1000.0, lease=30, limit=10) == []
    [logged] = await store.deliveries("wh1")
    assert logged.status == "delivered" and logged.attempts == 2
    assert logged.delivered_at == 201.0 and logged.event == "comment.added"


async def test_a_keyed_event_is_enqueued_once_per_subscription(store: WebhookStore) -> None:
    await store.add_subscription(sub("wh1"))
    await store.add_subscription(sub("wh2"))
    first = await store.enqueue(["wh1"], "version.created", {}, now=1.0, key="v1")
    both = await store.enqueue(["wh1", "wh2"], "version.created", {}, now=1.0, key="v1")
    assert len(first) == 1 and len(both) == 1  # wh1 had it already
    assert len(await store.enqueue(["wh1"], "version.created", {}, now=1.0)) == 1  # no key
    assert len(await store.claim(now=2.0, lease=60, limit=10)) == 3


async def test_concurrent_claims_never_share_a_row(store: WebhookStore) -> None:
    await store.add_subscription(sub("wh1"))
    for i in range(20):
        await store.enqueue(["wh1"], "version.created", {"i": i}, now=1.0)
    batches = await asyncio.gather(*(store.claim(now=2.0, lease=60, limit=3) for _ in range(10)))
    claimed = [d.id for batch in batches for d in batch]
    assert len(claimed) == len(set(claimed)) == 20


async def test_deleting_the_score_or_webhook_drops_its_deliveries(
    backend: Backend, store: WebhookStore
) -> None:
    await store.add_subscription(sub("wh1"))
    await store.enqueue(["wh1"], "version.created", {}, now=1.0)
    await backend.storage.catalog.delete_score("s1")
    assert await store.list_subscriptions() == []
    assert await store.claim(now=2.0, lease=60, limit=10) == []


async def test_prune_drops_old_finished_deliveries_only(store: WebhookStore) -> None:
    await store.add_subscription(sub("wh1"))
    old_done, old_pending = (
        await store.enqueue(["wh1"], "version.created", {}, now=1.0),
        (await store.enqueue(["wh1"], "version.created", {}, now=2.0)),
    )
    await store.finish(old_done[0], now=3.0, status="delivered", http_status=200, error=None)
    [recent] = await store.enqueue(["wh1"], "version.created", {}, now=50.0)
    await store.finish(recent, now=51.0, status="failed", http_status=500, error="x")
    assert await store.prune(10.0) == 1
    assert sorted(d.id for d in await store.deliveries("wh1")) == sorted([*old_pending, recent])


async def test_notifications_per_user(store: WebhookStore) -> None:
    first = await store.notify("ada", "mention", {"score_id": "s1", "text": "@ada look"}, now=5.0)
    second = await store.notify("ada", "mention", {"score_id": "s2"}, now=6.0)
    await store.notify("bob", "mention", {}, now=7.0)
    listed = await store.notifications("ada")
    assert [n.id for n in listed] == [second, first]
    assert listed[1].payload == {"score_id": "s1", "text": "@ada look"} and not listed[1].read
    assert await store.mark_read("ada", [first, 999]) == 1
    assert await store.mark_read("bob", [second]) == 0  # not bob's
    assert [n.id for n in await store.notifications("ada", unread_only=True)] == [second]
    assert (await store.notifications("ada"))[1].read
