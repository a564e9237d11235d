"""Fan-out through Redis Streams: one stream per score, read by one task per instance.

- ``publish`` is ``XADD <prefix><score> MAXLEN ~ maxlen * i <instance> k <kind> p
  <payload>`` (plus ``EXPIRE``, pipelined: one round trip), so a stream holds the last
  few thousand messages of a score and disappears when the score is idle for a day.
- ``subscribe`` reads the stream's newest id *before* returning; the reader task then
  reads from that id, so every message published after ``subscribe`` returns is
  delivered, including those published while the caller was still loading the score.
- One ``XREAD BLOCK`` covers every subscribed stream plus a private wake-up stream (an
  ``XADD`` to it makes a blocked read return when a subscription is added).
- Redis unreachable: the reader retries with back-off; once it reads again, every
  subscription gets a :data:`~collab_server.fanout.base.RESYNC` message (messages may
  have been missed: a restarted Redis has lost its streams, and publishes failed
  meanwhile). Stream ids are time-based, so a restarted Redis' new entries still sort
  after the cursors kept from before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from collab_server import redis_client
from collab_server.fanout.base import RESYNC, Callback, Message, Subscription

log = logging.getLogger("orpheus.fanout")

_START = (0, 0)


def _parse_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _format_id(stream_id: tuple[int, int]) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


class RedisFanOut:
    """Fan-out over a Redis server, on the process's shared ``redis.asyncio`` client
    (:mod:`collab_server.redis_client`), which it does not close.

    ``block_ms`` is clamped to a second less than the client's command timeout, so an
    idle ``XREAD BLOCK`` returns before the client would give up on it.
    """

    def __init__(
        self,
        client: Redis,
        instance_id: str,
        *,
        prefix: str = "orpheus:fanout:",
        maxlen: int = 10_000,
        stream_ttl: int = 86_400,
        block_ms: int = 5_000,
        batch: int = 1_000,
        retry_delay: float = 0.05,
        max_retry_delay: float = 1.0,
        close_client: bool = False,
    ) -> None:
        if not instance_id or any(c in instance_id for c in " \n\r"):
            raise ValueError(f"invalid instance id {instance_id!r}")
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        if timeout:
            block_ms = min(block_ms, max(100, int((timeout - 1) * 1000)))
        self.client = client
        self._close_client = close_client
        self.instance_id = instance_id
        self.prefix = prefix
        self.maxlen = maxlen
        self.stream_ttl = stream_ttl
        self.block_ms = block_ms
        self.batch = batch
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.connected = True  # False while the reader cannot reach Redis
        self.resyncs = 0
        self._instance = instance_id.encode()
        self._wake_key = f"{prefix}wake:{instance_id}"
        self._wake_cursor = "$"
        self._subs: dict[str, dict[Subscription, tuple[int, int]]] = {}
        self._cursors: dict[str, tuple[int, int] | None] = {}  # None: capture on reconnect
        self._added = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, instance_id: str, **options: Any) -> RedisFanOut:
        """A fan-out with a client of its own for ``redis://host:port/db`` (closed with
        it), for tools and tests; servers pass their shared client to the constructor.
        Failures that outlast the client's retries reach this class, which retries and
        resynchronises itself."""
        return cls(redis_client.connect(url), instance_id, close_client=True, **options)

    def key(self, score_id: str) -> str:
        return self.prefix + score_id

    # --- publishing -----------------------------------------------------------------

    async def publish(self, score_id: str, kind: str, payload: bytes) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self.key(score_id),
                {"i": self._instance, "k": kind, "p": payload},
                maxlen=self.maxlen,
                approximate=True,
            )
            pipe.expire(self.key(score_id), self.stream_ttl)
            await pipe.execute()

    # --- subscribing ----------------------------------------------------------------

    async def subscribe(self, score_id: str, callback: Callback) -> Subscription:
        """Never fails for want of Redis: without it, the subscription starts when the
        reader reconnects and is then told to resync."""
        if self._closed:
            raise RuntimeError("the fan-out is closed")
        subscription = Subscription(score_id, callback)
        try:
            start = await self._newest_id(score_id)
        except (RedisError, OSError) as exc:
            log.warning("fan-out subscribe without Redis: %s", exc, extra={"score": score_id})
            start = None
        subs = self._subs.setdefault(score_id, {})
        subs[subscription] = start or _START
        if score_id not in self._cursors or start is None:
            self._cursors[score_id] = start
        self._ensure_reader()
        self._added.set()
        if start is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.client.xadd(self._wake_key, {"w": b""}, maxlen=1)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.active = False
        subs = self._subs.get(subscription.score_id)
        if subs is not None:
            subs.pop(subscription, None)
            if not subs:
                del self._subs[subscription.score_id]
                self._cursors.pop(subscription.score_id, None)

    async def close(self) -> None:
        self._closed = True
        for subs in self._subs.values():
            for subscription in subs:
                subscription.active = False
        self._subs.clear()
        self._cursors.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(RedisError, OSError):
            await self.client.delete(self._wake_key)
        if self._close_client:
            await self.client.aclose()

    async def _newest_id(self, score_id: str) -> tuple[int, int]:
        newest: Any = await self.client.xrevrange(self.key(score_id), count=1)
        return _parse_id(newest[0][0]) if newest else _START

    # --- the reader -----------------------------------------------------------------

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(
                self._read_loop(), name=f"fanout-reader-{self.instance_id}"
            )

    async def _read_loop(self) -> None:
        delay = self.retry_delay
        while not self._closed:
            if not self._subs:
                self._added.clear()
                await self._added.wait()
                continue
            captured: list[str] = []
            try:
                if not self.connected or None in self._cursors.values():
                    captured = await self._capture_missing_cursors()
                reply = await self._read()
            except (RedisError, OSError) as exc:
                if self.connected:
                    self.connected = False
                    log.warning("fan-out lost Redis; retrying: %s", exc)
                await asyncio.sleep(delay)
                delay = min(self.max_retry_delay, delay * 2)
                continue
            delay = self.retry_delay
            if not self.connected:
                self.connected = True
                log.warning("fan-out reconnected to Redis; resynchronising rooms")
                self._resync(list(self._subs))
            elif captured:
                self._resync(captured)
            self._dispatch(reply)

    async def _capture_missing_cursors(self) -> list[str]:
        """Start reading the streams subscribed while Redis was unreachable from their
        newest entry; return their score ids (they need a resync)."""
        await self.client.ping()
        captured = []
        for score_id, cursor in list(self._cursors.items()):
            if cursor is None:
                newest = await self._newest_id(score_id)
                if self._cursors.get(score_id, _START) is None:
                    self._cursors[score_id] = newest
                    captured.append(score_id)
        return captured

    async def _read(self) -> Any:
        streams: dict[Any, Any] = {
            self.key(score): _format_id(cursor or _START) for score, cursor in self._cursors.items()
        }
        streams[self._wake_key] = self._wake_cursor
        self._added.clear()
        return await self.client.xread(streams, count=self.batch, block=self.block_ms)

    def _dispatch(self, reply: Any) -> None:
        if not reply:
            return
        items = reply.items() if isinstance(reply, dict) else reply
        for raw_key, entries in items:
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            if key == self._wake_key:
                if entries:
                    self._wake_cursor = entries[-1][0].decode()
                continue
            score_id = key[len(self.prefix) :]
            for raw_id, fields in entries:
                stream_id = _parse_id(raw_id)
                if score_id in self._cursors:
                    self._cursors[score_id] = stream_id
                if fields.get(b"i") == self._instance:
                    continue
                message = Message(
                    fields[b"k"].decode(), fields[b"p"], fields[b"i"].decode(), stream_id[0] / 1000
                )  # the id is Redis's clock, in ms
                for subscription, start in list(self._subs.get(score_id, {}).items()):
                    if stream_id > start:
                        self._deliver(subscription, message)

    def _resync(self, score_ids: list[str]) -> None:
        self.resyncs += 1
        for score_id in score_ids:
            for subscription in list(self._subs.get(score_id, {})):
                self._deliver(subscription, Message(RESYNC, b""))

    def _deliver(self, subscription: Subscription, message: Message) -> None:
        try:
            subscription.deliver(message)
        except Exception:
            log.exception("fan-out callback failed", extra={"score": subscription.score_id})
