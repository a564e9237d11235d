"""Warm scores: the CPU side of analysis jobs, kept between jobs (synchronous, no I/O).

:class:`WarmScores` holds recently analysed scores (an LRU of :class:`WarmScore`: the
pycrdt document, its decoded :class:`~score_model.document.ScoreData` and the
:class:`~analysis_engine.incremental.IncrementalAnalyzer`, whose state must persist
across the edits of a score so that incremental results equal from-scratch ones). The
jobs (:mod:`analysis_engine.jobs`) read storage and save results; they hand this object
the state or the log entries they read and get the stored JSON text back. It runs in
whichever place :mod:`analysis_engine.compute` puts it: a thread of the worker process,
or a child process of the server (:mod:`analysis_engine.compute_child`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analysis_engine.incremental import (
    IncrementalAnalyzer,
    apply_note_changes,
    refresh_structure,
)
from analysis_engine.notetable import build_table
from analysis_engine.registry import run_all
from persistence.results.base import DocVersion, EncodedJson
from score_model.document import ScoreData, ScoreDoc

#: One update-log entry as the jobs hand it over: ``(seq, Yjs update)``.
Entry = tuple[int, bytes]


class NotHeld(KeyError):
    """The score is not (or no longer) warm here: load it first."""


@dataclass
class WarmScore:
    """A score kept in memory between jobs, at ``version``."""

    version: DocVersion
    score: ScoreDoc
    data: ScoreData
    analyzer: IncrementalAnalyzer
    analysed: bool = False  # the analyzer has seen ``version``
    pending_notes: set[str] | None = None  # changed since the last analysis (None: all)


class WarmScores:
    """Up to ``capacity`` warm scores, least recently used dropped first; ``analyses``:
    the analyses to run (``None``: all registered)."""

    def __init__(self, capacity: int = 32, analyses: Sequence[str] | None = None) -> None:
        self.capacity = capacity
        self.analyses = list(analyses) if analyses is not None else None
        self.scores: OrderedDict[str, WarmScore] = OrderedDict()

    def held(self, score_id: str) -> tuple[DocVersion, bool] | None:
        """The version held for the score and whether it was analysed, or ``None``."""
        warm = self.scores.get(score_id)
        if warm is None:
            return None
        self.scores.move_to_end(score_id)
        return warm.version, warm.analysed

    def load(self, score_id: str, state: bytes, version: DocVersion) -> None:
        """Hold the score from a full state (a cold start)."""
        score = ScoreDoc.from_update(state)
        self.scores[score_id] = WarmScore(
            version, score, score.read(), IncrementalAnalyzer(self.analyses)
        )
        self.scores.move_to_end(score_id)
        while len(self.scores) > self.capacity:
            self.scores.popitem(last=False)

    def apply(self, score_id: str, entries: Sequence[Entry]) -> None:
        """Apply log entries (consecutive, after the held version) to the warm document."""
        warm = self._get(score_id)
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
            for _, data in entries:
                score.doc.apply_update(data)
        finally:
            for container, subscription in subscriptions:
                container.unobserve(subscription)
        if structure:
            warm.data = refresh_structure(warm.data, score)
        if changed:
            notes = score.notes
            warm.data = apply_note_changes(warm.data, {n: notes.get(n) for n in changed})
        warm.version = DocVersion(warm.version.epoch, entries[-1][0])
        warm.analysed = False
        if structure or warm.pending_notes is None:
            warm.pending_notes = None  # compare everything
        else:
            warm.pending_notes |= changed

    def analyse(self, score_id: str) -> EncodedJson:
        """Analyse the held version incrementally; the stored JSON text. If it raises,
        the score is dropped (its analyzer may be half-updated)."""
        warm = self._get(score_id)
        try:
            results = warm.analyzer.update(
                warm.data, warm.version.token, changed_notes=warm.pending_notes
            )
        except BaseException:
            self.scores.pop(score_id, None)
            raise
        warm.pending_notes = set()
        warm.analysed = True
        return dumps(warm.version, results)

    def analyse_state(self, state: bytes, version: DocVersion) -> EncodedJson:
        """Analyse a full state from scratch (a named version); nothing is kept."""
        data = ScoreDoc.from_update(state).read()
        return dumps(version, analyse_document(data, version.token, self.analyses))

    def forget(self, score_id: str) -> None:
        self.scores.pop(score_id, None)

    def ids(self) -> list[str]:
        """Held scores, least recently used first."""
        return list(self.scores)

    def _get(self, score_id: str) -> WarmScore:
        warm = self.scores.get(score_id)
        if warm is None:
            raise NotHeld(score_id)
        self.scores.move_to_end(score_id)
        return warm


def analyse_document(
    data: ScoreData, version: Any = None, analyses: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """All analyses (or ``analyses``) of one document, from scratch."""
    return run_all(
        build_table(data), version=version, only=list(analyses) if analyses is not None else None
    )


def dumps(version: DocVersion, results: dict[str, Any]) -> EncodedJson:
    """The stored form: ``{"version": "e1.42", "analyses": {name: envelope}}``."""
    return EncodedJson(
        json.dumps(
            {"version": version.token, "analyses": results},
            allow_nan=False,
            separators=(",", ":"),
        )
    )
