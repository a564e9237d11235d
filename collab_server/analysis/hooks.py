"""Analysis on edit: a :class:`RoomHooks` that debounces changes per score and enqueues
an analysis job by actor name.

A job is sent ``quiet`` seconds (200 ms) after a score's last change, and at most
``max_delay`` seconds (1 s) after the first change it covers, so a steady stream of
edits still gets analysed every second. Changes that came from another server instance
(``remote``) or from the store are not enqueued again: the instance where they were
made does it. Enqueueing is blocking in Dramatiq, so it runs in a thread.

The actor names are the wire contract with :mod:`analysis_engine.worker` (the server
never imports the analysis code to enqueue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from collab_server.sync.hooks import RoomHooks
from score_model.origin import Origin, OriginKind

if TYPE_CHECKING:
    import dramatiq

    from collab_server.sync.room import Room

log = logging.getLogger("orpheus.analysis")

QUEUE = "orpheus-analysis"
ANALYZE_SCORE = "orpheus.analyze_score"
ANALYZE_VERSION = "orpheus.analyze_version"
_NOT_OURS = frozenset({OriginKind.REMOTE, OriginKind.STORE})


class Enqueuer(Protocol):
    async def analyze_score(self, score_id: str, epoch: int) -> None: ...
    async def analyze_version(self, score_id: str, version_id: str) -> None: ...


class DramatiqEnqueuer:
    """Sends jobs to the analysis actors by name through a Dramatiq broker."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        broker.declare_queue(QUEUE)
        self.sent = 0

    async def analyze_score(self, score_id: str, epoch: int) -> None:
        await self._send(ANALYZE_SCORE, (score_id,), {"epoch": epoch})

    async def analyze_version(self, score_id: str, version_id: str) -> None:
        await self._send(ANALYZE_VERSION, (score_id, version_id), {})

    async def _send(self, actor: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        import dramatiq

        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=QUEUE, actor_name=actor, args=args, kwargs=kwargs, options={}
        )
        await asyncio.to_thread(self.broker.enqueue, message)
        self.sent += 1


@dataclass
class _Pending:
    first: float
    last: float
    epoch: int
    task: asyncio.Task[None] | None = None


class AnalysisHooks(RoomHooks):
    """Debounce each score's changes, then enqueue one analysis job."""

    def __init__(
        self,
        enqueuer: Enqueuer,
        *,
        quiet: float = 0.2,
        max_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < quiet <= max_delay:
            raise ValueError("need 0 < quiet <= max_delay")
        self.enqueuer = enqueuer
        self.quiet = quiet
        self.max_delay = max_delay
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._unanalysed: dict[str, float] = {}  # score id -> its oldest unanalysed change
        self.enqueued = 0

    def pending(self, score_id: str) -> bool:
        """Whether a change of the score waits for its job to be sent."""
        return score_id in self._pending

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        if origins and all(origin.kind in _NOT_OURS for origin in origins):
            return
        self.touch(room.score_id, room.epoch)

    def touch(self, score_id: str, epoch: int) -> None:
        """Note a change of ``score_id`` now (what ``on_change`` does)."""
        now = self._clock()
        self._unanalysed.setdefault(score_id, now)
        pending = self._pending.get(score_id)
        if pending is None or pending.epoch != epoch:
            if pending is not None and pending.task is not None:
                pending.task.cancel()
            pending = self._pending[score_id] = _Pending(now, now, epoch)
            pending.task = asyncio.get_running_loop().create_task(
                self._send_when_quiet(score_id, pending), name=f"analysis-debounce-{score_id}"
            )
        pending.last = now

    def analysed(self, score_id: str) -> float | None:
        """A result of ``score_id`` arrived: the seconds since its oldest change noted here
        and not yet analysed (then forgotten), or ``None``."""
        since = self._unanalysed.pop(score_id, None)
        return None if since is None else self._clock() - since

    async def _send_when_quiet(self, score_id: str, pending: _Pending) -> None:
        while True:
            due = min(pending.last + self.quiet, pending.first + self.max_delay)
            delay = due - self._clock()
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        if self._pending.get(score_id) is pending:
            del self._pending[score_id]
        try:
            await self.enqueuer.analyze_score(score_id, pending.epoch)
            self.enqueued += 1
        except Exception:
            log.warning("could not enqueue the analysis of %r", score_id, exc_info=True)

    async def close(self) -> None:
        """Cancel the timers of changes not yet enqueued."""
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        self._pending.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
