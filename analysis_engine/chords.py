"""Chord root and quality by weighted template matching, vectorised over sonorities.

Each sonority is a 12-vector of pitch-class weights (how long each sounding note lasts,
capped at a quarter, so passing notes weigh less than chord tones). Every template (9
qualities x 12 roots) is scored as in Pardo & Birmingham (2002): the weight of notes in
the template, minus the weight of notes outside it, minus a penalty for each template note
that is missing. Ties go to the template whose root sounds, then whose root is in the bass,
then to the simpler quality.

References: B. Pardo and W. P. Birmingham, "Algorithms for chordal analysis", Computer
Music Journal 26(2), 2002; T. Winograd, "Linguistics and the computer analysis of tonal
harmony", Journal of Music Theory 12(1), 1968 (templates over pitch-class sets).
"""

from __future__ import annotations

import numpy as np

from analysis_engine.units import TPQ

QUALITIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("major", (0, 4, 7)),
    ("minor", (0, 3, 7)),
    ("dominant-seventh", (0, 4, 7, 10)),
    ("diminished", (0, 3, 6)),
    ("diminished-seventh", (0, 3, 6, 9)),
    ("half-diminished", (0, 3, 6, 10)),
    ("minor-seventh", (0, 3, 7, 10)),
    ("major-seventh", (0, 4, 7, 11)),
    ("augmented", (0, 4, 8)),
)
QUALITY_NAMES = tuple(name for name, _ in QUALITIES)
QUALITY_INDEX = {name: index for index, name in enumerate(QUALITY_NAMES)}
NO_QUALITY = -1
WEIGHT_CAP = TPQ  # a note counts for at most a quarter note's worth
MISSING_PENALTY = TPQ // 2
SEVENTH_PENALTY = 2 * TPQ  # see label_chords (2 * TPQ and TPQ tie on the dev part)

# MEMBER[q, interval]: 0 root, 1 third, 2 fifth, 3 seventh, -1 not in the chord.
MEMBER = np.full((len(QUALITIES), 12), -1, dtype=np.int64)
for _q, (_, _intervals) in enumerate(QUALITIES):
    for _position, _interval in enumerate(_intervals):
        MEMBER[_q, _interval] = _position

_SIZES = np.array([len(intervals) for _, intervals in QUALITIES], dtype=np.int64)
# TEMPLATES[q * 12 + root, pc] = 1 when pc is in the chord.
TEMPLATES = np.zeros((len(QUALITIES) * 12, 12), dtype=np.int64)
for _q, (_, _intervals) in enumerate(QUALITIES):
    for _root in range(12):
        for _interval in _intervals:
            TEMPLATES[_q * 12 + _root, (_root + _interval) % 12] = 1
_ROOTS = np.tile(np.arange(12), len(QUALITIES))
_QUALITY_OF = np.repeat(np.arange(len(QUALITIES)), 12)
_PRIOR = 15 - _QUALITY_OF  # earlier qualities win ties


def label_chords(
    weights: np.ndarray, bass_pc: np.ndarray, thin: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Root pitch class and quality index per sonority (``[S, 12]`` integer weights).

    A sonority of one pitch class gets that root and :data:`NO_QUALITY`. ``thin`` marks
    sonorities whose weights were gathered over a beat (figuration): there a seventh
    chord must beat its triad by :data:`SEVENTH_PENALTY`, since the melody's passing
    notes would otherwise make most triads sevenths."""
    count = len(weights)
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    present = (weights > 0).astype(np.int64)
    inside = weights @ TEMPLATES.T  # integer matmul: exact
    total = weights.sum(axis=1, keepdims=True)
    missing = _SIZES[_QUALITY_OF][None, :] - present @ TEMPLATES.T
    score = inside - (total - inside) - missing * MISSING_PENALTY
    if thin is not None and thin.any():
        score = score - np.outer(thin, _SIZES[_QUALITY_OF] == 4) * SEVENTH_PENALTY
    root_sounds = present[:, _ROOTS]
    root_in_bass = (bass_pc[:, None] == _ROOTS[None, :]).astype(np.int64)
    composite = ((score * 2 + root_sounds) * 2 + root_in_bass) * 16 + _PRIOR[None, :]
    best = composite.argmax(axis=1)
    roots = _ROOTS[best]
    qualities = _QUALITY_OF[best]
    single = present.sum(axis=1) <= 1
    roots = np.where(single, bass_pc, roots)
    qualities = np.where(single, NO_QUALITY, qualities)
    return roots.astype(np.int64), qualities.astype(np.int64)


def classify(root: int, pitch_classes: set[int] | frozenset[int]) -> str:
    """The quality name of an exact pitch-class set above a root, or ``"other"``."""
    intervals = tuple(sorted({(pc - root) % 12 for pc in pitch_classes}))
    for name, template in QUALITIES:
        if intervals == template:
            return name
    return "other"
