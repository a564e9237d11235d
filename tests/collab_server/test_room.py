"""Rooms, connections, hooks and the room manager, driven in-process (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from pycrdt import Doc, Map

from collab_server.errors import (
    ScoreNotFound,
    StaleDocument,
    Unavailable,
)
from collab_server.sync.connection import Connection
from collab_server.sync.hooks import HookChain, LoadedState, RoomHooks
from collab_server.sync.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    PermissionDenied,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_awareness,
    encode_state_vector,
    encode_sync_step1,
    encode_update,
)
from collab_server.sync.room import SORT_INLINE_BYTES, Room
from collab_server.sync.rooms import RoomManager
from collab_server.sync.sorted_keys import sort_keys
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin, OriginKind


class MemoryTransport:
    """Collects what a connection sends; ``gate`` blocks sending (a client not reading)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str | None] | None = None
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def send_bytes(self, data: bytes) -> None:
        if self.fail:
            raise ConnectionResetError("peer went away")
        if self.gate is not None:
            await self.gate.wait()
        self.frames.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.closed = (code, reason)

    def messages(self, kind: type) -> list[Any]:
        return [m for m in map(decode_message, self.frames) if isinstance(m, kind)]


class Recorder(RoomHooks):
    def __init__(self, state: bytes = b"", store_delay: float = 0.0) -> None:
        self.state = state
        self.store_delay = store_delay
        self.loads = 0
        self.stored: list[bytes] = []
        self.published: list[tuple[bytes, frozenset[Origin]]] = []
        self.changes: list[frozenset[Origin]] = []
        self.unloaded: list[str] = []
        self.fail_store = 0

    async def load(self, score_id: str) -> LoadedState:
        self.loads += 1
        await asyncio.sleep(0.01)
        if score_id == "missing":
            raise ScoreNotFound()
        return LoadedState(self.state, 3, frozenset())

    async def store(self, room: Room, updates: Sequence[bytes]) -> None:
        await asyncio.sleep(self.store_delay)
        if self.fail_store:
            self.fail_store -= 1
            raise OSError("disk full")
        self.stored.extend(updates)

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        self.changes.append(origins)

    async def publish(self, room: Room, update: bytes, origins: frozenset[Origin]) -> None:
        self.published.append((update, origins))

    async def on_unload(self, room: Room) -> None:
        self.unloaded.append(room.score_id)


def client_update(text: str = "x") -> bytes:
    doc: Doc = Doc()
    doc.get("notes", type=Map)[text] = {"onset": "0"}
    return doc.get_update()


def attach(room: Room, **options: Any) -> tuple[Connection, MemoryTransport]:
    transport = MemoryTransport()
    conn = Connection(transport, metrics=room.metrics, **options)
    room.join(conn)
    return conn, transport


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


async def test_join_sends_step1_and_presence_and_answers_step1() -> None:
    hooks = Recorder()
    room = Room("s", LoadedState(b""), hooks)
    a, _ta = attach(room)
    room.receive(a, encode_awareness([AwarenessEntry(7, 1, '{"a":1}')]))
    b, tb = attach(room)
    room.receive(b, encode_sync_step1(b"\x00"))
    await settle()
    kinds = [type(decode_message(f)) for f in tb.frames]
    assert kinds[:2] == [SyncStep1, AwarenessUpdate] and SyncStep2 in kinds
    await room.stop()


def large_score(notes: int) -> ScoreDoc:
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.agent("test"))
    ids = editor.create_score(title="Large", parts=[{"name": "Piano"}], measures=4)
    for i in range(notes):
        editor.add_note(ids["measures"][i % 4], ids["parts"][0], f"{i % 4}", "1", ["C4"])
    return score


