"""Floods: presence and control messages are rate-limited per connection (4429), a
viewer's refused updates count against its update limit, a room relays presence at most
once per interval, and one connection's frames cannot hold the event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from bench.flood import Setup, flooder_result, measure_edits, percentile, start_flooder
from bench.fuzz_protocol import flood_cases
from collab_server.errors import RateLimited
from collab_server.security.limits import FrameGuard
from collab_server.sync.connection import Connection
from collab_server.sync.hooks import LoadedState
from collab_server.sync.protocol import (
    AwarenessEntry,
    encode_awareness,
    encode_query_awareness,
    encode_sync_step1,
    encode_update,
)
from collab_server.sync.room import Room
from collab_server.sync.rooms import RoomManager
from collab_server.sync.websocket import ScoreWebSocket
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient
from tests.collab_server.security_helpers import bearer, live_server, settings_for


class Recorder:
    """A transport that keeps what it is sent."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: int | None = None

    async def send_bytes(self, data: bytes) -> None:
        self.frames.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def presence(client: int, clock: int) -> bytes:
    return encode_awareness([AwarenessEntry(client, clock, '{"cursor":1}')])


async def test_presence_and_control_messages_are_limited_per_connection() -> None:
    clock = Clock()
    guard = FrameGuard(
        update_rate=0,
        update_burst=0,
        max_document_bytes=0,
        awareness_rate=10,
        awareness_burst=5,
        clock=clock,
    )
    one, other = Connection(Recorder()), Connection(Recorder())
    frames = [
        presence(1, 1),
        encode_sync_step1(b"\x00"),
        encode_query_awareness(),
        presence(1, 2),
        presence(1, 3),
    ]
    for frame in frames:  # the burst, whatever the kind of message
        guard(None, one, frame)  # type: ignore[arg-type]
    with pytest.raises(RateLimited) as refused:
        guard(None, one, presence(1, 4))  # type: ignore[arg-type]
    assert refused.value.close_code == 4429
    guard(None, other, presence(2, 1))  # type: ignore[arg-type]  # its own bucket
    clock.now += 0.1  # one token back at 10 per second
    guard(None, one, presence(1, 5))  # type: ignore[arg-type]
    with pytest.raises(RateLimited):
        guard(None, one, presence(1, 6))  # type: ignore[arg-type]
    # document updates are not charged to the presence bucket
    guard(None, one, encode_update(b"\x00\x00"))  # type: ignore[arg-type]


async def test_a_viewers_refused_updates_take_from_its_update_bucket() -> None:
    guard = FrameGuard(update_rate=1, update_burst=3, max_document_bytes=1, clock=Clock())
    viewer = Connection(Recorder(), read_only=True)
    for _ in range(3):  # no document size check: the room refuses them anyway
        guard(None, viewer, encode_update(b"\x00\x00"))  # type: ignore[arg-type]
    with pytest.raises(RateLimited):
        guard(None, viewer, encode_update(b"\x00\x00"))  # type: ignore[arg-type]


async def test_a_room_relays_presence_at_most_once_per_interval() -> None:
    room = Room("s", LoadedState(b""), presence_interval=0.2)
    sender, watcher = Recorder(), Recorder()
    one, two = Connection(sender), Connection(watcher)
    room.join(one)
    room.join(two)
    try:
        await asyncio.sleep(0.01)
        joined = len(watcher.frames)
        room.receive(one, presence(7, 1))
        await asyncio.sleep(0.01)
        assert len(watcher.frames) == joined + 1  # the first change goes out at once
        for clock in range(2, 30):
            room.receive(one, presence(7, clock))
        await asyncio.sleep(0.05)
        assert len(watcher.frames) == joined + 1  # the rest waits for the interval
        await asyncio.sleep(0.25)
        assert len(watcher.frames) == joined + 2
        assert watcher.frames[-1] == presence(7, 29)  # only the newest state
    finally:
        await room.close()


