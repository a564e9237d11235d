"""Live, incremental music analysis over a flat note table.

``build_table(data)`` turns a :class:`~score_model.document.ScoreData` into a
:class:`NoteTable`; ``run(name, table, version=...)`` runs one registered analysis
(``names()`` lists them); :class:`IncrementalAnalyzer` re-analyses successive versions of a
score, recomputing only what an edit touched. See ``docs/analysis.md``.
"""

from analysis_engine.context import AnalysisContext
from analysis_engine.incremental import (
    IncrementalAnalyzer,
    apply_note_changes,
    changed_notes,
    refresh_structure,
)
from analysis_engine.notetable import NoteTable, TableBuilder, build_table
from analysis_engine.registry import UnknownAnalysis, analysis, names, run, run_all
from analysis_engine.settings import AnalysisSettings

__all__ = [
    "AnalysisContext",
    "AnalysisSettings",
    "IncrementalAnalyzer",
    "NoteTable",
    "TableBuilder",
    "UnknownAnalysis",
    "analysis",
    "apply_note_changes",
    "build_table",
    "changed_notes",
    "names",
    "refresh_structure",
    "run",
    "run_all",
]
