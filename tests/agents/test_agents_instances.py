"""@mentions and acceptances with two instances sharing a score (memory fan-out): the
instance whose client wrote the change acts, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from agents.config import AgentConfig
from agents.tasks import MemoryTaskBoard
from collab_server.fanout.hooks import FanoutHooks
from collab_server.fanout.memory import MemoryBus
from collab_server.participants import ParticipantHub
from collab_server.participants.agents import AgentTasks
from collab_server.participants.watch import AgentRoomHooks
from collab_server.sync.hooks import HookChain
from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.agents.chorale import MELODY, write_chorale
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, make_backend, serve


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    made = await make_backend()
    yield made
    await made.documents.close()


async def test_one_instance_acts_on_a_mention_and_an_acceptance(backend: Backend) -> None:
    score = ScoreDoc()
    write_chorale(ScoreEditor(score, Origin.server("t")), bars=2)
    await backend.documents.create("s1", "C", None, score.encode_state())
    bus = MemoryBus()
    async with AsyncExitStack() as stack:
        boards, urls = [], []
        for index in range(2):
            documents = DocumentStore(backend.storage, commit_window=0.001)
            store = StoreHooks(documents)
            fanout = FanoutHooks(bus.connect(f"i{index}"), store)
            agent_hooks = AgentRoomHooks(author_of=_editor)
            rooms = RoomManager(HookChain(HookChain(fanout, store), agent_hooks))
            board = MemoryTaskBoard()
            tasks = AgentTasks(
                ParticipantHub(rooms), board, AgentConfig(tasks_per_minute=0, review_seconds=30)
            )
            agent_hooks.bind(tasks)
            stack.push_async_callback(documents.close)
            stack.push_async_callback(fanout.close)
            stack.push_async_callback(rooms.close)
            stack.push_async_callback(tasks.close)
            urls.append(await stack.enter_async_context(serve(make_app(rooms))))
            boards.append(board)
        people = [await YClient(f"{url}/s1").connect() for url in urls]
        await asyncio.gather(*(asyncio.wait_for(p.synced.wait(), 10) for p in people))
        ScoreEditor(people[1].score, Origin.client("ada")).post_chat("ada", "@aureon harmonise")
        await wait_for(
            lambda: (
                len(people[0].score.raw_suggestions()) == 6
                and all(
                    s["status"] == "pending" for s in people[0].score.raw_suggestions().values()
                )
            ),
            timeout=20,
        )
        assert [len(b._records) for b in boards] == [0, 1]  # only instance 1 started it

        def replies() -> list[dict[str, object]]:
            return [m for m in people[0].score.raw_chat() if m.get("author_kind") == "agent"]

        await wait_for(lambda: bool(replies()), timeout=10)
        await asyncio.sleep(0.3)
        assert len(replies()) == 1  # an agent's own message never starts a task
        assert [len(b._records) for b in boards] == [0, 1]

        # A person on instance 0 accepts: instance 0 applies; instance 1 does not again.
        accepter = ScoreEditor(people[0].score, Origin.client("bob"))
        with accepter.batch():
            for sid, value in people[0].score.raw_suggestions().items():
                people[0].score.suggestions[sid] = {**value, "status": "accepted", "by": "bob"}
        await wait_for(
            lambda: all(
                s["status"] == "applied" for s in people[1].score.raw_suggestions().values()
            ),
            timeout=10,
        )
        await asyncio.sleep(0.2)
        notes = people[1].score.read().notes.values()
        assert len(notes) == len(MELODY[0]) + len(MELODY[1]) + sum(
            len(s["notes"]) for s in people[1].score.raw_suggestions().values()
        )
        assert people[0].score.raw_notes() == people[1].score.raw_notes()
        for person in people:
            await person.close()


async def _editor(room: object, origin: Origin) -> tuple[str | None, str]:
    return origin.id, "editor"
