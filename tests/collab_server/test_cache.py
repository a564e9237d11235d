"""The cache: one contract run over memory and Redis, lifetimes, stale fills refused,
Redis failures falling back to the source, and score metadata in ScoreService."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.testclient import TestClient

from collab_server import redis_client
from collab_server.analysis.runtime import RESULTS_CHANNEL
from collab_server.app import create_app
from collab_server.cache import (
    ANALYSIS_TTL,
    SCORE_METADATA_TTL,
    SESSION_TTL,
    Cache,
    CachedResultStore,
    MemoryCache,
    RedisCache,
    ScoreMetadataCache,
    open_cache,
)
from collab_server.errors import Unauthenticated
from collab_server.security.authenticator import Authenticator, Identity, SessionCache
from collab_server.services.score_service import ScoreService
from collab_server.sync.rooms import RoomManager
from persistence.accounts.base import User
from persistence.accounts.memory import MemoryAccountStore
from persistence.errors import NotFound
from persistence.results.base import DocVersion, StoredResult
from persistence.results.memory import MemoryResultStore
from tests.collab_server.harness import Backend
from tests.collab_server.processes import free_port
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, settings_for
from tests.collab_server.test_auth import login
from tests.services import redis_service, redis_url  # noqa: F401


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
    release, loading = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> bytes:
        loading.set()
        await release.wait()
        return b"old"

    fill = asyncio.create_task(one.get_or_load("k", 60, slow_old_read))
    await asyncio.wait_for(loading.wait(), 10)  # the reader has checked the cache and is loading
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
async def test_redis_entries_carry_their_lifetime(redis_service: str) -> None:
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


@pytest.mark.services
async def test_open_cache_on_the_shared_client(redis_service: str) -> None:
    assert isinstance(open_cache(None), MemoryCache)
    client = redis_client.connect(redis_service)
    cache = open_cache(client)
    assert isinstance(cache, RedisCache) and cache.client is client
    await cache.set("shared", b"1", 5)
    await cache.close()  # leaves the shared client to its owner
    assert await client.ping()
    await client.aclose()


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
async def service(
    backend: Backend, caches: tuple[Cache, Cache]
) -> AsyncIterator[tuple[ScoreService, CountingCatalog]]:
    catalog = CountingCatalog(backend.storage.catalog)
    backend.storage.catalog = catalog  # type: ignore[assignment]
    rooms = RoomManager(backend.hooks, idle_timeout=60)
    yield (
        ScoreService(backend.storage, backend.documents, rooms, ScoreMetadataCache(caches[0])),
        catalog,
    )
    await rooms.close()


async def test_score_metadata_is_cached_and_invalidated_on_change(
    service: tuple[ScoreService, CountingCatalog],
) -> None:
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


# --- analysis results ------------------------------------------------------------------


class CountingResults(MemoryResultStore):
    """One database shared by two instances, counting the reads that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_latest(self, score_id: str, analysis_set: str = "all") -> StoredResult | None:
        self.reads += 1
        return await super().get_latest(score_id, analysis_set)

    async def get_for_version(
        self, score_id: str, version: DocVersion | str, analysis_set: str = "all"
    ) -> StoredResult | None:
        self.reads += 1
        return await super().get_for_version(score_id, version, analysis_set)


@pytest.fixture
def result_stores(
    caches: tuple[Cache, Cache],
) -> tuple[CachedResultStore, CachedResultStore, CountingResults]:
    database = CountingResults()
    return (
        CachedResultStore(database, caches[0]),
        CachedResultStore(database, caches[1]),
        database,
    )


async def test_analysis_results_are_cached_until_a_newer_one_is_saved(
    result_stores: tuple[CachedResultStore, CachedResultStore, CountingResults],
) -> None:
    one, two, database = result_stores
    assert await one.get_latest("s1") is None
    assert await one.get_latest("s1") is None
    assert database.reads == 2  # "nothing yet" is not cached
    assert await one.save("s1", "all", DocVersion(0, 3), '{"key": "C"}')
    for _ in range(3):
        stored = await one.get_latest("s1")
        assert stored is not None and stored.version == DocVersion(0, 3)
        assert stored.result_json == '{"key": "C"}'
    reads = database.reads
    assert (await two.get_latest("s1")) == stored  # the other instance shares the cache
    assert database.reads == reads
    assert await one.get_for_version("s1", DocVersion(0, 3)) == stored

    # A newer result saved by the other instance is served at once by this one.
    assert await two.save("s1", "all", DocVersion(0, 7), '{"key": "G"}')
    newer = await one.get_latest("s1")
    assert newer is not None and newer.version == DocVersion(0, 7)
    assert await one.get_for_version("s1", DocVersion(0, 3)) is None
    # An older result is refused and the newer one stays.
    assert not await one.save("s1", "all", DocVersion(0, 5), '{"key": "D"}')
    assert (await two.get_latest("s1")) == newer

    # Named versions are cached too; deleting the score forgets everything.
    await one.save("s1", "all", DocVersion(0, 7), '{"n": 1}', version_id="v1")
    named = await two.get_for_version("s1", "v1")
    assert named is not None and named.version_id == "v1"
    reads = database.reads
    assert await one.get_for_version("s1", "v1") == named
    assert database.reads == reads
    await two.delete_score("s1")
    assert await one.get_latest("s1") is None
    assert await one.get_for_version("s1", "v1") is None


