"""Re-index edited documents: a :class:`RoomHooks` that debounces each score's changes
(``quiet`` seconds after the last one, at most ``max_delay`` after the first) and then
indexes a copy of the room's document. A room that loads is indexed too (so scores
stored before search existed join the index when first opened).

Every instance that holds a room re-indexes it, remote changes included (an agent's
edit on a worker reaches the rooms as a remote change): a re-index replaces the score's
rows, so doing it twice is harmless, and the index lives in the shared database.
Changes loaded from the store are not re-indexed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab_server.sync.hooks import RoomHooks
from score_model.origin import Origin, OriginKind

if TYPE_CHECKING:
    from collab_server.sync.room import Room

log = logging.getLogger("orpheus.search")

Indexer = Callable[[str, bytes], Awaitable[None]]


@dataclass
class _Pending:
    first: float
    last: float
    room: Room
    task: asyncio.Task[None] | None = None


class SearchHooks(RoomHooks):
    """Debounce each score's changes, then call ``indexer(score_id, state)``."""

    def __init__(
        self,
        indexer: Indexer,
        *,
        quiet: float = 1.0,
        max_delay: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < quiet <= max_delay:
            raise ValueError("need 0 < quiet <= max_delay")
        self.indexer = indexer
        self.quiet = quiet
        self.max_delay = max_delay
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self.indexed = 0

    async def on_load(self, room: Room) -> None:
        self.touch(room)

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        if origins and all(origin.kind is OriginKind.STORE for origin in origins):
            return
        self.touch(room)

    def touch(self, room: Room) -> None:
        """Note a change of the room's score now."""
        now = self._clock()
        pending = self._pending.get(room.score_id)
        if pending is None:
            pending = self._pending[room.score_id] = _Pending(now, now, room)
            pending.task = asyncio.get_running_loop().create_task(
                self._index_when_quiet(room.score_id, pending),
                name=f"search-debounce-{room.score_id}",
            )
        pending.room = room
        pending.last = now

    async def _index_when_quiet(self, score_id: str, pending: _Pending) -> None:
        while True:
            due = min(pending.last + self.quiet, pending.first + self.max_delay)
            delay = due - self._clock()
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        if self._pending.get(score_id) is pending:
            del self._pending[score_id]
        try:
            await self.indexer(score_id, pending.room.score.encode_state())
            self.indexed += 1
        except Exception:
            log.warning("could not index %r for search", score_id, exc_info=True)

    async def close(self) -> None:
        """Cancel the timers of changes not yet indexed."""
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        self._pending.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
