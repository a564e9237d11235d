"""Each defect measured on stock pycrdt-websocket 0.16.5 (design brief, section 3), checked
against our server over real sockets: uvicorn, the y-websocket protocol, persistence in
memory. Every test here fails on the stock behaviour it names."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from pycrdt import Doc
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from collab_server.errors import Forbidden
from collab_server.sync.hooks import LoadedState
from collab_server.sync.protocol import encode_update
from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from collab_server.sync.websocket import Access
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, serve


async def synced(*clients: YClient, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        await asyncio.gather(*(c.synced.wait() for c in clients))


def add_notes(
    client: YClient, ids: dict[str, list[str]], count: int, *, start: int = 0, lyric_size: int = 8
) -> None:
    editor = ScoreEditor(client.score, Origin.agent("test"))
    for i in range(start, start + count):
        editor.add_note(
            ids["measures"][i % len(ids["measures"])],
            ids["parts"][i % 2],
            i % 4,
            1,
            ["C4"],
            lyric=f"{i:06d}".ljust(lyric_size, "x"),
        )


async def test_a_client_dropping_its_tcp_connection_mid_broadcast_stops_nothing(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        writer, reader, *victims = [await YClient(f"{base}/s1").connect() for _ in range(6)]
        await synced(writer, reader, *victims)
        with caplog.at_level(logging.DEBUG):
            for batch in range(20):
                add_notes(writer, ids, 10, start=batch * 10)
                if batch == 5:
                    for victim in victims:
                        victim.abort()
                await asyncio.sleep(0.001)
            await wait_for(lambda: len(reader.score.notes) == 200)
            room = rooms.loaded("s1")
            assert room is not None
            await wait_for(lambda: len(room.connections) == 2)
            late = await YClient(f"{base}/s1").connect()
            await synced(late)
            assert len(late.score.notes) == 200
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        await asyncio.gather(writer.close(), reader.close(), late.close())
    await rooms.close()
    assert len((await backend.stored()).notes) == 200


async def test_ten_clients_connecting_at_once_to_an_unloaded_room_all_sync(
    backend: Backend,
) -> None:
    class SlowLoad(StoreHooks):
        async def load(self, score_id: str) -> LoadedState:
            await asyncio.sleep(0.05)  # widen the window in which they all arrive
            return await super().load(score_id)

    await backend.create_score(measures=3)
    rooms = RoomManager(SlowLoad(backend.documents))
    async with serve(make_app(rooms)) as base:
        clients = [YClient(f"{base}/s1") for _ in range(10)]
        await asyncio.gather(*(c.connect() for c in clients))
        await synced(*clients)
        assert all(len(c.score.measures) == 3 for c in clients)
        assert rooms.metrics.rooms_loaded == 1
        await asyncio.gather(*(c.close() for c in clients))
    await rooms.close()


async def test_the_last_edit_before_a_room_unloads_is_stored(backend: Backend) -> None:
    backend.log.delay = 0.2  # a slow store: the unload must wait for it
    score_ids = [f"s{i}" for i in range(10)]
    all_ids = {sid: await backend.create_score(sid) for sid in score_ids}
    rooms = RoomManager(backend.hooks, idle_timeout=0.01)
    async with serve(make_app(rooms)) as base:

        async def edit_and_leave(score_id: str) -> None:
            client = await YClient(f"{base}/{score_id}").connect()
            await synced(client)
            add_notes(client, all_ids[score_id], 1)
            await asyncio.sleep(0.01)  # the update is on the wire
            await client.close()

        await asyncio.gather(*(edit_and_leave(sid) for sid in score_ids))
        await wait_for(lambda: rooms.metrics.rooms_unloaded == len(score_ids), timeout=10)
        assert not rooms.rooms
    backend.log.delay = 0
    for score_id in score_ids:
        assert len((await backend.stored(score_id)).notes) == 1, score_id
    await rooms.close()


async def test_one_presence_change_costs_n_frames_not_n_squared(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    n = 12
    async with serve(make_app(rooms)) as base:
        # y-websocket clients re-send every presence state they learn (echo_awareness).
        clients = [
            await YClient(f"{base}/s1", presence={"user": {"name": f"c{i}"}}).connect()
            for i in range(n)
        ]
        await synced(*clients)
        await wait_for(lambda: all(len(c.presence) == n - 1 for c in clients))
        await asyncio.sleep(0.2)
        before = sum(c.frames["awareness"] for c in clients)
        relayed = rooms.metrics.awareness_relayed
        await clients[0].set_presence({"user": {"name": "c0"}, "cursor": 42})
        await wait_for(
            lambda: all(
                c.presence.get(clients[0].client_id, {}).get("cursor") == 42 for c in clients[1:]
            )
        )
        await asyncio.sleep(0.3)  # let every echo come back and be dropped
        frames = sum(c.frames["awareness"] for c in clients) - before
        assert frames == n  # one frame per client (the sender's keeps y-websocket's watchdog fed)
        assert rooms.metrics.awareness_relayed - relayed == 1
        await asyncio.gather(*(c.close() for c in clients))
    await rooms.close()


async def test_newcomers_get_the_presence_already_there_right_after_step1(backend: Backend) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        present = [
            await YClient(
                f"{base}/s1", presence={"user": {"name": f"p{i}"}}, echo_awareness=False
            ).connect()
            for i in range(3)
        ]
        await synced(*present)
        await wait_for(lambda: all(len(c.presence) == 2 for c in present))
        newcomer = YClient(f"{base}/s1")
        kinds: list[bytes] = []
        newcomer.on_frame = lambda frame: kinds.append(frame[:2] if frame[0] == 0 else frame[:1])
        await newcomer.connect()
        await wait_for(lambda: len(newcomer.presence) == 3)
        assert {s["user"]["name"] for s in newcomer.presence.values()} == {"p0", "p1", "p2"}
        assert kinds[:2] == [b"\x00\x00", b"\x01"]  # sync step 1, then everyone's presence
        await asyncio.gather(*(c.close() for c in [*present, newcomer]))
    await rooms.close()


async def test_an_abrupt_disconnect_removes_its_presence_for_everyone_at_once(
    backend: Backend,
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        clients = [
            await YClient(f"{base}/s1", presence={"user": {"name": f"c{i}"}}).connect()
            for i in range(4)
        ]
        await synced(*clients)
        await wait_for(lambda: all(len(c.presence) == 3 for c in clients))
        gone = clients.pop()
        started = time.monotonic()
        gone.abort()
        await wait_for(lambda: all(gone.client_id not in c.presence for c in clients), timeout=3)
        assert time.monotonic() - started < 1  # not the 30 s awareness timeout
        room = rooms.loaded("s1")
        assert room is not None and gone.client_id not in room.presence
        await asyncio.gather(*(c.close() for c in clients))
    await rooms.close()


async def test_a_client_that_never_reads_is_cut_off_and_costs_bounded_memory(
    backend: Backend,
) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks)
    queue_bytes = 256 * 1024
    app = make_app(rooms, send_queue_frames=64, send_queue_bytes=queue_bytes, close_timeout=3)
    async with serve(app) as base:
        slow = await YClient(f"{base}/s1", rcvbuf=4096, max_queue=1).connect(read=False)
        writer, reader = [await YClient(f"{base}/s1").connect() for _ in range(2)]
        await synced(writer, reader)
        peak = 0
        started = time.monotonic()
        for batch in range(300):  # ~3 MB of updates, far more than socket buffers hold
            add_notes(writer, ids, 10, start=batch * 10, lyric_size=1000)
            await asyncio.sleep(0.002)
            peak = max(peak, rooms.gauges()["send_queue_bytes"])
        await wait_for(lambda: len(reader.score.notes) == 3000, timeout=20)
        elapsed = time.monotonic() - started
        assert rooms.metrics.slow_client_disconnects == 1
        assert peak <= 2 * (queue_bytes + 64 * 1024)  # reader and slow client, bounded
        assert elapsed < 10
        slow.start_reading()  # it wakes up: it finds the slow-client close code
        assert await slow.wait_closed() == 1013
        await asyncio.gather(writer.close(), reader.close())
    await rooms.close()


async def test_a_normal_disconnect_logs_one_line_and_no_traceback(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms)) as base:
        with caplog.at_level(logging.DEBUG):
            a, b = [await YClient(f"{base}/s1", presence={"user": {}}).connect() for _ in range(2)]
            await synced(a, b)
            await a.close()
            b.abort()
            await wait_for(lambda: rooms.metrics.connections_closed == 2)
    await rooms.close()
    ours = [r for r in caplog.records if r.name.startswith("orpheus")]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in ours if r.getMessage() == "client left"] == ["client left"] * 2


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x00\x02\xff", 4400),  # truncated varint
        (b"\x07\x00", 4400),  # unknown message type
        (encode_update(b"\x01\x02\x03\x04\x05"), 4400),  # garbage update bytes
        (b"\x00\x02\xff\xff\xff\xff\x0f", 4400),  # enormous declared length
        ("text frame", 4400),
        (b"\x00\x02" + b"\x80\x80\x04" + bytes(65536), 1009),  # over max_message_bytes
    ],
)
async def test_malformed_messages_close_only_their_sender(
    backend: Backend, frame: bytes | str, code: int
) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks)
    async with serve(make_app(rooms, max_message_bytes=32 * 1024)) as base:
        bystander, writer = [await YClient(f"{base}/s1").connect() for _ in range(2)]
        bad = await YClient(f"{base}/s1").connect()
        await synced(bystander, writer, bad)
        await bad.send_raw(frame)
        assert await bad.wait_closed() == code
        add_notes(writer, ids, 1)
        await wait_for(lambda: len(bystander.score.notes) == 1)
        assert len((await backend.stored()).notes) == 1  # nothing from the bad frame
        assert rooms.metrics.protocol_violations == (1 if code == 4400 else 0)
        await asyncio.gather(bystander.close(), writer.close())
    await rooms.close()


async def test_read_only_clients_cannot_edit_but_see_every_edit(backend: Backend) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks)

    async def authenticate(websocket: WebSocket, score_id: str) -> Access:
        return Access(read_only=websocket.query_params.get("mode") == "view")

    async with serve(make_app(rooms, authenticate=authenticate)) as base:
        viewer = await YClient(f"{base}/s1?mode=view").connect()
        editor = await YClient(f"{base}/s1").connect()
        await synced(viewer, editor)
        add_notes(viewer, ids, 3, start=100)
        add_notes(editor, ids, 2)
        await wait_for(lambda: len(viewer.score.notes) == 5)  # its own 3 + the editor's 2
        await asyncio.sleep(0.1)
        assert len(editor.score.notes) == 2
        assert viewer.permission_denied == ["read-only access"]
        assert rooms.metrics.readonly_refused == 3
        assert len((await backend.stored()).notes) == 2
        await asyncio.gather(viewer.close(), editor.close())
    await rooms.close()


async def test_clients_holding_an_older_epoch_are_told_to_reload(backend: Backend) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks, idle_timeout=0.05)
    async with serve(make_app(rooms)) as base:
        old = await YClient(f"{base}/s1").connect()
        await synced(old)
        add_notes(old, ids, 2)
        room = rooms.loaded("s1")
        assert room is not None
        await wait_for(lambda: len(room.score.notes) == 2)
        await room.flushed()
        restored = ScoreDoc(Doc())
        ScoreEditor(restored, Origin.server("restore")).create_score(title="v1", measures=1)
        state = restored.encode_state()
        epoch = await rooms.restore("s1", state, lambda: backend.documents.reset("s1", state))
        assert await old.wait_closed() == 4409
        # Coming back with the old copy is refused, before and after the room reloads.
        again = await YClient(f"{base}/s1", score=old.score).connect()
        assert await again.wait_closed() == 4409
        await wait_for(lambda: rooms.loaded("s1") is None)
        again = await YClient(f"{base}/s1", score=old.score).connect()
        assert await again.wait_closed() == 4409
        assert rooms.metrics.stale_rejections == 2
        fresh = await YClient(f"{base}/s1").connect()
        await synced(fresh)
        assert fresh.score.raw_notes() == {} and len(fresh.score.measures) == 1
        room = rooms.loaded("s1")
        assert room is not None and room.epoch == epoch
        await fresh.close()
    await rooms.close()
    assert (await backend.stored()).raw_notes() == {}


async def test_a_store_outage_delays_broadcast_and_loses_nothing(backend: Backend) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks, retry_delay=0.02, max_retry_delay=0.1)
    async with serve(make_app(rooms)) as base:
        writer, reader = [await YClient(f"{base}/s1").connect() for _ in range(2)]
        await synced(writer, reader)
        backend.log.failing = True
        for i in range(20):
            add_notes(writer, ids, 1, start=i)
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
        assert reader.received_updates == 0  # not durable, so not broadcast
        assert rooms.rooms_failing_to_store() == ["s1"]
        late = await YClient(f"{base}/s1").connect()  # joining still works meanwhile
        await synced(late)
        backend.log.failing = False
        await wait_for(lambda: len(reader.score.notes) == 20)
        assert rooms.rooms_failing_to_store() == []
        assert rooms.metrics.store_failures >= 2 and backend.log.failures >= 2
        await asyncio.gather(writer.close(), reader.close(), late.close())
    await rooms.close()
    assert len((await backend.stored()).notes) == 20


@pytest.mark.parametrize(
    "path, error, code",
    [
        ("/nope", None, 4404),
        ("/s1", Forbidden(), 4403),
        ("/s1", RuntimeError("bug"), 1011),
    ],
)
async def test_refusals_close_the_socket_with_a_code_never_http_500(
    backend: Backend, path: str, error: Exception | None, code: int
) -> None:
    await backend.create_score()
    rooms = RoomManager(backend.hooks)

    async def authenticate(websocket: WebSocket, score_id: str) -> Access:
        if error is not None:
            raise error
        return Access()

    async with (
        serve(make_app(rooms, authenticate=authenticate)) as base,
        connect(base + path) as ws,
    ):
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == code
    assert rooms.loaded("s1") is None
    await rooms.close()


async def test_shutdown_with_live_clients_and_a_dead_store_does_not_hang(backend: Backend) -> None:
    ids = await backend.create_score()
    rooms = RoomManager(backend.hooks, close_timeout=0.5, retry_delay=0.02)
    clients: list[Any] = []
    started = 0.0
    async with serve(make_app(rooms)) as base:
        clients = [await YClient(f"{base}/s1").connect() for _ in range(5)]
        await synced(*clients)
        backend.log.failing = True
        add_notes(clients[0], ids, 1)
        await wait_for(lambda: rooms.metrics.store_failures > 0)
        started = time.monotonic()
    await rooms.close()
    assert time.monotonic() - started < 5
    assert {await c.wait_closed() for c in clients} <= {1012, 1001}
