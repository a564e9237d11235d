"""Incremental analysis: re-analyse a score after an edit, recomputing only what it touched.

An :class:`IncrementalAnalyzer` keeps, between versions of one score, the note table's
cells (:class:`~analysis_engine.notetable.TableBuilder`) and a
:class:`~analysis_engine.memo.Memo` of per-measure and per-part results keyed by their
exact inputs. After an edit:

- only the edited cells (measure x part) are re-read into the table;
- the slices of the measures the edited notes overlap are recomputed, and with them those
  measures' statistics, rhythm, harmony entries and voice leading (and the voice leading of
  the next measure, which starts from their last slice);
- key windows are re-correlated only where their histogram changed, then the (cheap,
  global) Viterbi pass runs again; measures whose local key moved are re-labelled;
- melody is recomputed for the parts that changed; summary and global key are sums of the
  cached per-measure rows.

Because every cached value is keyed by everything it depends on and all sums are over
integers, the results equal a from-scratch analysis exactly (tested with random edits).
Results share cached sub-objects between versions: treat them as read-only (serialise
them, don't mutate them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from analysis_engine.context import AnalysisContext
from analysis_engine.memo import Memo
from analysis_engine.notetable import NoteTable, TableBuilder
from analysis_engine.registry import names as registered_names
from analysis_engine.registry import run
from analysis_engine.settings import AnalysisSettings
from score_model.document import ScoreData, ScoreDoc, decode_measures, decode_note, decode_parts
from score_model.schema import Note, Problem


class IncrementalAnalyzer:
    """Analyses successive versions of one score, re-using what did not change."""

    def __init__(
        self, analyses: Sequence[str] | None = None, settings: AnalysisSettings | None = None
    ) -> None:
        known = registered_names()
        self.analyses = list(analyses) if analyses is not None else known
        unknown = [name for name in self.analyses if name not in known]
        if unknown:
            raise ValueError(f"unknown analyses {unknown}; known: {known}")
        self.settings = settings or AnalysisSettings()
        self._builder = TableBuilder()
        self._memo = Memo()
        self.table: NoteTable | None = None
        self.recomputed: dict[str, int] = {}  # memo misses of the last update, per cache

    def update(
        self,
        data: ScoreData,
        version: Any = None,
        *,
        changed_notes: Iterable[str] | None = None,
        changed_measures: Iterable[str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Analyse ``data``. Name the notes (or measures) that changed since the previous
        call to skip the comparison of every note; the first call analyses everything."""
        self.table = self._builder.build(
            data, changed_notes=changed_notes, changed_measures=changed_measures
        )
        ctx = AnalysisContext(self.table, self.settings, self._memo)
        results = {name: run(name, ctx, version=version) for name in self.analyses}
        self.recomputed = dict(self._memo.misses)
        self._memo.sweep()
        return results


def apply_note_changes(data: ScoreData, changes: Mapping[str, Any]) -> ScoreData:
    """A new :class:`ScoreData` with some notes replaced by their new raw JSON values (from
    the document's ``notes`` map; ``None`` for a deleted note), decoding only those. Notes
    that fail to decode are dropped and reported as problems, as a full read would."""
    notes: dict[str, Note] = dict(data.notes)
    problems: list[Problem] = [p for p in data.problems if p.note not in changes]
    for note_id, raw in changes.items():
        notes.pop(note_id, None)
        if raw is None:
            continue
        note = decode_note(note_id, raw, problems)
        if note is not None:
            notes[note_id] = note
    return replace(data, notes=notes, problems=problems)


def refresh_structure(data: ScoreData, score: ScoreDoc) -> ScoreData:
    """A new :class:`ScoreData` with the parts and measures re-read from the document (a
    few milliseconds) and the notes kept: after a structural edit (measure or part added,
    moved, removed, or a time or key signature set), without decoding every note."""
    problems = [p for p in data.problems if p.note is not None]
    parts = decode_parts(score.raw_parts(), problems)
    measures = decode_measures(score.raw_measures(), problems)
    return replace(data, parts=parts, measures=measures, problems=problems)


def changed_notes(old: ScoreData, new: ScoreData) -> set[str]:
    """Ids of notes added, removed or changed between two snapshots."""
    changed = {note_id for note_id, note in new.notes.items() if old.notes.get(note_id) != note}
    changed.update(note_id for note_id in old.notes if note_id not in new.notes)
    return changed