async def test_a_large_sync_answer_is_sorted_on_a_helper_thread_once_for_a_crowd() -> None:
    score = large_score(400)
    state = score.encode_state()
    assert len(state) >= SORT_INLINE_BYTES
    room = Room("s", LoadedState(state))
    joiners = [attach(room) for _ in range(3)]
    for conn, _ in joiners:
        room.receive(conn, encode_sync_step1(b"\x00"))
    assert not any(t.messages(SyncStep2) for _, t in joiners)  # not on the loop's thread
    answer = room._answer
    assert answer is not None
    await asyncio.wait_for(asyncio.shield(answer[1]), 10)
    await settle()
    expected = sort_keys(room.score.doc.get_update())
    for _, transport in joiners:
        assert [m.update for m in transport.messages(SyncStep2)] == [expected]
    late, tl = attach(room)  # the same state asked for again: the rewrite is reused
    room.receive(late, encode_sync_step1(b"\x00"))
    await settle()
    assert room._answer is answer and [m.update for m in tl.messages(SyncStep2)] == [expected]
    room.receive(late, encode_update(client_update("new")))  # a change: a new rewrite
    assert room._answer is None
    room.receive(late, encode_sync_step1(b"\x00"))
    assert room._answer is not None
    await room.reset(ScoreDoc().encode_state(), epoch=2)  # a reset forgets it too
    assert room._answer is None
    await room.stop()


async def test_a_lone_client_update_is_stored_sent_and_published_as_its_author_wrote_it() -> None:
    hooks = Recorder()
    room = Room("s", LoadedState(b""), hooks)
    a, _ta = attach(room)
    _b, tb = attach(room)
    author: Doc = Doc()
    value = {key: i for i, key in enumerate("abcdefgh")}
    author.get("notes", type=Map)["x"] = value
    # Its keys in one order, where pycrdt's own re-encoding lists them in hash order (the
    # same order by chance once in 40,320).
    mine = sort_keys(author.get_update())
    room.receive(a, encode_update(mine))
    await room.flushed()
    await settle()
    assert [m.update for m in tb.messages(SyncUpdate)] == [mine]
    assert hooks.stored == [mine] and [u for u, _ in hooks.published] == [mine]
    assert room.score.raw_notes() == {"x": value}
    await room.stop()


async def test_every_origin_is_caught_stored_once_and_never_echoed_to_fanout() -> None:
    hooks = Recorder()
    room = Room("s", LoadedState(b""), hooks)
    a, _ta = attach(room)
    _b, tb = attach(room)
    room.receive(a, encode_update(client_update("c")))
    ScoreEditor(room.score, Origin.agent("bach")).post_chat("bach", "hello")
    room.apply_update(client_update("r"), Origin.remote("instance-2"))
    await room.flushed()
    await settle()
    kinds = {o.kind for changes in hooks.changes for o in changes}
    assert kinds == {OriginKind.CLIENT, OriginKind.AGENT, OriginKind.REMOTE}
    stored = ScoreDoc()
    for update in hooks.stored:
        stored.doc.apply_update(update)
    assert set(stored.raw_notes()) == {"c"}  # the remote change was stored by its instance
    assert len(stored.chat) == 1
    published = {o.kind for _, origins in hooks.published for o in origins}
    assert OriginKind.REMOTE not in published
    # b got the client's, the agent's and the remote change; a got all but its own.
    seen_by_b = ScoreDoc()
    for message in tb.messages(SyncUpdate):
        seen_by_b.doc.apply_update(message.update)
    assert set(seen_by_b.raw_notes()) == {"c", "r"} and len(seen_by_b.chat) == 1
    await room.stop()


async def test_a_burst_is_one_store_and_one_broadcast() -> None:
    hooks = Recorder(store_delay=0.005)
    room = Room("s", LoadedState(b""), hooks)
    writer, _ = attach(room)
    _reader, tr = attach(room)
    await settle()
    for i in range(50):
        room.receive(writer, encode_update(client_update(f"n{i}")))
    await room.flushed()
    await settle()
    updates = tr.messages(SyncUpdate)
    assert len(updates) <= 2  # the first flush may have started before the burst ended
    doc = ScoreDoc()
    for message in updates:
        doc.doc.apply_update(message.update)
    assert len(doc.notes) == 50
    assert room.metrics.stores == len(updates)
    await room.stop()


async def test_nothing_is_broadcast_before_it_is_stored() -> None:
    hooks = Recorder(store_delay=0.2)
    room = Room("s", LoadedState(b""), hooks)
    writer, _ = attach(room)
    _reader, tr = attach(room)
    room.receive(writer, encode_update(client_update()))
    await asyncio.sleep(0.1)
    assert tr.messages(SyncUpdate) == [] and room.pending == 1
    await room.flushed()
    await settle()
    assert len(tr.messages(SyncUpdate)) == 1 and hooks.stored
    await room.stop()