class FloodingSocket:
    """A WebSocket whose frames are all there at once (as after one big read): taking
    one never yields to the event loop, exactly like uvicorn's receive queue."""

    def __init__(self, frames: list[bytes], ticks: list[int]) -> None:
        self.path_params = {"score_id": "s"}
        self._frames = frames
        self._ticks = ticks
        self.seen: list[int] = []  # the other task's progress at each frame taken
        self.sent: list[bytes] = []
        self.close_code: int | None = None

    async def accept(self) -> None:
        return None

    async def receive(self) -> dict[str, Any]:
        self.seen.append(self._ticks[0])
        if self._frames:
            return {"type": "websocket.receive", "bytes": self._frames.pop(0)}
        return {"type": "websocket.disconnect", "code": 1000}

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.close_code = code


async def test_one_connection_cannot_hold_the_event_loop() -> None:
    manager = RoomManager()
    endpoint = ScoreWebSocket(manager, slice_frames=32, slice_seconds=1.0)
    ticks = [0]

    async def other_work() -> None:
        while True:
            await asyncio.sleep(0)
            ticks[0] += 1

    flood = [presence(9, clock) for clock in range(1, 1001)]
    socket = FloodingSocket(flood, ticks)
    worker = asyncio.get_running_loop().create_task(other_work())
    try:
        await endpoint.serve(socket)  # type: ignore[arg-type]
    finally:
        worker.cancel()
        await manager.close()
    assert len(socket.seen) == 1001
    # the other task ran about once every 32 frames while the flood was being taken in
    progress = [socket.seen[index] for index in range(32, 1000, 32)]
    assert all(later > earlier for earlier, later in itertools.pairwise(progress))


async def test_a_flooding_viewer_is_closed_and_never_writes(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        ws_update_rate=1.0,
        ws_update_burst=5,
        ws_awareness_rate=1.0,
        ws_awareness_burst=20,
    )
    async with live_server(settings) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        link = await live.http.post(
            f"/api/scores/{score}/links", json={"role": "viewer"}, headers=bearer(ann)
        )
        viewer = YClient(live.ws(score, link.json()["token"]))
        await viewer.connect()
        await asyncio.wait_for(viewer.synced.wait(), 5)
        data = viewer.score.read()
        editor = ScoreEditor(viewer.score, Origin.client("viewer"))
        for index in range(10):
            editor.add_note(data.measures[0].id, data.parts[0].id, index % 4, 1, "C4")
            await asyncio.sleep(0.01)
        assert await viewer.wait_closed() == 4429
        assert viewer.permission_denied  # it was told, once, before being closed
        owner = YClient(live.ws(score, ann))
        await owner.connect()
        await asyncio.wait_for(owner.synced.wait(), 5)
        assert not owner.score.read().notes  # nothing the viewer sent was applied
        await owner.close()

        flooder = YClient(live.ws(score, link.json()["token"]), presence={"n": 0})
        await flooder.connect()
        await asyncio.wait_for(flooder.synced.wait(), 5)
        for index in range(40):
            await flooder.set_presence({"n": index})
        assert await flooder.wait_closed() == 4429


@pytest.mark.slow
async def test_a_presence_flood_at_full_speed_is_closed_and_other_scores_stay_fast(
    tmp_path: Path,
) -> None:
    """A separate process floods presence as fast as it can (tens of thousands of frames
    a second); it is closed with 4429, and edits on another score keep flowing. The
    latency bound here is loose (a shared, noisy machine); bench/flood.py measures it."""
    with Setup(tmp_path, {}) as setup:
        await measure_edits(setup.edit_url, 0.5)
        flooder = start_flooder(setup.flood_url, 4.0, reconnect=False)
        await asyncio.sleep(0.3)
        latencies = await measure_edits(setup.edit_url, 3.0)
        result = flooder_result(flooder)
    assert result["close_codes"] == [4429], json.dumps(result)
    assert result["frames"] > 1000  # it really flooded past its burst
    assert len(latencies) >= 50
    assert percentile(latencies, 0.5) < 0.05
    assert percentile(latencies, 0.99) < 0.25


async def test_the_fuzz_scripts_floods_are_closed_right_past_the_burst() -> None:
    floods = await flood_cases(5_000)
    assert set(floods) == {"presence", "viewer updates"}
    for outcome in floods.values():  # default bursts: 1,000 (plus what refills meanwhile)
        assert outcome["close_code"] == 4429
        assert 1_000 <= outcome["frames_before_close"] < 1_000 + 500
