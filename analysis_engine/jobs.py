"""Analysis jobs: what a worker does for "score X changed" and "analyse version V".

These are plain async functions over an :class:`AnalysisJobs` context (storage, result
store, a cache of warm scores, a notifier); the Dramatiq actors in
:mod:`analysis_engine.worker` only call them.

A worker keeps recently analysed scores *warm* (an LRU of :class:`WarmScore`: the
pycrdt document, its decoded :class:`~score_model.document.ScoreData` and the
:class:`~analysis_engine.incremental.IncrementalAnalyzer`). For a change it reads only
the update-log entries after the seq it last saw, applies them, notes which notes and
structures they touched and re-analyses incrementally; it rebuilds from
``DocumentStore.load`` only when cold, after an epoch change, or when the entries it
needs were compacted away.

A result names the document version it describes, ``DocVersion(epoch, seq)`` (see
:mod:`persistence.results.base`). Failures: :class:`~persistence.errors.StorageError` is
raised (transient: the actor retries); an analysis that raises anything else is stored
as an error result for that version and logged, and the job ends normally.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from analysis_engine.incremental import (
    IncrementalAnalyzer,
    apply_note_changes,
    refresh_structure,
)
from analysis_engine.notetable import build_table
from analysis_engine.registry import run_all
from persistence.base import LogEntry, Storage
from persistence.documents.store import DocumentStore
from persistence.errors import NotFound
from persistence.keyed_lock import KeyedLock
from persistence.results.base import DocVersion, ResultStore, StoredResult
from score_model.document import ScoreData, ScoreDoc

log = logging.getLogger("orpheus.analysis")

ALL = "all"
Notify = Callable[[StoredResult], Awaitable[None]]


@dataclass
class WarmScore:
    """A score kept in memory between jobs, at ``version``."""

    version: DocVersion
    score: ScoreDoc
    data: ScoreData
    analyzer: IncrementalAnalyzer
    analysed: bool = False  # the analyzer has seen ``version``
    pending_notes: set[str] | None = None  # changed since the last analysis (None: all)


@dataclass
class AnalysisJobs:
    """Everything a job needs. ``notify`` is called with each new live result."""

    storage: Storage
    results: ResultStore
    notify: Notify | None = None
    capacity: int = 32
    analyses: Sequence[str] | None = None
    warm: OrderedDict[str, WarmScore] = field(default_factory=OrderedDict)
    stats: dict[str, int] = field(
        default_factory=lambda: {"cold": 0, "caught_up": 0, "unchanged": 0, "failed": 0}
    )
    _locks: KeyedLock = field(default_factory=KeyedLock)  # one job at a time per score
    _cpu: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="orpheus-analysis")
    )

    def close(self) -> None:
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)


async def analyze_score(jobs: AnalysisJobs, score_id: str) -> StoredResult | None:
    """Bring the score's latest analysis up to its stored state and save it.

    Returns the saved result, or ``None`` if the score is gone or a newer result was
    stored meanwhile (by another worker)."""
    async with _score_lock(jobs, score_id):
        try:
            warm = await _catch_up(jobs, score_id)
        except NotFound:
            jobs.warm.pop(score_id, None)
            log.info("score %r is gone; analysis dropped", score_id)
            return None
        if warm.analysed:
            stored = await jobs.results.get_for_version(score_id, warm.version)
            if stored is not None:
                jobs.stats["unchanged"] += 1
                return stored
        started = time.perf_counter()
        try:
            text = await jobs._in_thread(_analyse_warm, warm, jobs)
        except Exception as exc:
            jobs.warm.pop(score_id, None)  # its analyzer may be half-updated
            text = _error_json(warm.version, exc)
            jobs.stats["failed"] += 1
            log.exception("analysis of score %r at %s failed", score_id, warm.version)
        duration = (time.perf_counter() - started) * 1000
        if not await jobs.results.save(score_id, ALL, warm.version, text, duration_ms=duration):
            return None
        stored = StoredResult(score_id, ALL, warm.version, text, None, time.time(), duration)
        if jobs.notify is not None:
            try:
                await jobs.notify(stored)
            except Exception:
                log.warning("could not announce the analysis of %r", score_id, exc_info=True)
        return stored


async def analyze_version(jobs: AnalysisJobs, score_id: str, version_id: str) -> StoredResult:
    """Analyse a named version (from scratch) and keep its result; returns it (an error
    result if the analysis failed). :class:`NotFound` for an unknown score or version."""
    stored = await jobs.results.get_for_version(score_id, version_id)
    if stored is not None:
        return stored
    version, state = await jobs.storage.versions.get_version(score_id, version_id)
    doc_version = DocVersion(version.epoch, 0)
    started = time.perf_counter()
    try:
        text = await jobs._in_thread(_analyse_state, state, doc_version, jobs.analyses)
    except Exception as exc:
        text = _error_json(doc_version, exc)
        log.exception("analysis of version %r of score %r failed", version_id, score_id)
    duration = (time.perf_counter() - started) * 1000
    await jobs.results.save(
        score_id, ALL, doc_version, text, version_id=version_id, duration_ms=duration
    )
    return StoredResult(score_id, ALL, doc_version, text, version_id, time.time(), duration)


def analyse_document(
    data: ScoreData, version: Any = None, analyses: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """All analyses (or ``analyses``) of one document, from scratch."""
    return run_all(
        build_table(data), version=version, only=list(analyses) if analyses is not None else None
    )


# --- internals ---------------------------------------------------------------------------


def _score_lock(jobs: AnalysisJobs, score_id: str) -> AbstractAsyncContextManager[None]:
    """Serialise the jobs of one score."""
    return jobs._locks(score_id)


async def _catch_up(jobs: AnalysisJobs, score_id: str) -> WarmScore:
    record = await jobs.storage.catalog.get_score(score_id)
    warm = jobs.warm.get(score_id)
    if warm is not None and warm.version.epoch == record.epoch:
        entries = await jobs.storage.log.read(score_id, record.epoch, after=warm.version.seq)
        if not entries or entries[0].seq == warm.version.seq + 1:
            jobs.warm.move_to_end(score_id)
            if entries:
                await jobs._in_thread(_apply_entries, warm, entries)
                jobs.stats["caught_up"] += 1
            return warm
        # the entries we need were compacted into a snapshot: rebuild
    loaded = await DocumentStore(jobs.storage).load(score_id)
    warm = await jobs._in_thread(
        _cold, loaded.state, DocVersion(loaded.epoch, loaded.seq), jobs.analyses
    )
    jobs.stats["cold"] += 1
    jobs.warm[score_id] = warm
    jobs.warm.move_to_end(score_id)
    while len(jobs.warm) > jobs.capacity:
        jobs.warm.popitem(last=False)
    return warm


def _cold(state: bytes, version: DocVersion, analyses: Sequence[str] | None) -> WarmScore:
    score = ScoreDoc.from_update(state)
    return WarmScore(version, score, score.read(), IncrementalAnalyzer(analyses))


def _apply_entries(warm: WarmScore, entries: list[LogEntry]) -> None:
    """Apply log entries to the warm document and update its decoded data."""
    changed: set[str] = set()
    structure: list[bool] = []
    score = warm.score

    def on_notes(event: Any) -> None:
        changed.update(event.keys)

    subscriptions = [
        (score.notes, score.notes.observe(on_notes)),
        (score.parts, score.parts.observe_deep(lambda events: structure.append(True))),
        (score.measures, score.measures.observe_deep(lambda events: structure.append(True))),
        (score.meta, score.meta.observe(lambda event: structure.append(True))),
    ]
    try:
        for entry in entries:
            score.doc.apply_update(entry.data)
    finally:
        for container, subscription in subscriptions:
            container.unobserve(subscription)
    if structure:
        warm.data = refresh_structure(warm.data, score)
    if changed:
        notes = score.notes
        warm.data = apply_note_changes(warm.data, {n: notes.get(n) for n in changed})
    warm.version = DocVersion(warm.version.epoch, entries[-1].seq)
    warm.analysed = False
    if structure or warm.pending_notes is None:
        warm.pending_notes = None  # compare everything
    else:
        warm.pending_notes |= changed


def _analyse_warm(warm: WarmScore, jobs: AnalysisJobs) -> str:
    results = warm.analyzer.update(warm.data, warm.version.token, changed_notes=warm.pending_notes)
    warm.pending_notes = set()
    warm.analysed = True
    return _dumps(warm.version, results)


def _analyse_state(state: bytes, version: DocVersion, analyses: Sequence[str] | None) -> str:
    return _dumps(
        version, analyse_document(ScoreDoc.from_update(state).read(), version.token, analyses)
    )


def _dumps(version: DocVersion, results: dict[str, Any]) -> str:
    """The stored form: ``{"version": "e1.42", "analyses": {name: envelope}}``."""
    return json.dumps(
        {"version": version.token, "analyses": results}, allow_nan=False, separators=(",", ":")
    )


def _error_json(version: DocVersion, exc: BaseException) -> str:
    return json.dumps(
        {
            "version": version.token,
            "error": {"type": type(exc).__name__, "message": str(exc)[:500]},
        },
        separators=(",", ":"),
    )
