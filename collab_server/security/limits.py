"""Limits against floods and oversized input: token-bucket rate limiters (in memory, or
shared through Redis between instances), and the per-connection guard run on every
WebSocket frame (update rate, document size).

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a
request takes one token or is refused with the time until one is back.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from redis.exceptions import RedisError

from collab_server.errors import DocumentTooLarge, RateLimited
from collab_server.sync.connection import Connection
from collab_server.sync.protocol import MessageType, SyncType
from collab_server.sync.room import Room

log = logging.getLogger("orpheus.limits")


class RateLimiter(Protocol):
    async def hit(self, key: str) -> float:
        """Take one token from ``key``'s bucket: 0.0 if allowed, else the seconds to wait."""
        ...

    async def close(self) -> None: ...


class TokenBucket:
    """One bucket, for one key (synchronous: the WebSocket loop uses it per frame)."""

    __slots__ = ("_clock", "burst", "rate", "stamp", "tokens")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self._clock = clock
        self.stamp = clock()

    def take(self) -> float:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class MemoryRateLimiter:
    """Buckets in this process; the least recently used are forgotten past ``max_keys``
    (a forgotten bucket is full again: generous, never wrongly strict)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    async def hit(self, key: str) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take()

    async def close(self) -> None:
        self._buckets.clear()


# Atomic bucket update in Redis: KEYS[1] the bucket; ARGV rate, burst, now (ms).
_REDIS_BUCKET = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) * 1000 / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Buckets shared by every instance through Redis (one Lua call per hit; Redis's
    clock, so instances need not agree on time), on the process's shared client
    (:mod:`collab_server.redis_client`), which it does not close."""

    def __init__(
        self, client: Any, rate: float, burst: int, *, prefix: str = "orpheus:rl:"
    ) -> None:
        self._redis = client
        self.rate, self.burst, self.prefix = rate, burst, prefix
        self._script = client.register_script(_REDIS_BUCKET)
        # While Redis is unreachable each instance limits on its own: requests go on.
        self._fallback = MemoryRateLimiter(rate, burst)
        self._warned_at = -math.inf

    async def hit(self, key: str) -> float:
        try:
            seconds, micros = await self._redis.time()
            now_ms = seconds * 1000 + micros / 1000
            wait_ms = await self._script(
                keys=[self.prefix + key], args=[self.rate, self.burst, now_ms]
            )
        except (RedisError, OSError) as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limits fall back to this instance: Redis unreachable (%s)", exc)
            return await self._fallback.hit(key)
        return float(wait_ms) / 1000

    async def close(self) -> None:
        return None  # the client belongs to whoever built it


class FrameGuard:
    """Checks each WebSocket frame before the room handles it: the connection's update
    rate (over it: close 4429), its rate of every other message (presence, sync step 1,
    presence queries: over it, close 4429) and the room's document size (over it: close
    4413). A read-only connection's updates are refused by the room, but they still take
    from its update bucket, so a viewer cannot flood either.

    The size is tracked as the encoded state measured at the last check plus the bytes
    of updates accepted since; only when that estimate would pass the limit is the
    state encoded again, so the common path costs an addition.
    """

    def __init__(
        self,
        *,
        update_rate: float,
        update_burst: int,
        max_document_bytes: int,
        awareness_rate: float = 0.0,
        awareness_burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.update_rate, self.update_burst = update_rate, update_burst
        self.awareness_rate, self.awareness_burst = awareness_rate, awareness_burst
        self.max_document_bytes = max_document_bytes
        self._clock = clock
        self._buckets: WeakKeyDictionary[Connection, TokenBucket] = WeakKeyDictionary()
        self._other: WeakKeyDictionary[Connection, TokenBucket] = WeakKeyDictionary()
        self._sizes: WeakKeyDictionary[Room, int] = WeakKeyDictionary()

    def __call__(self, room: Room, conn: Connection, frame: bytes) -> None:
        if not _is_update(frame):
            if self.awareness_rate > 0:
                self._take(
                    self._other,
                    conn,
                    self.awareness_rate,
                    self.awareness_burst,
                    "presence and control messages",
                )
            return
        if self.update_rate > 0:
            self._take(self._buckets, conn, self.update_rate, self.update_burst, "updates")
        if self.max_document_bytes > 0 and not conn.read_only:
            self._check_size(room, len(frame))

    def _take(
        self,
        buckets: WeakKeyDictionary[Connection, TokenBucket],
        conn: Connection,
        rate: float,
        burst: int,
        what: str,
    ) -> None:
        bucket = buckets.get(conn)
        if bucket is None:
            bucket = buckets[conn] = TokenBucket(rate, burst, self._clock)
        wait = bucket.take()
        if wait:
            raise RateLimited(f"over {rate:g} {what} per second", retry_after=wait)

    def _check_size(self, room: Room, incoming: int) -> None:
        estimate = self._sizes.get(room)
        if estimate is None or estimate + incoming > self.max_document_bytes:
            estimate = len(room.score.doc.get_update())
            if estimate + incoming > self.max_document_bytes:
                self._sizes[room] = estimate
                raise DocumentTooLarge(f"the score would exceed {self.max_document_bytes:,} bytes")
        self._sizes[room] = estimate + incoming


def _is_update(frame: bytes) -> bool:
    return (
        len(frame) >= 2
        and frame[0] == MessageType.SYNC
        and frame[1] in (SyncType.STEP2, SyncType.UPDATE)
    )


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
