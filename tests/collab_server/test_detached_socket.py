"""A joined connection served by a DetachedSocket (collab_server/sync/detached_socket.py)
under a real uvicorn server: uvicorn's protocol object is let go, RFC 6455 is still kept
(control frames, the close handshake either way, protocol errors closed with their codes,
keepalive, server shutdown), and the room sees the same messages and ends."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
from typing import Any

import pytest
from pycrdt import Doc, Map, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask

from collab_server.errors import ProtocolViolation
from collab_server.sync.detached_socket import DetachedSocket, Keepalive
from collab_server.sync.protocol import encode_sync_step1, encode_update
from collab_server.sync.rooms import RoomManager
from collab_server.sync.ws_protocol import ScoreWebSocketProtocol, _between_frames
from tests.collab_server.clients import wait_for
from tests.collab_server.harness import Backend, make_app, run_uvicorn, serve
from tests.collab_server.test_ws_protocol import close_code


def raw_frame(first: int, payload: bytes, *, masked: bool = True) -> bytes:
    """A client frame with the given first byte (FIN, RSV bits and opcode)."""
    assert len(payload) < 126
    if not masked:
        return bytes((first, len(payload))) + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((first, 0x80 | len(payload))) + key + body


def sockets_of(rooms: RoomManager, score_id: str) -> list[Any]:
    room = rooms.loaded(score_id)
    assert room is not None
    return [conn._transport for conn in room.connections]


async def test_a_joined_connection_is_served_by_a_detached_socket(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)

    def protocols() -> int:
        return sum(type(o) is ScoreWebSocketProtocol for o in gc.get_objects())

    gc.collect()
    before = protocols()
    gc.disable()  # what is let go is freed at once, not by the cyclic collector
    try:
        async with serve(make_app(rooms)) as base, connect(f"{base}/s1", compression=None) as ws:
            await ws.recv()
            [socket] = sockets_of(rooms, "s1")
            assert isinstance(socket, DetachedSocket)
            assert not hasattr(socket, "__dict__")  # slots only
            assert protocols() == before
    finally:
        gc.enable()
    async with serve(make_app(rooms)) as base, connect(f"{base}/s1", compression=None) as ws:
        await ws.recv()
        doc = Doc()
        doc["title"] = title = Text()
        title += "after the hand-over"
        await ws.send(encode_update(doc.get_update()))
        await ws.send([b"\x00\x00", b"\x01\x00"])  # sync step 1 (empty) in two fragments
        reply = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(reply, bytes) and b"after the hand-over" in reply
        await asyncio.wait_for(ws.ping(b"are you there"), 5)
    await rooms.close()


async def test_the_peer_s_close_is_answered_and_ends_the_connection(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        ws = await connect(f"{base}/s1", compression=None)
        await ws.recv()
        await ws.close(4000, "bye")
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4000
        await wait_for(lambda: rooms.metrics.connections_closed == 1)
        room = rooms.loaded("s1")
        assert room is not None and not room.connections
    await rooms.close()


async def test_a_close_from_the_server_completes_when_the_peer_answers(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base, connect(f"{base}/s1", compression=None) as ws:
        await ws.recv()
        room = rooms.loaded("s1")
        assert room is not None
        [conn] = room.connections
        room.disconnect(conn, code=4409)
        assert await close_code(ws) == 4409
        await wait_for(lambda: rooms.metrics.connections_closed == 1)
    await rooms.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (raw_frame(0x82, b"\x00\x00\x00", masked=False), 1002),  # a client frame unmasked
        (raw_frame(0xC2, b"\x00\x00\x00"), 1002),  # RSV1 without an extension
        (raw_frame(0x80, b"\x00"), 1002),  # a continuation with nothing to continue
        (raw_frame(0x83, b"\x00"), 1002),  # a reserved opcode
        (raw_frame(0x09, b"ping"), 1002),  # a fragmented control frame
        (raw_frame(0x88, b"\x03\xe7"), 1002),  # close code 999
        (raw_frame(0x88, b"\x03"), 1002),  # a one-byte close body
        (raw_frame(0x81, b"\xff\xfe"), 1007),  # text that is not UTF-8
    ],
)
async def test_protocol_errors_close_with_their_code_and_the_room_goes_on(
    backend: Backend, frame: bytes, code: int
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        async with connect(f"{base}/s1", compression=None) as ws:
            await ws.recv()
            ws.transport.write(frame)
            assert await close_code(ws) == code
        await wait_for(lambda: rooms.metrics.connections_closed == 1)
        async with connect(f"{base}/s1", compression=None) as other:
            await asyncio.wait_for(other.recv(), 5)
    await rooms.close()


async def test_a_message_over_the_size_limit_closes_1009(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    app = make_app(rooms)
    async with run_uvicorn(app, ws_ping_interval=None, ws_max_size=1000) as port:
        url = f"ws://127.0.0.1:{port}/ws/scores/s1"
        async with connect(url, compression=None, max_size=None) as ws:
            await ws.recv()
            await ws.send(encode_sync_step1(b"\x00"))
            await ws.recv()
            await ws.send([b"\x00" * 600, b"\x00" * 600])  # too big only once joined
            assert await close_code(ws) == 1009
    await rooms.close()


async def handshake(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def read_frames(reader: asyncio.StreamReader, seconds: float) -> list[tuple[int, bytes]]:
    """Server frames (opcode, payload) until the socket closes or ``seconds`` pass."""
    frames: list[tuple[int, bytes]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                head = await reader.readexactly(2)
                length = head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                frames.append((head[0] & 0x0F, await reader.readexactly(length)))
    except (TimeoutError, asyncio.IncompleteReadError):
        pass
    return frames


async def test_keepalive_pings_and_closes_a_peer_that_never_answers(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    app = make_app(rooms)
    async with run_uvicorn(app, ws_ping_interval=0.2, ws_ping_timeout=0.2) as port:
        url = f"ws://127.0.0.1:{port}/ws/scores/s1"
        async with connect(url, compression=None, ping_interval=None) as answering:
            await answering.recv()
            reader, writer = await handshake(port, "/ws/scores/s1")  # answers nothing
            frames = await read_frames(reader, 5)
            writer.close()
            pings = [f for f in frames if f[0] == Opcode.PING]
            closes = [f for f in frames if f[0] == Opcode.CLOSE]
            assert pings and closes and int.from_bytes(closes[0][1][:2], "big") == 1011
            await asyncio.sleep(0.5)  # the answering client (websockets pongs) stays
            await answering.send(encode_sync_step1(b"\x00"))
            assert isinstance(await asyncio.wait_for(answering.recv(), 5), bytes)
    await rooms.close()


async def test_server_shutdown_closes_detached_connections_with_1012(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    clients: list[ClientConnection] = []
    async with serve(make_app(rooms)) as base:
        for _ in range(3):
            clients.append(await connect(f"{base}/s1", compression=None))
            await clients[-1].recv()
    # uvicorn has stopped: each connection was told why
    for client in clients:
        await asyncio.wait_for(client.wait_closed(), 5)
        assert client.close_code == 1012
    await wait_for(lambda: rooms.metrics.connections_closed == 3)
    await rooms.close()


async def test_a_writer_under_back_pressure_waits_for_the_socket() -> None:
    rooms = RoomManager()
    app = make_app(rooms, send_queue_frames=100_000, send_queue_bytes=1 << 30)
    async with serve(app) as base, connect(f"{base}/s", compression=None, max_queue=None) as ws:
        await ws.recv()
        room = rooms.loaded("s")
        assert room is not None
        [conn] = room.connections
        ws.transport.pause_reading()  # stop reading: the server's socket fills up
        payload = b"\x00\x02" + b"x" * 60_000
        for _ in range(200):
            conn.send(payload)
        await asyncio.sleep(0.2)
        assert conn.queued_frames > 0  # waiting in the writer, not dropped
        ws.transport.resume_reading()
        received = 0
        async with asyncio.timeout(20):
            while received < 200:
                if await ws.recv() == payload:
                    received += 1
    await rooms.close()


def test_the_parser_is_between_frames_only_with_nothing_of_the_next() -> None:
    protocol = ServerProtocol()
    key = base64.b64encode(os.urandom(16))
    protocol.receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    [request] = protocol.events_received()
    protocol.send_response(protocol.accept(request))
    assert _between_frames(protocol)
    frame = Frame(Opcode.BINARY, b"hello").serialize(mask=True, extensions=[])
    protocol.receive_data(frame[:1])
    assert not _between_frames(protocol)  # one byte of a header
    protocol.receive_data(frame[1:3])
    assert not _between_frames(protocol)  # a header read, its payload not
    protocol.receive_data(frame[3:])
    assert [e.data for e in protocol.events_received()] == [b"hello"]
    assert _between_frames(protocol)


async def test_keepalive_sweeps_only_while_it_has_sockets() -> None:
    loop = asyncio.get_running_loop()
    keepalive = Keepalive(loop, 0.05, 0.05)
    assert keepalive._handle is None and len(keepalive) == 0

    class Pinged:
        count = 0

        def ping(self, *, answer_due: bool = True) -> bool:
            self.count += 1
            return self.count < 3  # "unanswered" on the third round

    socket: Any = Pinged()
    keepalive.add(socket)
    await wait_for(lambda: socket.count == 3)
    await asyncio.sleep(0.1)
    assert socket.count == 3 and len(keepalive) == 0 and keepalive._handle is None


def masked_frame(payload: bytes, first: int = 0x82) -> bytes:
    """A masked client frame of any length."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + key + apply_mask(payload, key)