async def test_invalidate_score_drops_results_saved_elsewhere(
    result_stores: tuple[CachedResultStore, CachedResultStore, CountingResults],
) -> None:
    one, two, database = result_stores
    await one.save("s2", "all", DocVersion(1, 1), "[1]")
    assert (await one.get_latest("s2")) is not None
    await database.save("s2", "all", DocVersion(2, 0), "[2]")  # a worker elsewhere
    cached = await one.get_latest("s2")
    assert cached is not None and cached.version == DocVersion(1, 1)  # proves caching
    await two.invalidate_score("s2")  # its announcement reached some instance
    fresh = await one.get_latest("s2")
    assert fresh is not None and fresh.version == DocVersion(2, 0)


async def test_a_result_read_racing_a_save_is_not_kept(
    result_stores: tuple[CachedResultStore, CachedResultStore, CountingResults],
) -> None:
    one, two, database = result_stores
    await database.save("s3", "all", DocVersion(0, 1), '"old"')
    release, loading = asyncio.Event(), asyncio.Event()
    old = await database.get_latest("s3")

    async def slow_old_read(score_id: str, analysis_set: str = "all") -> StoredResult | None:
        loading.set()
        await release.wait()
        return old

    database.get_latest = slow_old_read  # type: ignore[method-assign]
    read = asyncio.create_task(one.get_latest("s3"))
    await asyncio.wait_for(loading.wait(), 10)  # the read has missed the cache and is loading
    del database.get_latest
    assert await two.save("s3", "all", DocVersion(0, 2), '"new"')
    release.set()
    assert (await read) == old  # that reader gets what it read...
    latest = await one.get_latest("s3")  # ...but nobody after it
    assert latest is not None and latest.result_json == '"new"'


# --- sessions ----------------------------------------------------------------------------


