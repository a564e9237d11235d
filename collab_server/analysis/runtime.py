"""Start-up wiring of live analysis (called by the app factory): the broker and
enqueuer, the debouncing room hooks, result announcements and, in the embedded mode,
the in-process Dramatiq worker. Results are the backend's result store.

- with the process's Redis client: jobs go to Redis for separate ``orpheus worker``
  processes (the broker gets the synchronous client built from the same settings);
  their announcements come back over Redis pub/sub on the shared client.
- otherwise: a stub broker and an in-process Dramatiq worker running the same actors on
  this event loop (see :mod:`analysis_engine.worker`), sharing this process's storage.
  The jobs' I/O runs here; their CPU work (warm scores, the analyses) runs in a child
  process (:class:`~analysis_engine.compute_process.ProcessCompute`), or with
  ``analysis_process=False`` in a thread of this process
  (:class:`~analysis_engine.compute.LocalCompute`). Nothing is process-global: several
  apps may run in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from collab_server.analysis.events import AnalysisEvents, relay_from_redis
from collab_server.analysis.hooks import AnalysisHooks, DramatiqEnqueuer
from collab_server.cache import Cache, CachedResultStore, MemoryCache
from collab_server.redis_client import open_sync_redis
from collab_server.settings import Settings
from persistence.backend import Backend
from persistence.results.base import ResultStore, StoredResult

log = logging.getLogger("orpheus.analysis")

RESULTS_CHANNEL = "orpheus:analysis-results"


@dataclass
class AnalysisRuntime:
    hooks: AnalysisHooks
    results: ResultStore
    events: AnalysisEvents
    enqueuer: DramatiqEnqueuer
    cached: CachedResultStore | None = None  # the REST read path (24 h, invalidated)
    _worker: Any = None
    _jobs: Any = None
    compute: Any = None  # embedded: where the jobs' CPU work runs (AnalysisCompute)
    _broker_client: Any = None  # the broker's synchronous Redis client
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        await self.hooks.close()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.stop)
            self._jobs.close()
            await self.compute.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if isinstance(self.events, _InvalidatingEvents):
            await self.events.drain()
        if self._broker_client is not None:
            await asyncio.to_thread(self._broker_client.close)


async def start_analysis(
    settings: Settings,
    backend: Backend,
    *,
    redis: Any = None,
    quiet: float = 0.2,
    max_delay: float = 1.0,
    cache: Cache | None = None,
) -> AnalysisRuntime:
    """Build and start everything. Results go to the backend's result store; REST reads
    go through ``cache`` (default: a private in-memory one), invalidated when a result
    is saved here or announced by a worker elsewhere. ``redis``: the process's asyncio
    client (``None``: the embedded mode)."""
    results = backend.results
    cached = CachedResultStore(results, cache if cache is not None else MemoryCache())
    if redis is not None:
        from analysis_engine.worker import make_broker

        # Workers elsewhere save results: forget the cached ones when they announce.
        events: AnalysisEvents = _InvalidatingEvents(cached)
        broker_client = open_sync_redis(settings)
        enqueuer = DramatiqEnqueuer(make_broker(broker_client))
        runtime = AnalysisRuntime(
            AnalysisHooks(enqueuer, quiet=quiet, max_delay=max_delay),
            results,
            events,
            enqueuer,
            cached=cached,
            _broker_client=broker_client,
        )
        ready = asyncio.Event()
        runtime._tasks.append(
            asyncio.get_running_loop().create_task(
                relay_from_redis(redis, RESULTS_CHANNEL, events, ready)
            )
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 5)
        return runtime

    from analysis_engine import worker
    from analysis_engine.compute import AnalysisCompute, LocalCompute
    from analysis_engine.compute_process import ProcessCompute
    from analysis_engine.jobs import AnalysisJobs

    events = AnalysisEvents()

    async def announce(result: StoredResult) -> None:
        events.announce(result.score_id, result.version.token)

    broker = worker.make_broker()
    # The one place that decides where embedded analysis runs (started on first use).
    compute: AnalysisCompute = ProcessCompute() if settings.analysis_process else LocalCompute()
    # saves invalidate the cache
    jobs = AnalysisJobs(backend.storage, cached, notify=announce, compute=compute)
    worker.declare_actors(broker, jobs, loop=asyncio.get_running_loop())
    enqueuer = DramatiqEnqueuer(broker)
    runtime = AnalysisRuntime(
        AnalysisHooks(enqueuer, quiet=quiet, max_delay=max_delay),
        results,
        events,
        enqueuer,
        cached=cached,
        _jobs=jobs,
        compute=compute,
    )
    runtime._worker = await asyncio.to_thread(worker.start_worker, broker, threads=2, poll_ms=50)
    return runtime


class _InvalidatingEvents(AnalysisEvents):
    """Announcements that also drop the score's cached results (shared in Redis, so
    the first instance to hear it invalidates for all)."""

    def __init__(self, cached: CachedResultStore) -> None:
        super().__init__()
        self._cached = cached
        self._pending: set[asyncio.Task[None]] = set()

    def announce(self, score_id: str, version: str) -> None:
        task = asyncio.get_running_loop().create_task(self._cached.invalidate_score(score_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        super().announce(score_id, version)

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
