"""Melodic n-grams as pure functions: a line of notes becomes interval (and rhythm)
n-grams, each hashed to a signed 63-bit key that the index stores.

A gram covers :data:`GRAM` intervals (``GRAM + 1`` notes). The interval family is
transposition-invariant (semitone steps between successive notes); the rhythm family
adds each note's duration relative to the one before, so it is also tempo-invariant
(doubling every duration gives the same keys). Queries need at least ``GRAM + 1`` notes.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction

#: Intervals per gram.
GRAM = 3
#: Largest interval kept as is (larger leaps are clamped, in semitones).
MAX_LEAP = 24
#: Duration ratios are kept in half-octaves of log2, clamped to +-RATIO_STEPS.
RATIO_STEPS = 8


def intervals(midis: Sequence[int]) -> list[int]:
    """Semitones from each note to the next, clamped to +-:data:`MAX_LEAP`."""
    return [max(-MAX_LEAP, min(MAX_LEAP, b - a)) for a, b in itertools.pairwise(midis)]


def ratios(durations: Sequence[Fraction | float]) -> list[int]:
    """Each duration against the one before, as ``round(2 * log2(next / previous))``."""
    out = []
    for a, b in itertools.pairwise(durations):
        if a <= 0 or b <= 0:
            out.append(0)
        else:
            step = round(2 * math.log2(float(b) / float(a)))
            out.append(max(-RATIO_STEPS, min(RATIO_STEPS, step)))
    return out


def gram_key(steps: Sequence[int], rhythm: Sequence[int] | None = None) -> int:
    """The signed 63-bit key of one gram (``rhythm`` given: the rhythm family)."""
    text = ("r:" if rhythm is not None else "i:") + ",".join(map(str, steps))
    if rhythm is not None:
        text += "|" + ",".join(map(str, rhythm))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=False) >> 1


def grams(
    midis: Sequence[int], durations: Sequence[Fraction | float] | None = None
) -> list[tuple[int, int]]:
    """``(position, key)`` of every gram of a line; position = index of its first note.
    With ``durations``: the rhythm family, else the interval family."""
    steps = intervals(midis)
    rhythm = ratios(durations) if durations is not None else None
    return [
        (
            pos,
            gram_key(steps[pos : pos + GRAM], None if rhythm is None else rhythm[pos : pos + GRAM]),
        )
        for pos in range(len(steps) - GRAM + 1)
    ]


def matches_exactly(
    line: Sequence[int],
    query: Sequence[int],
    start: int,
    *,
    rhythm: tuple[Sequence[Fraction | float], Sequence[Fraction | float]] | None = None,
) -> bool:
    """Whether ``query`` occurs in ``line`` at ``start`` up to transposition (and, with
    ``rhythm`` = (line durations, query durations), up to a tempo factor)."""
    if start < 0 or start + len(query) > len(line):
        return False
    if intervals(line[start : start + len(query)]) != intervals(query):
        return False
    if rhythm is None:
        return True
    return ratios(rhythm[0][start : start + len(query)]) == ratios(rhythm[1])
