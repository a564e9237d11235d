"""Dramatiq actors for analysis: thin shells over :mod:`analysis_engine.jobs`.

Actors are declared on a broker passed in (:func:`declare_actors`), under fixed names
that the server uses to enqueue without importing this module::

    orpheus.analyze_score    (score_id, epoch=None)   queue "orpheus-analysis"
    orpheus.analyze_version  (score_id, version_id)

Each declaration is bound to its own job context (:class:`~analysis_engine.jobs.AnalysisJobs`,
or a coroutine function building it lazily on the actors' event loop, so it may open
database pools there): nothing is process-global, and two brokers in one process do not
share state.

Where the coroutines run (:func:`make_broker`): with Redis (production, ``orpheus
worker`` processes), on Dramatiq's ``AsyncIO`` event-loop thread; in the embedded mode
(a ``StubBroker`` and an in-process Dramatiq ``Worker``), on the *server's* event loop,
given as ``loop``, so the jobs share its storage objects (an in-memory backend or one
SQLite connection cannot be used from a second loop). Either way the same actor code,
retries and time limits apply, and the CPU work runs wherever the jobs' compute puts it
(:mod:`analysis_engine.compute`: a thread of the worker, or the server's child process).

Time limit 60 s per job; :class:`~persistence.errors.StorageError` is retried (up to 5
times, 100 ms to 5 s back-off); anything else is reported by the job itself (an error
result) and never kills the worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from analysis_engine import jobs as job_functions
from analysis_engine.jobs import AnalysisJobs, Notify
from persistence.errors import StorageError
from persistence.results.base import StoredResult

log = logging.getLogger("orpheus.worker")

QUEUE = "orpheus-analysis"
ANALYZE_SCORE = "orpheus.analyze_score"
ANALYZE_VERSION = "orpheus.analyze_version"
#: Redis pub/sub channel on which workers announce new live results.
RESULTS_CHANNEL = "orpheus:analysis-results"
MAX_RETRIES = 5
TIME_LIMIT_MS = 60_000

T = TypeVar("T")
JobsFactory = Callable[[], Awaitable[AnalysisJobs]]


class JobsContext:
    """The job context of one declaration: given, or built once on first use."""

    def __init__(self, jobs: AnalysisJobs | JobsFactory) -> None:
        self._jobs = jobs if isinstance(jobs, AnalysisJobs) else None
        self._factory = None if isinstance(jobs, AnalysisJobs) else jobs
        self._lock: asyncio.Lock | None = None

    async def get(self) -> AnalysisJobs:
        if self._jobs is None:
            assert self._factory is not None
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._jobs is None:
                    self._jobs = await self._factory()
        return self._jobs


def is_transient(retries: int, exc: BaseException) -> bool:
    """Retry storage failures only (and only ``MAX_RETRIES`` times)."""
    return isinstance(exc, StorageError) and retries < MAX_RETRIES


def declare_actors(
    broker: dramatiq.Broker,
    jobs: AnalysisJobs | JobsFactory,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> dict[str, dramatiq.Actor[Any, Any]]:
    """Declare the analysis actors on ``broker``, bound to ``jobs``. Their coroutines run
    on ``loop`` if given (embedded), else on Dramatiq's ``AsyncIO`` event-loop thread."""
    context = JobsContext(jobs)
    hosted = _HostedLoop(loop) if loop is not None else None

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        runner = hosted or get_event_loop_thread()
        if runner is None:
            coroutine.close()
            raise RuntimeError(
                "no event loop for the analysis actors: add the AsyncIO middleware or pass loop="
            )
        return runner.run_coroutine(coroutine)

    async def score_job(score_id: str) -> None:
        await job_functions.analyze_score(await context.get(), score_id)

    async def version_job(score_id: str, version_id: str) -> None:
        await job_functions.analyze_version(await context.get(), score_id, version_id)

    def analyze_score(score_id: str, epoch: int | None = None) -> None:
        """Analyse the score's newest stored state (``epoch`` is informative)."""
        run(score_job(score_id))

    def analyze_version(score_id: str, version_id: str) -> None:
        """Analyse a named version."""
        run(version_job(score_id, version_id))

    def declare(name: str) -> Any:
        return dramatiq.actor(
            actor_name=name,
            queue_name=QUEUE,
            broker=broker,
            max_retries=MAX_RETRIES,
            min_backoff=100,
            max_backoff=5_000,
            time_limit=TIME_LIMIT_MS,
            retry_when=is_transient,
        )

    actors = {
        ANALYZE_SCORE: declare(ANALYZE_SCORE)(analyze_score),
        ANALYZE_VERSION: declare(ANALYZE_VERSION)(analyze_version),
    }
    return actors


class _HostedLoop(EventLoopThread):
    """Dramatiq's coroutine runner (interrupts cancel the coroutine) on a loop someone
    else runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.interrupt_check_ival = 0.1
        self.logger = log
        self.loop = loop


def make_broker(client: Any = None) -> dramatiq.Broker:
    """A Redis broker (with the ``AsyncIO`` middleware) on ``client``, a synchronous
    ``redis.Redis`` built by the caller's start-up code (Dramatiq's broker is
    synchronous), else an in-process stub broker. Actors are not declared: see
    :func:`declare_actors`."""
    if client is None:
        return StubBroker()
    from dramatiq.brokers.redis import RedisBroker

    broker: dramatiq.Broker = RedisBroker(client=client)
    broker.add_middleware(AsyncIO())
    return broker


def start_worker(
    broker: dramatiq.Broker, *, threads: int = 2, poll_ms: int = 100
) -> dramatiq.Worker:
    """Start a Dramatiq worker on the analysis queue (``poll_ms``: idle poll timeout)."""
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=threads, worker_timeout=poll_ms)
    worker.start()
    return worker


def redis_notifier(client: Any) -> Notify:
    """A :data:`~analysis_engine.jobs.Notify` publishing ``{"score_id", "version"}`` on
    :data:`RESULTS_CHANNEL` through ``client`` (the process's ``redis.asyncio`` client,
    closed by whoever built it)."""

    async def notify(result: StoredResult) -> None:
        await client.publish(
            RESULTS_CHANNEL,
            json.dumps({"score_id": result.score_id, "version": result.version.token}),
        )

    return notify
