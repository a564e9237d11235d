"""The participant API: an in-process participant in a room, watched by the unmodified
JavaScript client (presence with kind, edits, presence gone on leave), refused writes for
a viewer, and presence and edits crossing instances through the fan-out."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from pycrdt import ReadTransaction

from agents.session import NotAllowed, SessionClosed
from collab_server.errors import Forbidden
from collab_server.fanout.base import FanOut
from collab_server.fanout.hooks import FanoutHooks
from collab_server.participants import ParticipantForbidden, ParticipantHub, Profile
from collab_server.sync.hooks import HookChain
from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from persistence.documents.store import DocumentStore
from score_model.origin import Origin, OriginKind
from tests.agents.watcher import Watcher, agents_present
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, serve
from tests.collab_server.test_fanout import fanouts  # noqa: F401
from tests.services import redis_service  # noqa: F401

AUREON = Profile("Aureon", "#2563eb", "agent")


@pytest.mark.node
async def test_a_js_client_sees_presence_edits_and_departure(backend: Backend) -> None:
    ids = await backend.create_score("s1")
    rooms = RoomManager(backend.hooks, idle_timeout=0.2)
    hub = ParticipantHub(rooms)
    async with serve(make_app(rooms)) as base:
        watcher = await Watcher.start(url=base, room="s1", name="ada")
        try:
            agent = await hub.join("s1", AUREON, Origin.agent("aureon:t1"))
            await agent.set_presence({"status": "reading", "focus": {"measures": []}})
            seen = await watcher.until(lambda e: bool(agents_present(e)))
            [state] = agents_present(seen)
            assert state["user"] == {"name": "Aureon", "color": "#2563eb", "kind": "agent"}
            assert state["status"] == "reading"

            note = await agent.edit(
                lambda ed: ed.add_note(ids["measures"][0], ids["parts"][0], 0, 4, ["G4"])
            )
            await watcher.until(lambda e: e["event"] == "notes" and e["count"] == 1)
            message = await agent.post_chat("I added a G", task="t1")
            await watcher.until(lambda e: e["event"] == "chat")
            dump = await watcher.dump()
            assert dump["dump"]["notes"][note]["pitches"] == ["G4"]
            [chat] = dump["chat"]
            assert (chat["id"], chat["author"], chat["author_kind"], chat["task"]) == (
                message,
                "Aureon",
                "agent",
                "t1",
            )

            await agent.set_presence({"status": "writing"})
            await watcher.until(
                lambda e: any(s.get("status") == "writing" for s in agents_present(e))
            )
            await agent.leave()
            # gone at once (well before y-protocols' 30 s timeout)
            await watcher.until(
                lambda e: e["event"] == "presence" and not agents_present(e), timeout=2
            )
            with pytest.raises(SessionClosed):
                await agent.edit(lambda ed: None)
        finally:
            await watcher.close()
    stored = await backend.stored("s1")
    assert stored.raw_notes()[note]["pitches"] == ["G4"]
    await rooms.close()


async def test_edits_carry_the_participants_origin(backend: Backend) -> None:
    ids = await backend.create_score("s1")
    rooms = RoomManager(backend.hooks, idle_timeout=0.2)
    agent = await ParticipantHub(rooms).join("s1", AUREON, Origin.agent("aureon:t9"))
    seen: list[Origin] = []

    def record(event: object) -> None:
        txn = event.transaction  # type: ignore[attr-defined]
        seen.append(ReadTransaction(agent.doc.doc, txn).origin)

    subscription = agent.doc.doc.observe(record)
    await agent.edit(
        lambda ed: [
            ed.add_note(ids["measures"][0], ids["parts"][0], i, 1, ["C4"]) for i in range(3)
        ]
    )
    agent.doc.doc.unobserve(subscription)
    assert seen == [Origin(OriginKind.AGENT, "aureon:t9")]  # three notes, one transaction
    room = agent.room
    await agent.leave()
    await asyncio.sleep(0.4)
    assert rooms.loaded("s1") is None and room.closed  # no longer held: unloaded when idle
    await rooms.close()


async def test_a_viewer_participant_cannot_write(backend: Backend) -> None:
    ids = await backend.create_score("s1")
    rooms = RoomManager(backend.hooks, idle_timeout=0.2)
    viewer = await ParticipantHub(rooms).join(
        "s1", Profile("Guest", kind="person"), Origin.agent("guest"), role="viewer"
    )
    assert not viewer.can_edit
    with pytest.raises(ParticipantForbidden) as raised:
        await viewer.edit(lambda ed: ed.add_note(ids["measures"][0], ids["parts"][0], 0, 1, ["C4"]))
    assert isinstance(raised.value, Forbidden) and isinstance(raised.value, NotAllowed)
    assert raised.value.status == 403
    with pytest.raises(ParticipantForbidden):
        await viewer.post_chat("hello")
    assert viewer.doc.raw_notes() == {} and viewer.doc.raw_chat() == []
    await viewer.set_presence({"status": "reading"})  # presence is allowed to viewers
    assert len(viewer.room.presence) == 1
    await viewer.leave()
    assert len(viewer.room.presence) == 0
    await rooms.close()


async def test_presence_and_edits_reach_clients_of_another_instance(
    backend: Backend, fanouts: tuple[FanOut, FanOut]
) -> None:
    """Memory and Redis fan-out: the participant on the worker instance, the person's
    client on the server instance."""
    ids = await backend.create_score("s1")
    async with AsyncExitStack() as stack:
        managers = []
        for fanout in fanouts:
            documents = DocumentStore(backend.storage, commit_window=0.001)
            store = StoreHooks(documents)
            hooks = FanoutHooks(fanout, store, retry_delay=0.01, max_retry_delay=0.05)
            rooms = RoomManager(HookChain(hooks, store), idle_timeout=60)
            stack.push_async_callback(documents.close)
            stack.push_async_callback(hooks.close)
            stack.push_async_callback(rooms.close)
            managers.append(rooms)
        worker, server = managers
        url = await stack.enter_async_context(serve(make_app(server)))
        client = await YClient(f"{url}/s1").connect()
        await asyncio.wait_for(client.synced.wait(), 10)
        agent = await ParticipantHub(worker).join("s1", AUREON, Origin.agent("aureon:t2"))
        await agent.set_presence({"status": "thinking"})
        await wait_for(
            lambda: any(s.get("user", {}).get("kind") == "agent" for s in client.presence.values()),
            timeout=5,
        )
        note = await agent.edit(
            lambda ed: ed.add_note(ids["measures"][1], ids["parts"][1], 0, 2, ["E3"])
        )
        await wait_for(lambda: note in client.score.raw_notes(), timeout=5)
        await agent.leave()
        await wait_for(lambda: not client.presence, timeout=5)
        await client.close()
