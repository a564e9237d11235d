"""The quality gate: voice-leading fault counts of a score, of lines, or of a proposed
result before and after it is applied.

All counts come from the analysis engine's own detector
(:mod:`analysis_engine.voice_leading`): parallel and hidden fifths and octaves, crossings,
overlaps, and for vocal scores spacing and range. Nothing is re-implemented here, so a
result is judged exactly as the live analysis will judge the score once it is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.music.view import Line, MusicResult, ScoreView, apply_result, to_score_data
from analysis_engine import AnalysisSettings, build_table, run
from score_model.document import ScoreData, ScoreDoc

FAULTS = (
    "parallel_fifths",
    "parallel_octaves",
    "hidden_fifths",
    "hidden_octaves",
    "crossing",
    "overlap",
    "spacing",
    "range",
)
WEIGHTS = {
    "parallel_fifths": 10,
    "parallel_octaves": 10,
    "hidden_fifths": 2,
    "hidden_octaves": 2,
    "crossing": 4,
    "overlap": 2,
    "spacing": 2,
    "range": 3,
}


@dataclass(frozen=True)
class QualityReport:
    """Fault counts (every name of :data:`FAULTS`, zero included) and the detector's
    issues (each with ``type``, ``measure``, ``onset``, ``parts``, ``pitches``)."""

    counts: dict[str, int]
    issues: tuple[dict[str, Any], ...] = field(default=())
    vocal: bool = False

    @property
    def parallels(self) -> int:
        return self.counts["parallel_fifths"] + self.counts["parallel_octaves"]

    @property
    def score(self) -> int:
        """Weighted sum of the faults (parallels weigh most); lower is better."""
        return sum(WEIGHTS[k] * self.counts[k] for k in FAULTS)

    def worse_than(self, other: QualityReport) -> bool:
        """More parallels than ``other``, or a higher weighted score."""
        return self.parallels > other.parallels or self.score > other.score

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "score": self.score, "vocal": self.vocal}


def _report(result: dict[str, Any], measures: Iterable[str] | None) -> QualityReport:
    wanted = None if measures is None else set(measures)
    issues = tuple(i for i in result["issues"] if wanted is None or i["measure"] in wanted)
    counts = dict.fromkeys(FAULTS, 0)
    for issue in issues:
        if issue["type"] in counts:
            counts[issue["type"]] += 1
    return QualityReport(counts, issues, bool(result["vocal"]))


def check_data(
    data: ScoreData, *, measures: Iterable[str] | None = None, vocal: bool | None = None
) -> QualityReport:
    """Faults of a decoded score, only those in ``measures`` (ids) when given. ``vocal``
    forces (or forbids) the SATB spacing and range rules; ``None`` lets the engine guess
    from the part names."""
    settings = AnalysisSettings(vocal=vocal)
    result = run("voice_leading", build_table(data), settings=settings)["result"]
    return _report(result, measures)


def check_score(
    score: ScoreDoc, *, measures: Iterable[str] | None = None, vocal: bool | None = None
) -> QualityReport:
    return check_data(score.read(), measures=measures, vocal=vocal)


def check_lines(
    view: ScoreView, lines: Sequence[Line], *, vocal: bool | None = None
) -> QualityReport:
    """Faults of some lines (``(name, events per measure)``, top to bottom) alone."""
    return check_data(to_score_data(view, lines), vocal=vocal)


def check_result(
    score: ScoreDoc, result: MusicResult, *, vocal: bool | None = None
) -> tuple[QualityReport, QualityReport]:
    """Faults in the result's measures before and after applying it (to a copy; ``score``
    is not changed). Appended measures count only after."""
    before = check_score(score, measures=result.measures, vocal=vocal)
    copy = ScoreDoc.from_update(score.encode_state())
    written = apply_result(copy, result)
    measures = [m for m in result.measures if not m.startswith("+")] + written["measures"]
    return before, check_score(copy, measures=measures, vocal=vocal)
