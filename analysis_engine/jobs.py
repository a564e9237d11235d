"""Analysis jobs: what a worker does for "score X changed" and "analyse version V".

These are plain async functions over an :class:`AnalysisJobs` context (storage, result
store, a notifier and the :class:`~analysis_engine.compute.AnalysisCompute` where the CPU
work runs); the Dramatiq actors in :mod:`analysis_engine.worker` only call them.

A worker keeps recently analysed scores *warm* (:mod:`analysis_engine.warm`: the pycrdt
document, its decoded data and the incremental analyzer). For a change the job reads only
the update-log entries after the seq the warm score is at and hands them over, so the
score is re-analysed incrementally; it sends the whole state from ``DocumentStore.load``
only when cold, after an epoch change, or when the entries it needs were compacted away.

A result names the document version it describes, ``DocVersion(epoch, seq)`` (see
:mod:`persistence.results.base`). Failures: :class:`~persistence.errors.StorageError` is
raised (transient: the actor retries); an analysis that raises anything else is stored
as an error result for that version and logged, and the job ends normally. If the
compute side is lost mid-job (:class:`~analysis_engine.compute.AnalysisWorkerLost`: the
analysis process died and is restarted empty), the job is run once more from storage;
lost twice, it is dropped with an error line (the next edit enqueues a new one).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from analysis_engine.compute import (
    AnalysisCompute,
    AnalysisFailed,
    AnalysisWorkerLost,
    LocalCompute,
)
from analysis_engine.warm import analyse_document
from persistence.base import Storage
from persistence.documents.store import DocumentStore
from persistence.errors import NotFound
from persistence.keyed_lock import KeyedLock
from persistence.results.base import DocVersion, EncodedJson, ResultStore, StoredResult

__all__ = ["ALL", "AnalysisJobs", "Notify", "analyse_document", "analyze_score", "analyze_version"]

log = logging.getLogger("orpheus.analysis")

ALL = "all"
Notify = Callable[[StoredResult], Awaitable[None]]


@dataclass
class AnalysisJobs:
    """Everything a job needs. ``notify`` is called with each new live result;
    ``compute`` defaults to a :class:`~analysis_engine.compute.LocalCompute` holding up to
    ``capacity`` warm scores and running ``analyses`` (``None``: all)."""

    storage: Storage
    results: ResultStore
    notify: Notify | None = None
    capacity: int = 32
    analyses: Sequence[str] | None = None
    compute: AnalysisCompute | None = None  # given: closed by whoever built it
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "cold": 0,
            "caught_up": 0,
            "unchanged": 0,
            "failed": 0,
            "lost": 0,
        }
    )
    _locks: KeyedLock = field(default_factory=KeyedLock)  # one job at a time per score

    _own: LocalCompute | None = None

    def __post_init__(self) -> None:
        if self.compute is None:
            self.compute = self._own = LocalCompute(self.capacity, self.analyses)

    @property
    def cpu(self) -> AnalysisCompute:
        assert self.compute is not None
        return self.compute

    def close(self) -> None:
        """Stop the default compute (a given one is closed by whoever built it)."""
        if self._own is not None:
            self._own.shutdown()


async def analyze_score(jobs: AnalysisJobs, score_id: str) -> StoredResult | None:
    """Bring the score's latest analysis up to its stored state and save it.

    Returns the saved result, or ``None`` if the score is gone, a newer result was
    stored meanwhile (by another worker), or the compute side was lost twice."""
    async with _score_lock(jobs, score_id):
        return await _twice(jobs, f"score {score_id!r}", lambda: _analyze_score(jobs, score_id))


async def analyze_version(
    jobs: AnalysisJobs, score_id: str, version_id: str
) -> StoredResult | None:
    """Analyse a named version (from scratch) and keep its result; returns it (an error
    result if the analysis failed; ``None`` if the compute side was lost twice).
    :class:`NotFound` for an unknown score or version."""
    return await _twice(
        jobs,
        f"version {version_id!r} of score {score_id!r}",
        lambda: _analyze_version(jobs, score_id, version_id),
    )


# --- internals ---------------------------------------------------------------------------


async def _twice(
    jobs: AnalysisJobs, what: str, job: Callable[[], Awaitable[StoredResult | None]]
) -> StoredResult | None:
    """Run ``job``; once more if the compute side was lost meanwhile."""
    try:
        return await job()
    except AnalysisWorkerLost as exc:
        jobs.stats["lost"] += 1
        log.warning("analysis of %s: the analysis process was lost (%s); retrying once", what, exc)
    try:
        return await job()
    except AnalysisWorkerLost as exc:
        jobs.stats["lost"] += 1
        log.error("analysis of %s dropped: the analysis process was lost twice (%s)", what, exc)
        return None


async def _analyze_score(jobs: AnalysisJobs, score_id: str) -> StoredResult | None:
    try:
        version, analysed = await _catch_up(jobs, score_id)
    except NotFound:
        await jobs.cpu.forget(score_id)
        log.info("score %r is gone; analysis dropped", score_id)
        return None
    if analysed:
        stored = await jobs.results.get_for_version(score_id, version)
        if stored is not None:
            jobs.stats["unchanged"] += 1
            return stored
    started = time.perf_counter()
    try:
        text = await jobs.cpu.analyse(score_id)  # a failing analysis drops the warm score
    except AnalysisWorkerLost:
        raise
    except Exception as exc:
        text = _error_json(version, exc)
        jobs.stats["failed"] += 1
        _log_failure(f"score {score_id!r} at {version}", exc)
    duration = (time.perf_counter() - started) * 1000
    if not await jobs.results.save(score_id, ALL, version, text, duration_ms=duration):
        return None
    stored = StoredResult(score_id, ALL, version, text, None, time.time(), duration)
    if jobs.notify is not None:
        try:
            await jobs.notify(stored)
        except Exception:
            log.warning("could not announce the analysis of %r", score_id, exc_info=True)
    return stored


async def _analyze_version(jobs: AnalysisJobs, score_id: str, version_id: str) -> StoredResult:
    stored = await jobs.results.get_for_version(score_id, version_id)
    if stored is not None:
        return stored
    version, state = await jobs.storage.versions.get_version(score_id, version_id)
    doc_version = DocVersion(version.epoch, 0)
    started = time.perf_counter()
    try:
        text = await jobs.cpu.analyse_state(state, doc_version)
    except AnalysisWorkerLost:
        raise
    except Exception as exc:
        text = _error_json(doc_version, exc)
        _log_failure(f"version {version_id!r} of score {score_id!r}", exc)
    duration = (time.perf_counter() - started) * 1000
    await jobs.results.save(
        score_id, ALL, doc_version, text, version_id=version_id, duration_ms=duration
    )
    return StoredResult(score_id, ALL, doc_version, text, version_id, time.time(), duration)


def _score_lock(jobs: AnalysisJobs, score_id: str) -> AbstractAsyncContextManager[None]:
    """Serialise the jobs of one score."""
    return jobs._locks(score_id)


async def _catch_up(jobs: AnalysisJobs, score_id: str) -> tuple[DocVersion, bool]:
    """Bring the warm score up to the stored state; its version and whether the
    analyzer has seen it."""
    record = await jobs.storage.catalog.get_score(score_id)
    held = await jobs.cpu.held(score_id)
    if held is not None and held[0].epoch == record.epoch:
        version, analysed = held
        entries = await jobs.storage.log.read(score_id, record.epoch, after=version.seq)
        if not entries:
            return version, analysed
        if entries[0].seq == version.seq + 1:
            await jobs.cpu.apply(score_id, [(entry.seq, entry.data) for entry in entries])
            jobs.stats["caught_up"] += 1
            return DocVersion(version.epoch, entries[-1].seq), False
        # the entries we need were compacted into a snapshot: rebuild
    loaded = await DocumentStore(jobs.storage).load(score_id)
    version = DocVersion(loaded.epoch, loaded.seq)
    await jobs.cpu.load(score_id, loaded.state, version)
    jobs.stats["cold"] += 1
    return version, False


def _log_failure(what: str, exc: BaseException) -> None:
    """One error line with the traceback (the child's, for an analysis that ran there)."""
    if isinstance(exc, AnalysisFailed):
        log.error("analysis of %s failed in the analysis process:\n%s", what, exc.traceback)
    else:
        log.error("analysis of %s failed", what, exc_info=exc)


def _error_json(version: DocVersion, exc: BaseException) -> EncodedJson:
    kind = exc.type_name if isinstance(exc, AnalysisFailed) else type(exc).__name__
    return EncodedJson(
        json.dumps(
            {"version": version.token, "error": {"type": kind, "message": str(exc)[:500]}},
            separators=(",", ":"),
        )
    )
