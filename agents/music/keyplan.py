"""The key of each measure of a line, by the analysis engine's key finding.

The line alone (a melody to harmonise) goes through :mod:`analysis_engine.key`: the global
key by Krumhansl-Schmuckler with the notated signature as a prior, and a smoothed key per
measure (windowed correlation and a Viterbi pass), so a chorale's cadence in the dominant
is harmonised in the dominant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.music.tonal import Key
from agents.music.view import Event, ScoreView, to_score_data
from analysis_engine import AnalysisContext, build_table


@dataclass(frozen=True)
class KeyPlan:
    """The global key and the key of every measure of the view."""

    key: Key
    measures: tuple[Key, ...]


def key_plan(view: ScoreView, lines: Sequence[Sequence[Sequence[Event]]]) -> KeyPlan:
    """Keys of ``lines`` (each: events per measure of the view), read together."""
    data = to_score_data(view, [(f"line {i}", cells) for i, cells in enumerate(lines)])
    table = build_table(data)
    if not len(table):
        fallback = _signature_key(view)
        return KeyPlan(fallback, tuple(fallback for _ in view.measures))
    keys = AnalysisContext(table).keys
    best = keys.name(keys.best)
    per_measure = tuple(
        Key.parse(keys.name(int(keys.path[m]), m)) for m in range(len(view.measures))
    )
    return KeyPlan(Key.parse(best), per_measure)


def _signature_key(view: ScoreView) -> Key:
    for info in view.measures:
        if info.key is not None:
            return Key.from_signature(info.key.fifths, info.key.mode)
    return Key((0, 0), "major")