async def test_failed_store_keeps_changes_and_retries_until_it_works() -> None:
    hooks = Recorder()
    hooks.fail_store = 3
    room = Room("s", LoadedState(b""), hooks, retry_delay=0.01)
    writer, _ = attach(room)
    _reader, _tr = attach(room)
    room.receive(writer, encode_update(client_update("a")))
    await asyncio.sleep(0.005)
    room.receive(writer, encode_update(client_update("b")))
    with pytest.raises(Unavailable):
        await room.flushed(timeout=0.001)
    await room.flushed(timeout=5)
    assert room.metrics.store_failures == 3 and not room.store_failing
    stored = ScoreDoc()
    for update in hooks.stored:
        stored.doc.apply_update(update)
    assert set(stored.raw_notes()) == {"a", "b"}
    await room.stop()


async def test_read_only_connections_are_refused_but_kept_informed() -> None:
    room = Room("s", LoadedState(b""), Recorder())
    viewer, tv = attach(room, read_only=True)
    editor, _ = attach(room)
    room.receive(viewer, encode_update(client_update("v")))
    room.receive(viewer, encode_update(client_update("w")))
    room.receive(editor, encode_update(client_update("e")))
    await room.flushed()
    await settle()
    assert set(room.score.raw_notes()) == {"e"}
    assert viewer.refused_updates == 2 and room.metrics.readonly_refused == 2
    assert len(tv.messages(PermissionDenied)) == 1
    assert len(tv.messages(SyncUpdate)) == 1
    await room.stop()


async def test_stale_clients_are_refused_and_reset_retires_the_old_content() -> None:
    hooks = Recorder()
    room = Room("s", LoadedState(b""), hooks)
    ScoreEditor(room.score).post_chat("server", "epoch 1")
    await room.flushed()
    old_client = room.score.doc.client_id
    _a, ta = attach(room)
    await settle()
    fresh = ScoreDoc()
    ScoreEditor(fresh).post_chat("server", "epoch 2")
    await room.reset(fresh.encode_state(), 4)
    await settle()
    assert ta.closed is not None and ta.closed[0] == 4409 and room.connections == ()
    assert room.epoch == 4 and old_client in room.retired_clients
    b, _ = attach(room)
    with pytest.raises(StaleDocument):
        room.receive(b, encode_sync_step1(encode_state_vector({old_client: 1})))
    with pytest.raises(StaleDocument):
        stale = Doc(client_id=old_client)
        stale.get("notes", type=Map)["x"] = 1
        room.receive(b, encode_update(stale.get_update()))
    c, tc = attach(room)
    room.receive(c, encode_sync_step1(b"\x00"))
    await settle()
    assert [m.update for m in tc.messages(SyncStep2)] == [sort_keys(room.score.doc.get_update())]
    assert room.score.raw_notes() == {}
    await room.stop()


async def test_a_slow_connection_is_closed_and_the_others_keep_receiving() -> None:
    room = Room("s", LoadedState(b""), RoomHooks())
    slow_transport = MemoryTransport()
    slow_transport.gate = asyncio.Event()
    slow = Connection(slow_transport, metrics=room.metrics, max_frames=8, close_timeout=0.05)
    room.join(slow)
    _fast, tf = attach(room)
    writer, _ = attach(room)
    for i in range(40):
        room.receive(writer, encode_update(client_update(f"n{i}")))
        await room.flushed()
        assert slow.queued_frames <= 8
    await settle()
    assert slow.close_code == 1013 and slow not in room.connections
    assert room.metrics.slow_client_disconnects == 1
    assert len(tf.messages(SyncUpdate)) == 40
    await room.stop()


async def test_a_broken_transport_does_not_reach_the_room() -> None:
    room = Room("s", LoadedState(b""), RoomHooks())
    broken, tb = attach(room)
    tb.fail = True
    _ok, to = attach(room)
    writer, _ = attach(room)
    for i in range(3):
        room.receive(writer, encode_update(client_update(f"n{i}")))
        await room.flushed()
    await settle()
    assert broken.closing and len(to.messages(SyncUpdate)) == 3
    await room.stop()


async def test_manager_loads_once_for_concurrent_callers() -> None:
    hooks = Recorder()
    manager = RoomManager(hooks, idle_timeout=10)
    rooms = await asyncio.gather(*(manager.get_room("s") for _ in range(10)))
    assert hooks.loads == 1 and len({id(r) for r in rooms}) == 1
    with pytest.raises(ScoreNotFound):
        await asyncio.gather(*(manager.get_room("missing") for _ in range(3)))
    assert hooks.loads == 2 and manager.loaded("missing") is None
    await manager.close()


