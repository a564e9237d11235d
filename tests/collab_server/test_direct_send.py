"""Frames written straight to uvicorn's socket (collab_server/sync/direct_send.py): no
writer task while the socket takes them, the writer task and its queue under
back-pressure, and the order of frames kept across the two paths."""

from __future__ import annotations

import asyncio

from collab_server.sync.connection import Connection
from collab_server.sync.direct_send import UNCORKED_BYTES, cork_of
from collab_server.sync.rooms import RoomManager
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, serve

NOTES = 3000


class Recorder:
    """A transport that records what the writer task sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass


async def test_frames_go_direct_without_a_task_and_keep_their_order_when_paused() -> None:
    transport, direct_out = Recorder(), []
    socket_free = True

    def direct(frame: bytes) -> bool:
        if socket_free:
            direct_out.append(frame)
        return socket_free

    conn = Connection(transport, direct=direct)
    conn.start()
    assert conn.send(b"1") and conn.send(b"2")
    assert direct_out == [b"1", b"2"] and conn._writer is None  # idle: no task held

    socket_free = False  # back-pressure: frames queue and the writer task takes over
    assert conn.send(b"3")
    socket_free = True
    assert conn.send(b"4")  # queued behind 3, not sent ahead of it
    assert direct_out == [b"1", b"2"] and conn.queued_frames == 2
    await wait_for(lambda: transport.sent == [b"3", b"4"])
    assert conn.send(b"5")  # the queue is empty again: direct
    assert direct_out[-1] == b"5"

    conn.close(code=1000)
    await conn.wait_closed()


async def test_a_failing_direct_send_drops_the_connection_not_the_room() -> None:
    def broken(frame: bytes) -> bool:
        raise ConnectionResetError("peer gone")

    conn = Connection(Recorder(), direct=broken)
    conn.start()
    assert conn.send(b"x") is False
    assert conn.closing


async def test_clients_of_uvicorn_get_every_frame_direct_and_a_paused_one_catches_up(
    backend: Backend,
) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks)
    app = make_app(rooms, send_queue_frames=100_000, send_queue_bytes=64 << 20)
    async with serve(app) as base:
        slow = await YClient(f"{base}/s1", rcvbuf=4096, max_queue=1).connect(read=False)
        writer, reader = [await YClient(f"{base}/s1").connect() for _ in range(2)]
        async with asyncio.timeout(5):
            await asyncio.gather(writer.synced.wait(), reader.synced.wait())
        room = rooms.loaded("s1")
        assert room is not None
        editor = ScoreEditor(writer.score, Origin.agent("test"))
        for i in range(NOTES):  # ~3 MB: more than the paused client's socket buffers hold
            editor.add_note(ids["measures"][0], ids["parts"][0], i % 4, 1, ["C4"], lyric="x" * 1000)
            if i % 10 == 9:
                await asyncio.sleep(0.001)
        await wait_for(lambda: len(reader.score.notes) == NOTES, timeout=10)
        by_id = {c.id: c for c in room.connections}
        assert len(by_id) == 3
        paused = [c for c in by_id.values() if c._writer is not None]
        assert len(paused) == 1  # only the client that stopped reading needed a task
        slow.start_reading()
        await wait_for(lambda: len(slow.score.notes) == NOTES, timeout=10)
        assert slow.score.doc.get_state() == reader.score.doc.get_state()
        await asyncio.gather(writer.close(), reader.close(), slow.close())
    await rooms.close()


class Socket:
    """A transport that records each write (one write is one ``send`` system call)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing


async def test_a_turns_frames_after_the_first_reach_each_socket_in_one_write_in_order() -> None:
    cork = cork_of(asyncio.get_running_loop())
    assert cork is cork_of(asyncio.get_running_loop())  # one per loop
    a, b, gone = Socket(), Socket(), Socket()
    for i in range(5):
        cork.write(a, b"a%d" % i)  # type: ignore[arg-type]
        cork.write(b, b"b%d" % i)  # type: ignore[arg-type]
    cork.write(gone, b"first")  # type: ignore[arg-type]
    cork.write(gone, b"late")  # type: ignore[arg-type]
    gone.closing = True  # closed later in the same turn: nothing follows its close
    assert a.writes == [b"a0"] and b.writes == [b"b0"]  # the first at once
    await asyncio.sleep(0)
    assert a.writes == [b"a0", b"a1a2a3a4"] and b.writes == [b"b0", b"b1b2b3b4"]
    assert gone.writes == [b"first"]
    cork.write(a, b"next")  # type: ignore[arg-type]  # a new turn: at once again
    assert a.writes[-1] == b"next"
    await asyncio.sleep(0)
    assert len(a.writes) == 3


def test_each_event_loop_has_its_own_cork() -> None:
    """A loop that ends with frames still corked does not hold up the next loop's."""
    first = asyncio.new_event_loop()
    stuck = Socket()
    for data in (b"at once", b"never flushed"):
        cork_of(first).write(stuck, data)  # type: ignore[arg-type]
    first.close()
    second, sock = asyncio.new_event_loop(), Socket()

    async def turn() -> None:
        cork_of(asyncio.get_running_loop()).write(sock, b"x")  # type: ignore[arg-type]
        await asyncio.sleep(0)

    try:
        second.run_until_complete(turn())
    finally:
        second.close()
    assert sock.writes == [b"x"]


async def test_a_large_frame_goes_out_at_once_after_what_waits_for_its_socket() -> None:
    cork, sock = cork_of(asyncio.get_running_loop()), Socket()
    for data in (b"first", b"small", b"S" * UNCORKED_BYTES, b"after"):
        cork.write(sock, data)  # type: ignore[arg-type]
    assert sock.writes == [b"first", b"small", b"S" * UNCORKED_BYTES]
    await asyncio.sleep(0)
    assert sock.writes[-1] == b"after" and len(sock.writes) == 4
