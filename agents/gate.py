"""The quality gate: voice-leading fault counts of the measures a task wrote, before and
after its writes, and the rule for offering a result (never more parallels, never a
higher weighted fault score)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor

Checker = Callable[[ScoreDoc, Sequence[str]], dict[str, Any]]


def quality_counts(score: ScoreDoc, measures: Sequence[str]) -> dict[str, Any]:
    """Voice-leading fault counts of ``measures`` (``counts``, weighted ``score``)."""
    from agents.music.quality import check_score  # numpy and the analyses: when first used

    return check_score(score, measures=measures).to_json()


def parallels(report: dict[str, Any]) -> int:
    counts = report.get("counts", {})
    return int(counts.get("parallel_fifths", 0)) + int(counts.get("parallel_octaves", 0))


def worse(after: dict[str, Any], before: dict[str, Any]) -> bool:
    """More parallels, or a higher weighted fault score."""
    return parallels(after) > parallels(before) or after.get("score", 0) > before.get("score", 0)


def with_suggestions(score: ScoreDoc, suggestion_ids: Sequence[str]) -> ScoreDoc:
    """A copy of ``score`` with the suggestions applied (what accepting them gives)."""
    copy = ScoreDoc.from_update(score.encode_state())
    ScoreEditor(copy).apply_suggestions(list(suggestion_ids))
    return copy


def reason(name: str, instruction: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """The one-line reason a suggestion carries."""
    return (
        f"{name}: {instruction.strip()[:80]} - parallels {parallels(after)} "
        f"(before {parallels(before)}), fault score {after.get('score', 0)} "
        f"(before {before.get('score', 0)})"
    )
