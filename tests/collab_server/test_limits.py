"""Rate limits (REST per IP and per user, in memory and in Redis), WebSocket update rate,
document size and connection limits."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from collab_server import redis_client
from collab_server.security.limits import (
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    TokenBucket,
)
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for
from tests.services import redis_service  # noqa: F401

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == 0.5  # one token comes back in half a second at 2/s
    clock.now += 0.5
    assert bucket.take() == 0.0
    clock.now += 100  # never more than the burst
    assert [bucket.take() == 0.0 for _ in range(4)] == [True, True, True, False]


async def test_memory_limiter_keeps_keys_apart_and_bounded() -> None:
    limiter = MemoryRateLimiter(1.0, 1, max_keys=2, clock=FakeClock())
    assert await limiter.hit("a") == 0.0
    assert await limiter.hit("a") > 0
    assert await limiter.hit("b") == 0.0
    await limiter.hit("c")  # evicts "a", the least recently used
    assert await limiter.hit("a") == 0.0


# --- the RateLimiter contract, over every implementation -----------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def limiter_pair(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[RateLimiter, RateLimiter]]:
    """Two limiters of 3 requests at 1/s: Redis ones on one shared client and prefix
    (two instances), or twice the same memory one (a single instance)."""
    if request.param == "memory":
        limiter = MemoryRateLimiter(1.0, 3)
        yield limiter, limiter
        return
    client = redis_client.connect(request.getfixturevalue("redis_service"))
    prefix = f"test-{secrets.token_hex(4)}:"
    first = RedisRateLimiter(client, 1.0, 3, prefix=prefix)
    second = RedisRateLimiter(client, 1.0, 3, prefix=prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
        assert await client.ping()  # the limiters leave the shared client open
        await client.aclose()


async def test_limiters_allow_a_burst_then_ask_to_wait(
    limiter_pair: tuple[RateLimiter, RateLimiter],
) -> None:
    first, second = limiter_pair
    waits = [await first.hit("ip:1"), await second.hit("ip:1"), await first.hit("ip:1")]
    assert waits == [0.0, 0.0, 0.0]
    blocked = await second.hit("ip:1")  # one bucket, wherever the hits land
    assert 0.5 < blocked <= 1.0
    assert await second.hit("ip:2") == 0.0  # keys are apart
    await asyncio.sleep(blocked + 0.05)
    assert await first.hit("ip:1") == 0.0  # refilled at the rate


async def test_rest_limits_per_ip_and_per_user(tmp_path: Path) -> None:
    async with live_server(
        settings_for(tmp_path, rest_rate_per_ip=0.5, rest_burst_per_ip=4)
    ) as live:
        codes = [(await live.http.get("/api/scores")).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        refused = await live.http.get("/api/scores")
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await live.http.get("/healthz")).status_code == 200  # outside /api

    settings = settings_for(tmp_path, rest_rate_per_user=0.5, rest_burst_per_user=3)
    async with live_server(settings) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        codes = [
            (await live.http.get("/api/scores", headers=bearer(ann))).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        assert (await live.http.get("/api/scores", headers=bearer(bob))).status_code == 200


async def test_login_attempts_per_ip(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, login_rate_per_ip=0.01, login_burst_per_ip=3)
    async with live_server(settings) as live:
        guess = {"username": "admin", "password": "wrong-guess"}
        codes = [
            (await live.http.post("/api/auth/login", json=guess)).status_code for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        # other routes are not charged to the login bucket
        assert (await live.http.get("/api/scores")).status_code == 401


@pytest.mark.services
async def test_rest_limits_in_redis(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, redis_url=REDIS_URL, rest_rate_per_ip=0.01, rest_burst_per_ip=2
    )
    async with live_server(settings) as live:
        assert isinstance(live.app.state.gate.ip_limiter, RedisRateLimiter)
        await live.app.state.gate.ip_limiter._redis.delete("orpheus:rl:ip:127.0.0.1")
        codes = [(await live.http.get("/api/scores")).status_code for _ in range(3)]
        assert codes == [401, 401, 429]


async def _close_code(url: str) -> int | None:
    async with connect(url, open_timeout=10) as ws:
        try:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        except ConnectionClosed:
            pass
        return ws.close_code


async def _editor(live: Live, score: str, token: str) -> tuple[YClient, ScoreEditor]:
    client = await YClient(live.ws(score, token)).connect()
    await asyncio.wait_for(client.synced.wait(), 10)
    return client, ScoreEditor(client.score, Origin.client(str(client.client_id)))


async def test_websocket_connection_attempts_per_ip(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, rest_rate_per_ip=0.2, rest_burst_per_ip=2)
    async with live_server(settings) as live:
        codes = [await _close_code(live.ws("s_any", "bad-token")) for _ in range(3)]
        assert codes == [4401, 4401, 1013]


async def test_websocket_update_rate(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ws_update_rate=1.0, ws_update_burst=5)
    async with live_server(settings) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        client, editor = await _editor(live, score, ann)
        data = client.score.read()
        for index in range(4):  # within the burst
            editor.add_note(data.measures[0].id, data.parts[0].id, index, 1, "C4")
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert client.close_code is None
        for index in range(10):
            editor.add_note(data.measures[0].id, data.parts[0].id, index % 4, 1, "D4")
            await asyncio.sleep(0.02)
        assert await client.wait_closed() == 4429


async def test_document_size_limit(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_document_bytes=4000)
    async with live_server(settings) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        client, editor = await _editor(live, score, ann)
        data = client.score.read()
        for index in range(200):
            if client.close_code is not None:
                break
            editor.add_note(data.measures[0].id, data.parts[0].id, index % 4, 1, "E4")
            await asyncio.sleep(0.005)
        assert await client.wait_closed() == 4413
        room = live.app.state.rooms.loaded(score)
        assert room is not None and len(room.score.doc.get_update()) <= 4000


async def test_connection_limits(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_connections_per_user=2, max_connections_per_room=3)
    async with live_server(settings) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        score = await live.score(ann)
        await live.http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "editor"}
        )
        mine = [await _editor(live, score, ann) for _ in range(2)]
        assert await _close_code(live.ws(score, ann)) == 1013  # third for ann
        other, _ = await _editor(live, score, bob)  # the room's third
        assert await _close_code(live.ws(score, bob)) == 1013  # a fourth in the room
        await mine[0][0].close()
        await wait_for(lambda: len(live.app.state.rooms.loaded(score).connections) == 2)
        again, _ = await _editor(live, score, ann)
        assert again.close_code is None
        for client in (again, other, mine[1][0]):
            await client.close()


async def test_redis_limiter_falls_back_to_this_instance_when_redis_is_down() -> None:
    """Redis unreachable: requests go on, limited per instance, instead of failing."""
    client = redis_client.connect("redis://127.0.0.1:1/0", timeout=0.2)
    limiter = RedisRateLimiter(client, rate=1, burst=2, prefix=f"t:{secrets.token_hex(4)}:")
    try:
        started = time.monotonic()
        assert [await limiter.hit("ip") for _ in range(2)] == [0.0, 0.0]
        assert await limiter.hit("ip") > 0  # still limited, by the local buckets
        assert time.monotonic() - started < 5  # the shared retry policy gives up quickly
    finally:
        await limiter.close()
        await client.aclose()
