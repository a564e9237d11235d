"""Announcements of new analysis results, fanned out to the server's subscribers (the
server-sent-event streams of :mod:`collab_server.api.analysis`).

A subscriber holds only the newest announced version per score: a slow reader skips
intermediate results instead of queueing them. Announcements come from the in-process
worker directly, or from Redis pub/sub when workers run elsewhere
(:func:`relay_from_redis`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("orpheus.analysis")


class Subscription:
    """Wakes when a newer result of its score is announced."""

    def __init__(self) -> None:
        self.version: str | None = None
        self._event = asyncio.Event()

    def _set(self, version: str) -> None:
        self.version = version
        self._event.set()

    async def wait(self, timeout: float | None = None) -> str | None:
        """The newest announced version, or ``None`` after ``timeout`` without one."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return None
        self._event.clear()
        return self.version


class AnalysisEvents:
    """Per-score subscriptions to result announcements."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._listeners: list[Callable[[str], None]] = []
        self.announced = 0

    def listen(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(score_id)`` on every announcement (metrics)."""
        self._listeners.append(listener)

    def announce(self, score_id: str, version: str) -> None:
        self.announced += 1
        for listener in self._listeners:
            listener(score_id)
        for subscription in self._subscribers.get(score_id, ()):
            subscription._set(version)

    def subscribers(self, score_id: str) -> int:
        return len(self._subscribers.get(score_id, ()))

    @asynccontextmanager
    async def subscribe(self, score_id: str) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscribers.setdefault(score_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(score_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[score_id]


async def relay_from_redis(
    client: Any, channel: str, events: AnalysisEvents, ready: asyncio.Event | None = None
) -> None:
    """Forward announcements published on a Redis channel (by workers) to ``events``,
    over the process's shared ``redis.asyncio`` client (its pub/sub connection waits
    without a timeout); runs until cancelled, resubscribing after errors."""
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                if ready is not None:
                    ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        body = json.loads(message["data"])
                        events.announce(str(body["score_id"]), str(body["version"]))
                    except (ValueError, KeyError, TypeError):
                        log.warning("ignored a malformed analysis announcement")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning(
                "analysis announcements from Redis interrupted; reconnecting", exc_info=True
            )
            await asyncio.sleep(1.0)
