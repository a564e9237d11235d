"""A small read-through cache with the product's lifetimes, in memory or in Redis.

Lifetimes: score metadata 1 hour, analysis results 24 hours, sessions 7 days. Every
entry is also *invalidated on change*: the writer calls :meth:`Cache.invalidate` after
its write. A fill never resurrects a stale value: each key has a generation, bumped by
``invalidate``; :meth:`Cache.get_or_load` reads the generation before loading and stores
the loaded value only if the generation has not moved meanwhile (in Redis, checked and
set atomically by a script). So a reader that loaded the old row just before a rename
cannot put it back after the rename's invalidation.

The cache is an optimisation, never a dependency: when Redis fails, reads go to the
source and the failure is logged.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from persistence.base import ScoreRecord
from persistence.results.base import DocVersion, ResultStore, StoredResult

log = logging.getLogger("orpheus.cache")

SCORE_METADATA_TTL = 3600.0
ANALYSIS_TTL = 24 * 3600.0
SESSION_TTL = 7 * 24 * 3600.0

Loader = Callable[[], Awaitable[bytes]]


class Cache(Protocol):
    """Bytes by key, each with a lifetime in seconds."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def get_or_load(self, key: str, ttl: float, load: Loader) -> bytes:
        """The cached value, else ``load()``'s (cached unless invalidated meanwhile)."""
        ...

    async def invalidate(self, key: str, *, strict: bool = False) -> None:
        """Drop ``key`` everywhere; a failure is logged, or raised if ``strict``."""
        ...

    async def close(self) -> None: ...


class MemoryCache:
    """An in-process cache (the embedded default: one instance), bounded to
    ``max_entries`` (least recently used first out)."""

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self.hits = self.misses = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: dict[str, int] = {}

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            self._entries.pop(key, None)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def get_or_load(self, key: str, ttl: float, load: Loader) -> bytes:
        cached = await self.get(key)
        if cached is not None:
            return cached
        generation = self._generations.get(key, 0)
        value = await load()
        if self._generations.get(key, 0) == generation:
            await self.set(key, value, ttl)
        return value

    async def invalidate(self, key: str, *, strict: bool = False) -> None:
        self._entries.pop(key, None)
        self._generations[key] = self._generations.get(key, 0) + 1
        if len(self._generations) > 4 * self.max_entries:
            self._generations.clear()  # only fills in flight could notice: they reload

    async def close(self) -> None:
        self._entries.clear()


# KEYS: value, generation. ARGV: value, ttl ms, generation seen before loading ("" none).
_SET_IF_UNCHANGED = """
local current = redis.call('GET', KEYS[2]) or ''
if current == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class RedisCache:
    """A cache shared by every instance, in Redis, on the process's shared
    ``redis.asyncio`` client (:mod:`collab_server.redis_client`), which it does not
    close."""

    def __init__(
        self, client: Any, *, prefix: str = "orpheus:cache:", close_client: bool = False
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._close_client = close_client
        self.hits = self.misses = self.errors = 0
        self._set_if_unchanged = client.register_script(_SET_IF_UNCHANGED)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisCache:
        """A cache with a client of its own (closed with it), for tools and tests."""
        from collab_server import redis_client

        return cls(redis_client.connect(url), close_client=True, **options)

    async def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = await self.client.get(self.prefix + key)
        except Exception as exc:
            self._failed("get", exc)
            return None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self.client.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))
        except Exception as exc:
            self._failed("set", exc)

    async def get_or_load(self, key: str, ttl: float, load: Loader) -> bytes:
        full = self.prefix + key
        try:
            value, generation = await self.client.mget(full, full + ":gen")
        except Exception as exc:
            self._failed("get", exc)
            return await load()
        if value is not None:
            self.hits += 1
            return bytes(value)
        self.misses += 1
        value = await load()
        try:
            await self._set_if_unchanged(
                keys=[full, full + ":gen"], args=[value, max(1, int(ttl * 1000)), generation or b""]
            )
        except Exception as exc:
            self._failed("set", exc)
        return bytes(value)

    async def invalidate(self, key: str, *, strict: bool = False) -> None:
        full = self.prefix + key
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(full + ":gen")
                pipe.expire(full + ":gen", int(SESSION_TTL))
                pipe.delete(full)
                await pipe.execute()
        except Exception as exc:
            self._failed("invalidate", exc)
            if strict:
                raise

    async def close(self) -> None:
        if self._close_client:
            await self.client.aclose()

    def _failed(self, operation: str, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 100 == 0:
            log.warning("cache %s failed (falling back to the source): %s", operation, exc)


def open_cache(redis: Any | None) -> Cache:
    """In Redis (shared by the instances) on the process's client, else in memory."""
    return RedisCache(redis) if redis is not None else MemoryCache()


