"""The cache: one contract run over memory and Redis, lifetimes, stale fills refused,
Redis failures falling back to the source, and score metadata in ScoreService."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from collab_server.cache import (
    ANALYSIS_TTL,
    SCORE_METADATA_TTL,
    SESSION_TTL,
    Cache,
    MemoryCache,
    RedisCache,
    ScoreMetadataCache,
    open_cache,
)
from collab_server.rooms import RoomManager
from collab_server.scores import ScoreService
from persistence.errors import NotFound
from tests.collab_server.harness import Backend
from tests.collab_server.test_crash_recovery import free_port
from tests.services import redis_service  # noqa: F401


def test_product_lifetimes() -> None:
    assert (SCORE_METADATA_TTL, ANALYSIS_TTL, SESSION_TTL) == (3600, 86_400, 604_800)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def caches(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Cache, Cache]]:
    """Two instances' views of one cache."""
    if request.param == "memory":
        cache = MemoryCache()
        yield cache, cache
        return
    url = request.getfixturevalue("redis_service")
    prefix = f"orpheus:test-cache:{secrets.token_hex(4)}:"
    one, two = RedisCache.from_url(url, prefix=prefix), RedisCache.from_url(url, prefix=prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_get_or_load_loads_once(caches: tuple[Cache, Cache]) -> None:
    one, two = caches
    loads = 0

    async def load() -> bytes:
        nonlocal loads
        loads += 1
        return b"row"

    assert await one.get_or_load("k", 60, load) == b"row"
    assert await two.get_or_load("k", 60, load) == b"row"
    assert await two.get("k") == b"row"
    assert loads == 1


async def test_invalidate_is_seen_by_every_instance(caches: tuple[Cache, Cache]) -> None:
    one, two = caches
    await one.set("k", b"old", 60)
    await two.invalidate("k")
    assert await one.get("k") is None


async def test_a_fill_racing_an_invalidation_is_not_kept(caches: tuple[Cache, Cache]) -> None:
    one, two = caches
    release = asyncio.Event()

    async def slow_old_read() -> bytes:
        await release.wait()
        return b"old"

    fill = asyncio.create_task(one.get_or_load("k", 60, slow_old_read))
    await asyncio.sleep(0.01)  # the reader has checked the cache and is loading
    await two.invalidate("k")  # a writer changed the row meanwhile
    release.set()
    assert await fill == b"old"  # the reader gets what it read...
    assert await one.get("k") is None  # ...but it is not cached

    async def fresh() -> bytes:
        return b"new"

    assert await two.get_or_load("k", 60, fresh) == b"new"
    assert await one.get("k") == b"new"


async def test_memory_cache_expires_and_is_bounded() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    await cache.set("a", b"1", 10)
    now[0] = 9.9
    assert await cache.get("a") == b"1"
    now[0] = 10.0
    assert await cache.get("a") is None
    for key in "xyz":
        await cache.set(key, key.encode(), 10)
    assert await cache.get("x") is None and await cache.get("z") == b"z"


@pytest.mark.services
async def test_redis_entries_carry_their_lifetime(redis_service: str) -> None:  # noqa: F811
    prefix = f"orpheus:test-cache:{secrets.token_hex(4)}:"
    cache = RedisCache.from_url(redis_service, prefix=prefix)
    raw = Redis.from_url(redis_service)
    try:
        await cache.set("analysis", b"x", ANALYSIS_TTL)

        async def load() -> bytes:
            return b"y"

        await cache.get_or_load("meta", SCORE_METADATA_TTL, load)
        assert 86_390_000 < await raw.pttl(prefix + "analysis") <= 86_400_000
        assert 3_590_000 < await raw.pttl(prefix + "meta") <= 3_600_000
    finally:
        await cache.close()
        await raw.aclose()


async def test_redis_down_falls_back_to_the_source() -> None:
    cache = RedisCache.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        async def load() -> bytes:
            return b"from storage"

        assert await cache.get_or_load("k", 60, load) == b"from storage"
        assert await cache.get("k") is None
        await cache.invalidate("k")  # logged, not raised
        assert cache.errors >= 3
    finally:
        await cache.close()


def test_open_cache_by_url() -> None:
    assert isinstance(open_cache(""), MemoryCache)
    assert isinstance(open_cache("redis://127.0.0.1:6379/0"), RedisCache)


# --- score metadata in the score service ----------------------------------------------


class CountingCatalog:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gets = 0

    async def get_score(self, score_id: str) -> Any:
        self.gets += 1
        return await self.inner.get_score(score_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def service(backend: Backend, caches: tuple[Cache, Cache]
                  ) -> AsyncIterator[tuple[ScoreService, CountingCatalog]]:
    catalog = CountingCatalog(backend.storage.catalog)
    backend.storage.catalog = catalog  # type: ignore[assignment]
    rooms = RoomManager(backend.hooks, idle_timeout=60)
    yield ScoreService(backend.storage, backend.documents, rooms,
                       ScoreMetadataCache(caches[0])), catalog
    await rooms.close()


async def test_score_metadata_is_cached_and_invalidated_on_change(
        service: tuple[ScoreService, CountingCatalog]) -> None:
    scores, catalog = service
    record = await scores.create(title="Quartet")
    for _ in range(3):
        assert (await scores.get(record.id)).title == "Quartet"
    assert catalog.gets == 1

    await scores.rename(record.id, "Quintet")
    assert (await scores.get(record.id)).title == "Quintet"

    version = await scores.create_version(record.id, name="v1", author=None)
    before = (await scores.get(record.id)).epoch
    await scores.restore(record.id, version.id, author=None)
    assert (await scores.get(record.id)).epoch == before + 1

    await scores.delete(record.id)
    with pytest.raises(NotFound):
        await scores.get(record.id)