def note_edits(count: int) -> tuple[list[bytes], list[str]]:
    """``count`` updates of one client, each setting a note; the last one sets the first
    note again (it depends on the first update's item)."""
    doc: Doc = Doc()
    notes = doc.get("notes", type=Map)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    names = [f"n_{i:012x}" for i in range(count - 1)]
    for i, name in enumerate(names):
        notes[name] = {"measure": "m", "part": "p", "onset": str(i), "duration": "1"}
    notes[names[0]] = {"measure": "m", "part": "p", "onset": "0", "duration": "2"}
    return [encode_update(update) for update in updates], names


async def joined(rooms: RoomManager, base: str) -> tuple[ClientConnection, Any]:
    ws = await connect(f"{base}/s1", compression=None)
    await ws.recv()
    room = rooms.loaded("s1")
    assert room is not None
    return ws, room


async def test_a_read_s_updates_are_applied_in_one_transaction(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        ws, room = await joined(rooms, base)
        transactions: list[bytes] = []
        room.score.doc.observe(lambda event: transactions.append(event.update))
        frames, names = note_edits(12)
        step1 = b"\x00\x00\x01\x00"  # sync step 1 (empty state vector): sees the run applied
        ws.transport.write(b"".join(masked_frame(f) for f in [*frames, step1]))  # one read
        reply = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(reply, bytes) and reply[:2] == b"\x00\x01"
        assert all(name.encode() in reply for name in names)
        assert room.metrics.updates_in == len(frames)
        assert len(transactions) == 1  # one transaction, not one per update
        notes = room.score.notes.to_py()
        assert set(names) <= set(notes)
        assert notes[names[0]]["duration"] == "2"  # the later edit of the same note won
        await ws.close()
    stored = await backend.stored()
    assert set(names) <= set(stored.notes.to_py())
    await rooms.close()


async def test_a_bad_update_in_a_read_keeps_those_before_it_and_none_after(
    backend: Backend,
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        ws, room = await joined(rooms, base)
        frames, names = note_edits(6)
        garbage = b"\x00\x02\x05\x01\xff\xff\xff"  # a sync update that is not an update
        ws.transport.write(b"".join(masked_frame(f) for f in [*frames[:3], garbage, *frames[3:]]))
        assert await close_code(ws) == ProtocolViolation.close_code
        notes = room.score.notes.to_py()
        assert set(names[:3]) <= set(notes)
        assert not set(names[3:]) & set(notes)
        # the cached state vector was not left claiming what was never applied
        later = Doc()
        later.get("notes", type=Map)["x"] = {"measure": "m", "part": "p", "onset": "0"}
        async with connect(f"{base}/s1", compression=None) as other:
            await other.recv()
            await other.send(encode_update(later.get_update()))
            await wait_for(lambda: "x" in room.score.notes.to_py())
    await rooms.close()


async def test_updates_before_a_close_in_the_same_read_are_applied(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        ws, room = await joined(rooms, base)
        frames, names = note_edits(5)
        close = masked_frame((1000).to_bytes(2, "big") + b"bye", first=0x88)
        ws.transport.write(b"".join(masked_frame(f) for f in frames) + close)
        assert await close_code(ws) == 1000
        await wait_for(lambda: rooms.metrics.connections_closed == 1)
        assert set(names) <= set(room.score.notes.to_py())
    await rooms.close()
