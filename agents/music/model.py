"""The learned statistics (:mod:`agents.music.learn`), loaded once and turned into costs.

:func:`load_stats` reads ``data/chorale_stats.json`` (a few ms, cached for the process).
Costs are negative log probabilities with add-``alpha`` smoothing, so an unseen event is
dear but never impossible.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

STATS_PATH = Path(__file__).with_name("data") / "chorale_stats.json"


@dataclass(frozen=True, eq=False)
class Stats:
    """Counts learned from the chorales: ``harmony`` and ``melody`` (see
    :mod:`agents.music.learn` for their layout), and how many chorales gave them."""

    harmony: dict[str, Any]
    melody: dict[str, Any]
    chorales: int
    _cache: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    _transitions: dict[tuple[str, str, str], float] = field(default_factory=dict, repr=False)

    def chords(self, mode: str, melody_rel: int) -> dict[str, int]:
        """Chord ids seen over a melody pitch class (relative to the tonic), with counts."""
        result: dict[str, int] = self.harmony["emission"].get(mode, {}).get(str(melody_rel), {})
        return result

    def emission_cost(self, mode: str, melody_rel: int, chord: str) -> float:
        """-log P(chord | melody pitch class)."""
        return _neg_log(self.chords(mode, melody_rel), chord, 0.5, 60)

    def context_cost(
        self, mode: str, context: str, melody_rel: int, chord: str, strength: float = 4.0
    ) -> float:
        """-log P(chord | the melody's pitch classes before, at and after the slot), backed
        off towards P(chord | melody pitch class) with ``strength`` pseudo-counts."""
        row = self.harmony["context"].get(mode, {}).get(context, {})
        base = math.exp(-self.emission_cost(mode, melody_rel, chord))
        return -math.log((row.get(chord, 0) + strength * base) / (_total(id(row), row) + strength))

    def likelihood_cost(self, mode: str, melody_rel: int, chord: str) -> float:
        """-log P(melody pitch class | chord): how well the chord explains the note."""
        totals = self._chord_totals(mode)
        count = self.chords(mode, melody_rel).get(chord, 0)
        return -math.log((count + 0.1) / (totals.get(chord, 0) + 1.2))

    def _chord_totals(self, mode: str) -> dict[str, int]:
        cached = self._cache.get(mode)
        if cached is None:
            cached = {}
            for row in self.harmony["emission"].get(mode, {}).values():
                for chord, count in row.items():
                    cached[chord] = cached.get(chord, 0) + count
            self._cache[mode] = cached
        return cached

    def transition_cost(self, mode: str, previous: str, chord: str) -> float:
        """-log P(chord | previous chord)."""
        key = (mode, previous, chord)
        cost = self._transitions.get(key)
        if cost is None:
            row = self.harmony["transition"].get(mode, {}).get(previous, {})
            cost = self._transitions[key] = _neg_log(row, chord, 0.5, 60)
        return cost

    def cadence_cost(self, mode: str, chord: str, final: bool) -> float:
        row = self.harmony["final" if final else "cadence"].get(mode, {})
        return _neg_log(row, chord, 0.5, 60)

    def inversion_cost(self, chord: str, inversion: int) -> float:
        return _neg_log(self.harmony["inversion"].get(chord, {}), str(inversion), 0.5, 4)


def _neg_log(counts: dict[str, int], event: str, alpha: float, outcomes: int) -> float:
    total = _total(id(counts), counts)
    return -math.log((counts.get(event, 0) + alpha) / (total + alpha * outcomes))


_TOTALS: dict[int, tuple[dict[str, int], int]] = {}


def _total(key: int, counts: dict[str, int]) -> int:
    """Sum of a count table, cached for the tables of the loaded statistics (which live
    as long as the process); empty tables are not cached."""
    if not counts:
        return 0
    cached = _TOTALS.get(key)
    if cached is not None and cached[0] is counts:
        return cached[1]
    total = sum(counts.values())
    _TOTALS[key] = (counts, total)
    return total


@lru_cache(maxsize=4)
def load_stats(path: Path = STATS_PATH) -> Stats:
    """The learned statistics (cached per path)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Stats(raw["harmony"], raw["melody"], raw["chorales"])