@pytest.fixture
def two_instances(
    tmp_path: Path,
    redis_service: str,
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps over one SQLite database, sharing the real Redis (cache and fan-out)."""
    settings = settings_for(
        tmp_path,
        database_url="",
        redis_url=redis_url(9),
        open_registration=True,
        rest_rate_per_ip=0,
        rest_rate_per_user=0,
    )
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        yield one, two


def session_hits(client: TestClient) -> int:
    sessions = client.app.state.gate.auth.sessions  # type: ignore[attr-defined]
    assert sessions is not None and isinstance(sessions.cache, RedisCache)
    return int(sessions.cache.hits)


def test_sessions_are_cached_and_ended_on_every_instance(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    one, two = two_instances
    name = f"u{secrets.token_hex(4)}"
    assert (
        one.post(
            "/api/auth/register", json={"username": name, "password": "password-1"}
        ).status_code
        == 201
    )
    first = login(one, name, "password-1")
    second = login(two, name, "password-1")
    for client in (one, two, one, two):
        assert client.get("/api/auth/me", headers=bearer(first)).status_code == 200
    before = session_hits(one)
    assert one.get("/api/auth/me", headers=bearer(first)).status_code == 200
    assert session_hits(one) > before  # served from the cache

    # Logout on one instance: the very next request on the other is refused.
    assert one.post("/api/auth/logout", headers=bearer(first)).status_code == 204
    assert two.get("/api/auth/me", headers=bearer(first)).status_code == 401
    assert one.get("/api/auth/me", headers=bearer(first)).status_code == 401
    assert two.get("/api/auth/me", headers=bearer(second)).status_code == 200

    # API tokens: cached, then revoked on the other instance.
    made = two.post("/api/auth/tokens", headers=bearer(second), json={"name": "ci"}).json()
    for client in (one, two, one):
        assert client.get("/api/auth/me", headers=bearer(made["token"])).status_code == 200
    assert two.delete(f"/api/auth/tokens/{made['id']}", headers=bearer(second)).status_code == 204
    assert one.get("/api/auth/me", headers=bearer(made["token"])).status_code == 401

    # A password change ends every earlier session, everywhere.
    third = login(one, name, "password-1")
    assert one.get("/api/auth/me", headers=bearer(third)).status_code == 200
    changed = two.post(
        "/api/auth/password",
        headers=bearer(second),
        json={"old_password": "password-1", "new_password": "password-2"},
    )
    assert changed.status_code == 200, changed.text
    for client in (one, two):
        assert client.get("/api/auth/me", headers=bearer(second)).status_code == 401
        assert client.get("/api/auth/me", headers=bearer(third)).status_code == 401
        fresh = changed.json()["access_token"]
        assert client.get("/api/auth/me", headers=bearer(fresh)).status_code == 200


async def test_a_check_racing_a_logout_is_not_kept() -> None:
    cache = MemoryCache()
    sessions = SessionCache(cache)
    release, loading = asyncio.Event(), asyncio.Event()
    checks = 0

    async def slow_ok() -> Identity:
        nonlocal checks
        checks += 1
        loading.set()
        await release.wait()
        return Identity(user_id="ann")

    check = asyncio.create_task(sessions.check("ann", "jwt:1", 60, slow_ok))
    await asyncio.wait_for(loading.wait(), 10)  # the check is reading, not yet cached
    await sessions.forget_user("ann")  # a logout was stored meanwhile
    release.set()
    assert await check is False

    async def refused() -> Identity:
        raise Unauthenticated("this session was logged out")

    with pytest.raises(Unauthenticated):
        await sessions.check("ann", "jwt:1", 60, refused)
    assert await sessions.check("ann", "jwt:2", 0.5, slow_ok) is False  # under 1 s: no cache
    assert await sessions.check("ann", "jwt:2", 0.5, slow_ok) is False
    assert checks == 3


# --- analysis over REST ------------------------------------------------------------------


def test_rest_analysis_reads_are_cached_and_dropped_on_restore(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, auth_enabled=False, rest_rate_per_ip=0)
    with TestClient(create_app(settings)) as client:
        score_id = client.post("/api/scores", json={"title": "cached"}).json()["id"]
        url = f"/api/scores/{score_id}/analysis"
        deadline = time.monotonic() + 30
        while (first := client.get(url)).status_code != 200:
            assert time.monotonic() < deadline, first.text
            time.sleep(0.1)
        version = DocVersion.parse(first.json()["version"])
        runtime = client.app.state.analysis  # type: ignore[attr-defined]
        newer = DocVersion(version.epoch, version.seq + 100)
        # A result stored behind the cache's back (no invalidation): not seen yet.
        assert client.portal is not None
        assert client.portal.call(
            functools.partial(
                runtime.results.save, score_id, "all", newer, '{"behind": "the cache"}'
            )
        )
        assert client.get(url).json()["version"] == version.token

        saved = client.post(f"/api/scores/{score_id}/versions", json={"name": "v"}).json()
        assert (
            client.post(f"/api/scores/{score_id}/versions/{saved['id']}/restore").status_code == 201
        )
        after = client.get(url).json()  # the restore dropped the cached result
        assert after["version"] != version.token and after["pending"] is True
        assert client.delete(f"/api/scores/{score_id}").status_code == 204
        assert client.get(url).status_code == 404


def test_results_announced_by_a_worker_drop_cached_ones(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    one, two = two_instances
    admin = bearer(login(one, "admin", ADMIN_PASSWORD))
    score_id = one.post("/api/scores", json={"title": "w"}, headers=admin).json()["id"]
    url = f"/api/scores/{score_id}/analysis"
    raw = one.app.state.analysis.results  # type: ignore[attr-defined]
    assert one.portal is not None

    def worker_saves(seq: int) -> None:  # a worker process writing to the database
        assert one.portal is not None
        assert one.portal.call(
            functools.partial(raw.save, score_id, "all", DocVersion(1, seq), f'{{"seq": {seq}}}')
        )

    worker_saves(0)
    for client in (one, two):
        assert client.get(url, headers=admin).json()["version"] == "e1.0"
    worker_saves(5)
    assert two.get(url, headers=admin).json()["version"] == "e1.0"  # cached
    with SyncRedis.from_url(redis_url(9)) as publisher:  # the worker's announcement
        publisher.publish(RESULTS_CHANNEL, json.dumps({"score_id": score_id, "version": "e1.5"}))
    deadline = time.monotonic() + 5
    while (seen := two.get(url, headers=admin).json())["version"] != "e1.5":
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
    assert seen["result"] == {"seq": 5}
    assert one.get(url, headers=admin).json()["version"] == "e1.5"


async def test_a_cached_api_token_still_expires_on_time() -> None:
    now = [1_000_000.0]
    auth = Authenticator(
        MemoryAccountStore(), secret="s" * 32, clock=lambda: now[0], cache=MemoryCache()
    )
    await auth.accounts.create_user(User("ann", "Ann", auth.hash_password("password-1")))
    _, token = await auth.create_api_token("ann", "ci", expires_at=now[0] + 60)
    for _ in range(3):
        assert (await auth.verify(token)).user_id == "ann"
    assert auth.sessions is not None and isinstance(auth.sessions.cache, MemoryCache)
    assert auth.sessions.cache.hits >= 2  # the check was kept
    now[0] += 61
    with pytest.raises(Unauthenticated):
        await auth.verify(token)
