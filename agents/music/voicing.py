"""Four-part voicings of one chord under a given soprano, with their cost as a sonority.

Every (alto, tenor, bass) in the Kostka-Payne SATB ranges of
:data:`analysis_engine.voice_leading.RANGES` that spells the chord is kept when it obeys
the hard rules the voice-leading analysis checks: no crossing (against every soprano pitch
sounding over the chord, passing notes included), at most an octave soprano-alto and
alto-tenor, root and third present (and the seventh of a seventh chord), no doubled leading
tone or seventh. The cost adds the textbook preferences: root position, root doubling,
a complete triad, the second inversion only as a cadential 6-4, a comfortable tessitura.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from agents.music.tonal import Key, pc_of
from agents.music.vocabulary import Candidate
from analysis_engine.voice_leading import RANGES

INVERSION_COST = ((0.0, 0.7, 6.0), (0.0, 0.6, 1.0, 1.2))  # triads, sevenths
_CENTRE = {"alto": 64, "tenor": 57, "bass": 50}


@dataclass(frozen=True, eq=False)
class Voicings:
    """Parallel arrays, one row per voicing: pitches (MIDI), member role of each voice
    (S, A, T, B; 0 root, 1 third, 2 fifth, 3 seventh), inversion and cost."""

    alto: np.ndarray
    tenor: np.ndarray
    bass: np.ndarray
    roles: np.ndarray  # int64 [N, 4]
    inversion: np.ndarray
    cost: np.ndarray

    @property
    def size(self) -> int:
        return len(self.cost)

    def best(self, count: int) -> Voicings:
        """The ``count`` cheapest voicings (ties in enumeration order)."""
        if self.size <= count:
            return self
        rows = np.argsort(self.cost, kind="stable")[:count]
        return Voicings(
            self.alto[rows],
            self.tenor[rows],
            self.bass[rows],
            self.roles[rows],
            self.inversion[rows],
            self.cost[rows],
        )


def _pitches(pcs: tuple[int, ...], low: int, high: int) -> list[tuple[int, int]]:
    """(MIDI, member index) of every chord tone in a range."""
    return [(midi, pcs.index(midi % 12)) for midi in range(low, high + 1) if midi % 12 in pcs]


@lru_cache(maxsize=4096)
def voicings(
    candidate: Candidate,
    soprano: int,
    s_low: int,
    s_high: int,
    key: Key,
    final: bool = False,
    relaxed: bool = False,
) -> Voicings | None:
    """All acceptable voicings of ``candidate`` under soprano ``soprano`` (MIDI), whose
    line spans ``s_low``..``s_high`` while the chord sounds; ``None`` when there is none.

    ``relaxed`` (for melodies outside the soprano's range) allows two octaves between
    soprano and alto and ranges a fourth wider, at a cost."""
    chord = candidate.chord
    pcs = chord.pcs
    if soprano % 12 not in pcs:
        return None
    s_role = pcs.index(soprano % 12)
    seventh = chord.is_seventh
    leading = key.leading_tone_pc if candidate.function == "dominant" else -1
    rows: list[tuple[int, int, int, int, int, int, int, int, float]] = []
    spread, stretch, penalty = (24, 5, 6.0) if relaxed else (12, 0, 0.0)

    def span(role: str) -> tuple[int, int]:
        low, high = RANGES[role]
        return low - stretch, high + stretch

    altos = [(a, r) for a, r in _pitches(pcs, *span("alto")) if s_high - spread <= a <= s_low]
    tenors = _pitches(pcs, *span("tenor"))
    basses = _pitches(pcs, *span("bass"))
    inversion_costs = INVERSION_COST[1 if seventh else 0]
    for b, b_role in basses:
        if b_role == 2 and not seventh and candidate.chord.label not in ("I", "i"):
            continue  # a 6-4 only on the tonic (cadential)
        for t, t_role in tenors:
            if t < b or t - b > 24:
                continue
            for a, a_role in altos:
                if a < t or a - t > 12:
                    continue
                roles = (s_role, a_role, t_role, b_role)
                if 0 not in roles or 1 not in roles or (seventh and 3 not in roles):
                    continue
                if seventh and roles.count(3) > 1:
                    continue
                if leading >= 0 and sum(1 for p in (soprano, a, t, b) if p % 12 == leading) > 1:
                    continue
                cost = inversion_costs[b_role] + _doubling_cost(roles, chord.quality, final)
                cost += penalty
                cost += 0.04 * (
                    abs(a - _CENTRE["alto"]) + abs(t - _CENTRE["tenor"]) + abs(b - _CENTRE["bass"])
                )
                if t - b > 19:
                    cost += 0.8
                if a == soprano or t == a or b == t:
                    cost += 1.5
                rows.append((a, t, b, *roles, b_role, cost))
    if not rows:
        return None
    table = np.array([r[:-1] for r in rows], dtype=np.int64)
    return Voicings(
        table[:, 0],
        table[:, 1],
        table[:, 2],
        table[:, 3:7],
        table[:, 7],
        np.array([r[-1] for r in rows], dtype=np.float64),
    )


def _doubling_cost(roles: tuple[int, ...], quality: str, final: bool) -> float:
    if len(set(roles)) == 4:
        return 0.0
    if 2 not in roles and quality in ("major", "minor"):
        return 0.4 if final else 1.2  # incomplete triad (tripled root or doubled third)
    doubled = max(set(roles), key=roles.count)
    if doubled == 0:
        return 0.0
    if doubled == 2:
        return 0.7
    if doubled == 1:
        return 0.3 if quality in ("minor", "diminished") else 1.4
    return 2.0


def role_pc(candidate: Candidate, role: int) -> int:
    return pc_of(candidate.chord.members[role])