class ScoreMetadataCache:
    """Score rows (:class:`ScoreRecord`) for one hour, invalidated on rename, delete
    and restore. ``updated_at`` may lag behind edits made since the row was cached."""

    def __init__(self, cache: Cache, *, ttl: float = SCORE_METADATA_TTL) -> None:
        self.cache = cache
        self.ttl = ttl

    async def get(self, score_id: str, load: Callable[[], Awaitable[ScoreRecord]]) -> ScoreRecord:
        async def load_encoded() -> bytes:
            return json.dumps(asdict(await load())).encode()

        raw = await self.cache.get_or_load(_score_key(score_id), self.ttl, load_encoded)
        return ScoreRecord(**json.loads(raw))

    async def invalidate(self, score_id: str) -> None:
        await self.cache.invalidate(_score_key(score_id))


def _score_key(score_id: str) -> str:
    return f"score:{score_id}"


async def scope_nonce(cache: Cache, scope: str, ttl: float) -> str:
    """The current nonce of ``scope``: keys built on it (:func:`scoped_key`) are all
    dropped at once by ``cache.invalidate(scope)``, which forgets the nonce.

    Safe against stale fills as long as the writer invalidates *after* its write: an
    entry filled from a read older than the write sits under a nonce the invalidation
    removed (or never became current: ``get_or_load`` refuses the fill)."""

    async def fresh() -> bytes:
        return secrets.token_hex(16).encode()

    return (await cache.get_or_load(scope, ttl, fresh)).decode()


class CachedResultStore:
    """A :class:`ResultStore` reading latest and named-version results through the cache
    for 24 hours. :meth:`save` and :meth:`delete_score` invalidate the score's entries
    after writing; so does :meth:`invalidate_score` (restore, delete, or a result saved
    by another process and announced). An empty answer (nothing stored yet) is not cached."""

    def __init__(self, inner: ResultStore, cache: Cache, *, ttl: float = ANALYSIS_TTL) -> None:
        self.inner = inner
        self.cache = cache
        self.ttl = ttl

    async def save(
        self,
        score_id: str,
        analysis_set: str,
        version: DocVersion,
        result_json: str,
        *,
        version_id: str | None = None,
        duration_ms: float | None = None,
    ) -> bool:
        try:
            return await self.inner.save(
                score_id,
                analysis_set,
                version,
                result_json,
                version_id=version_id,
                duration_ms=duration_ms,
            )
        finally:
            await self.invalidate_score(score_id)

    async def get_latest(self, score_id: str, analysis_set: str = "all") -> StoredResult | None:
        return await self._read(
            score_id,
            f"latest:{analysis_set}",
            lambda: self.inner.get_latest(score_id, analysis_set),
        )

    async def get_for_version(
        self, score_id: str, version: DocVersion | str, analysis_set: str = "all"
    ) -> StoredResult | None:
        if isinstance(version, DocVersion):  # live: valid only while the latest
            latest = await self.get_latest(score_id, analysis_set)
            return latest if latest is not None and latest.version == version else None
        return await self._read(
            score_id,
            f"v:{version}:{analysis_set}",
            lambda: self.inner.get_for_version(score_id, version, analysis_set),
        )

    async def delete_score(self, score_id: str) -> None:
        try:
            await self.inner.delete_score(score_id)
        finally:
            await self.invalidate_score(score_id)

    async def invalidate_score(self, score_id: str) -> None:
        await self.cache.invalidate(_analysis_scope(score_id))

    async def close(self) -> None:
        await self.inner.close()

    async def _read(
        self, score_id: str, name: str, load: Callable[[], Awaitable[StoredResult | None]]
    ) -> StoredResult | None:
        nonce = await scope_nonce(self.cache, _analysis_scope(score_id), self.ttl)
        key = f"{_analysis_scope(score_id)}:{nonce}:{name}"

        async def load_encoded() -> bytes:
            stored = await load()
            if stored is None:
                raise _Nothing
            return _encode_result(stored)

        try:
            return _decode_result(await self.cache.get_or_load(key, self.ttl, load_encoded))
        except _Nothing:
            return None


class _Nothing(Exception):
    """Nothing stored: not cached."""


def _analysis_scope(score_id: str) -> str:
    return f"analysis:{score_id}"


def _encode_result(stored: StoredResult) -> bytes:
    fields = asdict(stored)
    fields["version"] = stored.version.token
    return json.dumps(fields).encode()


def _decode_result(raw: bytes) -> StoredResult:
    fields = json.loads(raw)
    fields["version"] = DocVersion.parse(fields["version"])
    return StoredResult(**fields)
