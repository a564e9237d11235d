"""Metrical grid of a time signature: beat length and the levels of metrical strength.

Level 0 is the bar line, then (in 4/4-like meters) the half bar, the beat, and successive
halvings of it (thirds first in compound meters) down to a 32nd note. A position's
strength is the first level whose grid it lies on: 0 is strongest. This is the metrical
hierarchy of Lerdahl & Jackendoff (1983) as used by Longuet-Higgins & Lee (1984) for
syncopation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from analysis_engine.units import TPQ

MAX_LEVELS = 8
_FINEST = TPQ // 8  # a 32nd note


@dataclass(frozen=True, slots=True)
class Meter:
    """Beat length and level spacings (ticks, coarse to fine) of one time signature."""

    time: str
    bar: int
    beat: int
    spacings: tuple[int, ...]

    @property
    def beats(self) -> int:
        return max(1, -(-self.bar // self.beat))

    def strength(self, position: int) -> int:
        """Level of a position in ticks from the downbeat (0 = strongest)."""
        for level, spacing in enumerate(self.spacings):
            if position % spacing == 0:
                return level
        return len(self.spacings)


@lru_cache(maxsize=256)
def meter_of(time: str) -> Meter:
    """The metrical grid of a time signature such as ``"6/8"``."""
    numerator, denominator = (int(x) for x in time.split("/"))
    unit = TPQ * 4 // denominator
    bar = numerator * unit
    compound = numerator in (6, 9, 12, 15, 18, 24) and denominator >= 4
    beat = 3 * unit if compound else unit
    beats = bar // beat
    spacings = [bar]
    if beats % 2 == 0 and beats >= 4:
        spacings.append(bar // 2)
    if beat < bar:
        spacings.append(beat)
    spacing = beat // 3 if compound else beat // 2
    while spacing >= _FINEST and len(spacings) < MAX_LEVELS:
        if spacing < spacings[-1]:
            spacings.append(spacing)
        spacing //= 2
    return Meter(time, bar, beat, tuple(spacings))


def spacing_table(times: list[str]) -> np.ndarray:
    """Level spacings per measure, ``[len(times), MAX_LEVELS]``, padded with a huge spacing."""
    table = np.full((len(times), MAX_LEVELS), np.iinfo(np.int64).max // 4, dtype=np.int64)
    for index, time in enumerate(times):
        spacings = meter_of(time).spacings
        table[index, : len(spacings)] = spacings
    return table


def strengths(positions: np.ndarray, spacings: np.ndarray) -> np.ndarray:
    """Vectorised :meth:`Meter.strength`: ``positions[i]`` against ``spacings[i, :]``."""
    on_grid = (positions[:, None] % spacings) == 0
    return np.where(on_grid.any(axis=1), on_grid.argmax(axis=1), MAX_LEVELS)


def strongest_inside(starts: np.ndarray, ends: np.ndarray, spacings: np.ndarray) -> np.ndarray:
    """The strongest level with a grid point strictly inside ``(start, end)``, per row
    (``MAX_LEVELS`` when there is none)."""
    inside = (ends[:, None] - 1) // spacings > starts[:, None] // spacings
    return np.where(inside.any(axis=1), inside.argmax(axis=1), MAX_LEVELS)