async def test_failed_loads_are_not_cached() -> None:
    class Flaky(Recorder):
        async def load(self, score_id: str) -> LoadedState:
            self.loads += 1
            if self.loads == 1:
                raise RuntimeError("database restarting")
            return LoadedState(b"")

    manager = RoomManager(Flaky())
    with pytest.raises(Unavailable):
        await manager.get_room("s")
    assert (await manager.get_room("s")).score_id == "s"
    assert manager.metrics.room_load_failures == 1
    await manager.close()


async def test_idle_rooms_store_their_last_change_then_unload() -> None:
    hooks = Recorder(store_delay=0.1)
    manager = RoomManager(hooks, idle_timeout=0.01)
    room = await manager.get_room("s")
    conn, _ = attach(room)
    room.receive(conn, encode_update(client_update("last")))
    room.leave(conn)
    await asyncio.sleep(0.05)
    assert manager.loaded("s") is room  # still storing
    for _ in range(100):
        if manager.loaded("s") is None and hooks.unloaded:
            break
        await asyncio.sleep(0.01)
    assert hooks.stored and hooks.unloaded == ["s"]
    again = await manager.get_room("s")
    assert again is not room
    await manager.close()


async def test_joining_keeps_a_room_loaded() -> None:
    manager = RoomManager(Recorder(), idle_timeout=0.02)
    room = await manager.get_room("s")
    conn, _ = attach(room)
    await asyncio.sleep(0.1)
    assert manager.loaded("s") is room
    async with manager.hold("s") as held:
        room.leave(conn)
        await asyncio.sleep(0.1)
        assert held is room and manager.loaded("s") is room
    await asyncio.sleep(0.1)
    assert manager.loaded("s") is None
    await manager.close()


async def test_close_flushes_and_never_hangs_on_a_dead_store() -> None:
    hooks = Recorder()
    manager = RoomManager(hooks, close_timeout=0.2, retry_delay=0.01)
    good = await manager.get_room("good")
    ScoreEditor(good.score).post_chat("server", "keep me")
    await asyncio.sleep(0)
    hooks.fail_store = 0
    await good.flushed()
    ScoreEditor(good.score).post_chat("server", "and me")
    bad = await manager.get_room("bad")
    _conn, transport = attach(bad)
    hooks.fail_store = 10**6
    ScoreEditor(bad.score).post_chat("server", "lost")
    started = asyncio.get_running_loop().time()
    await manager.close()
    assert asyncio.get_running_loop().time() - started < 2
    assert transport.closed is not None and transport.closed[0] == 1001
    assert sorted(hooks.unloaded) == ["bad", "good"]


async def test_stale_store_abandons_the_room() -> None:
    class Reset(Recorder):
        async def store(self, room: Room, updates: Sequence[bytes]) -> None:
            raise StaleDocument()

    manager = RoomManager(Reset())
    room = await manager.get_room("s")
    conn, transport = attach(room)
    room.receive(conn, encode_update(client_update()))
    with pytest.raises(StaleDocument):
        await room.flushed()
    await settle()
    assert transport.closed is not None and transport.closed[0] == 4409
    assert manager.loaded("s") is None
    await manager.close()


async def test_hook_chain_runs_in_order_and_reports_the_first_failure() -> None:
    calls: list[str] = []

    class Named(RoomHooks):
        def __init__(self, name: str, fail: bool = False, state: bytes | None = None) -> None:
            self.name, self.fail, self.state = name, fail, state

        async def load(self, score_id: str) -> LoadedState | None:
            calls.append(f"load:{self.name}")
            return None if self.state is None else LoadedState(self.state)

        async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
            calls.append(f"change:{self.name}")
            if self.fail:
                raise RuntimeError(self.name)

    chain = HookChain(Named("a", fail=True), Named("b", state=b""), Named("c"))
    assert await chain.load("s") == LoadedState(b"")
    room = Room("s", LoadedState(b""), chain)
    with pytest.raises(RuntimeError, match="a"):
        await chain.on_change(room, frozenset())
    assert calls == ["load:a", "load:b", "change:a", "change:b", "change:c"]
    await room.stop()
