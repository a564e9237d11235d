"""One Redis client per process: built once from settings with one set of timeouts and
retries, shared by fan-out, caches, rate limits and announcements; the broker's
synchronous client gets the same options."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from collab_server import redis_client
from collab_server.app import create_app
from collab_server.fanout.hooks import FanoutHooks
from collab_server.fanout.redis import RedisFanOut
from collab_server.sync.hooks import HookChain
from tests.collab_server.security_helpers import settings_for
from tests.services import redis_service  # noqa: F401

_OPTIONS = ("socket_timeout", "socket_connect_timeout", "health_check_interval")


def _options(client: object) -> dict[str, object]:
    kwargs = client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    return {name: kwargs.get(name) for name in _OPTIONS}


def test_both_clients_get_the_same_options_from_settings() -> None:
    settings = settings_for(Path("."), redis_url="redis://127.0.0.1:1/3", redis_timeout=1.5)
    async_client = redis_client.open_redis(settings)
    sync_client = redis_client.open_sync_redis(settings)
    assert async_client is not None and sync_client is not None
    assert (
        _options(async_client)
        == _options(sync_client)
        == {
            "socket_timeout": 1.5,
            "socket_connect_timeout": 1.5,
            "health_check_interval": redis_client.HEALTH_CHECK_SECONDS,
        }
    )
    assert async_client.connection_pool.connection_kwargs["db"] == 3
    assert redis_client.open_redis(settings_for(Path("."))) is None
    assert redis_client.open_sync_redis(settings_for(Path("."))) is None


@pytest.mark.parametrize("url", ["http://x", "memory://", "", "127.0.0.1:6379"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        redis_client.connect(url)


async def test_an_unreachable_redis_fails_fast_after_the_shared_retries() -> None:
    client = redis_client.connect("redis://127.0.0.1:1/0", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - a connection error, whatever its class
        await client.ping()
    assert time.monotonic() - started < 3  # two retries, back-off capped at 0.5 s
    await client.aclose()


@pytest.mark.services
def test_the_app_shares_one_client(tmp_path: Path, redis_service: str) -> None:
    settings = settings_for(tmp_path, redis_url=redis_service, redis_timeout=3.0)
    with TestClient(create_app(settings)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        shared = state.redis
        assert shared is not None
        assert state.gate.ip_limiter._redis is shared
        assert state.gate.user_limiter._redis is shared
        assert state.analysis.cached.cache.client is shared
        assert state.scores.cache.cache.client is shared
        chain = state.rooms.hooks
        fanout_hooks = [hook for hook in chain.hooks[0].hooks if isinstance(hook, FanoutHooks)]
        assert isinstance(chain.hooks[0], HookChain) and len(fanout_hooks) == 1
        fanout = fanout_hooks[0].fanout
        assert isinstance(fanout, RedisFanOut) and fanout.client is shared
        assert fanout.block_ms == 2_000  # below the 3 s command timeout
        broker_client = state.analysis.enqueuer.broker.client
        assert broker_client is not shared and _options(broker_client) == _options(shared)
        assert client.get("/readyz").status_code == 200
        assert (
            client.post("/api/auth/login", json={"username": "admin", "password": "x"}).status_code
            == 401
        )  # went through the Redis rate limiter
