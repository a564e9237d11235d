"""Messages handed to the room from the socket's callback
(collab_server/sync/ws_protocol.py), under a real uvicorn server: no task per message,
the event loop shared between connections, control and fragmented frames as before, and
a bad message closing its sender before anything behind it is applied."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from collab_server.sync.connection import Connection
from collab_server.sync.protocol import (
    AwarenessEntry,
    encode_awareness,
    encode_sync_step1,
    encode_update,
)
from collab_server.sync.room import Room
from collab_server.sync.rooms import RoomManager
from collab_server.sync.ws_protocol import WS_PROTOCOL, _Flag, _Messages
from tests.collab_server.clients import wait_for
from tests.collab_server.harness import Backend, make_app, serve


def presence(client: int, clock: int) -> bytes:
    return encode_awareness([AwarenessEntry(client, clock, '{"cursor":1}')])


def at_once(ws: ClientConnection, messages: list[bytes]) -> None:
    """Write ``messages`` as masked binary frames in one write (one TCP send)."""
    frames = [Frame(Opcode.BINARY, m).serialize(mask=True, extensions=[]) for m in messages]
    ws.transport.write(b"".join(frames))


async def close_code(ws: ClientConnection) -> int | None:
    """Read until the server closes ``ws``; the close code it sent."""
    try:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_a_flood_in_one_read_is_taken_without_tasks_in_slices() -> None:
    rooms, ticks = RoomManager(), [0]
    seen: list[tuple[int, bool]] = []  # (ticks, inside a task) at each frame

    def record(room: Room, conn: Connection, data: bytes) -> None:
        seen.append((ticks[0], asyncio.current_task() is not None))

    async def other_work() -> None:
        while True:
            await asyncio.sleep(0)
            ticks[0] += 1

    app = make_app(rooms, frame_guard=record, slice_frames=32, slice_seconds=1.0)
    worker = asyncio.get_running_loop().create_task(other_work())
    try:
        async with serve(app) as base, connect(f"{base}/s", compression=None) as ws:
            await ws.recv()  # the server's sync step 1: the room has us
            at_once(ws, [presence(9, clock) for clock in range(1, 1001)])
            async with asyncio.timeout(10):
                while len(seen) < 1000:
                    await asyncio.sleep(0.01)
    finally:
        worker.cancel()
        await rooms.close()
    assert not any(in_task for _, in_task in seen)  # straight from the socket's callback
    progress = [seen[index][0] for index in range(32, 1000, 32)]
    assert all(later > earlier for earlier, later in itertools.pairwise(progress))


async def test_fragmented_messages_pings_and_updates_work_as_before(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base, connect(f"{base}/s1", compression=None) as ws:
        await ws.recv()
        doc = Doc()
        doc["title"] = title = Text()
        title += "fragments"
        update = encode_update(doc.get_update())
        await ws.send([update[:3], update[3:10], update[10:]])  # one message in three frames
        await asyncio.wait_for(ws.ping(), 5)  # answered from the same callback path
        await ws.send(encode_sync_step1(b"\x00"))  # our state: nothing
        reply = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(reply, bytes) and b"fragments" in reply
        room = rooms.loaded("s1")
        assert room is not None and "fragments" in str(room.score.doc.get("title", type=Text))
    await rooms.close()


@pytest.mark.parametrize("ws", [WS_PROTOCOL, "websockets-sansio"])  # and through the queue
async def test_a_bad_message_closes_its_sender_before_what_follows_it_applies(
    backend: Backend, ws: str
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    doc = Doc()
    doc["title"] = title = Text()
    title += "never"
    closed: list[Any] = []
    async with serve(make_app(rooms), ws=ws) as base:
        async with connect(f"{base}/s1", compression=None) as client:
            await client.recv()
            at_once(client, [b"\xff\xff\xff", encode_update(doc.get_update())])
            closed.append(await close_code(client))
        async with connect(f"{base}/s1", compression=None) as other:  # the room goes on
            await asyncio.wait_for(other.recv(), 5)
        room = rooms.loaded("s1")
        assert room is not None and "never" not in str(room.score.doc.get("title", type=Text))
    assert closed == [4400]
    await rooms.close()


async def test_a_text_message_closes_its_sender() -> None:
    rooms = RoomManager()
    async with serve(make_app(rooms)) as base, connect(f"{base}/s", compression=None) as ws:
        await ws.recv()
        await ws.send("hello")
        assert await close_code(ws) == 4400
    await rooms.close()


async def test_the_lean_queue_and_flag_behave_as_asyncio_s() -> None:
    messages = _Messages()
    assert messages.empty() and messages.qsize() == 0
    waiting = asyncio.get_running_loop().create_task(messages.get())
    await asyncio.sleep(0)
    messages.put_nowait(1)
    messages.put_nowait(2)
    assert await waiting == 1 and messages.qsize() == 1
    assert await messages.get() == 2 and messages.empty()

    flag = _Flag()
    assert not flag.is_set()
    waiters = [asyncio.get_running_loop().create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    flag.clear()
    cancelled = asyncio.get_running_loop().create_task(flag.wait())
    await asyncio.sleep(0)
    cancelled.cancel()  # a cancelled waiter leaves nothing behind
    await asyncio.gather(cancelled, return_exceptions=True)
    assert not flag._waiters


def endpoint_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "run_asgi" in repr(t.get_coro())]


async def test_a_joined_connection_holds_no_task_and_its_end_leaves_the_room(
    backend: Backend,
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        clients = [await connect(f"{base}/s1", compression=None) for _ in range(20)]
        for client in clients:
            await asyncio.wait_for(client.recv(), 5)
        room = rooms.loaded("s1")
        assert room is not None and len(room.connections) == 20
        assert endpoint_tasks() == []  # the endpoint returned; the connections live on
        for client in clients[:10]:
            await client.close()
        await wait_for(lambda: len(room.connections) == 10)
        await wait_for(lambda: rooms.metrics.connections_closed == 10)
        survivor = clients[10]
        await survivor.send(encode_sync_step1(b"\x00"))  # the others still work
        assert isinstance(await asyncio.wait_for(survivor.recv(), 5), bytes)
        await rooms.close()  # the server ends them: each gets its close frame
        codes = []
        for client in clients[10:]:
            await asyncio.wait_for(client.wait_closed(), 5)
            codes.append(client.close_code)
        assert set(codes) <= {1001, 1012} and codes
        await wait_for(lambda: rooms.metrics.connections_closed == 20)
