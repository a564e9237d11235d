"""Chord labels from the learned chord network: each slice's root, quality and inversion.

A measure's slices are relabelled from features of the measure and of its neighbours'
edge slices (:func:`~analysis_engine.learned.features.chord_features`, cached per measure
on the stamps of the three measures), with the sequence model's chord log-probabilities
added when it runs (:mod:`~analysis_engine.learned.sequence`, cached per window). An edit
relabels the measures that see it: its own, the two beside it, and those whose window
reads it. Each measure is one batch of its own, so its labels never depend on which
other measures are recomputed with it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from itertools import pairwise

import numpy as np

from analysis_engine.learned.classes import decode
from analysis_engine.learned.features import chord_features, chord_features_many
from analysis_engine.learned.mlp import equivariant_forward, log_softmax
from analysis_engine.learned.sequence import MeasureOutputs
from analysis_engine.learned.weights import Weights
from analysis_engine.memo import Memo
from analysis_engine.notetable import MeasureGrid
from analysis_engine.slices import MeasureSlices, SliceSet, new_stamp
from analysis_engine.units import STEPS, parse_pitch

_PLAIN = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def chord_scores(
    previous: MeasureSlices | None,
    s: MeasureSlices,
    following: MeasureSlices | None,
    beat: int,
    phase: int,
    weights: Weights,
) -> np.ndarray:
    """``[S, 12 * 32]`` logits: root-major over :data:`~analysis_engine.learned.classes.CLASSES`."""
    channels, scalars = chord_features(previous, s, following, beat, phase)
    return _scores(channels, scalars, weights)


def _scores(channels: np.ndarray, scalars: np.ndarray, weights: Weights) -> np.ndarray:
    logits = equivariant_forward(channels, scalars, weights.chord, weights.chord_unrolled)
    return logits.reshape(len(channels), -1)


def _spellings(s: MeasureSlices, roots: np.ndarray) -> tuple[str, ...]:
    """Each slice's root named as the slice's own notes spell it (its lowest such note),
    else as the measure's first note of that pitch class does, else as the rule label
    did if it had the same root, else plainly."""
    pcs = s.member_midi % 12
    first_in_measure: dict[int, int] = {}
    for j, pc in enumerate(pcs.tolist()):
        first_in_measure.setdefault(pc, j)
    own = np.flatnonzero(pcs == roots[s.member_slice])
    slices_with, first = np.unique(s.member_slice[own], return_index=True)
    member = np.full(s.size, -1, dtype=np.int64)
    member[slices_with] = own[first]
    out = []
    for i, (root, j) in enumerate(zip(roots.tolist(), member.tolist(), strict=True)):
        if j < 0:
            j = first_in_measure.get(root, -1)
        if j >= 0:
            _, letter, alter = parse_pitch(str(s.member_name[j]))
            out.append(STEPS[letter] + ("#" * alter if alter > 0 else "-" * -alter))
        elif int(s.root[i]) == root and s.quality[i] >= 0:
            out.append(s.root_name[i])
        else:
            out.append(_PLAIN[root])
    return tuple(out)


def _relabel(s: MeasureSlices, best: np.ndarray) -> MeasureSlices:
    """``s`` with the roots, qualities and inversions of the classes ``best`` (and a new
    stamp)."""
    root, quality, inversion = decode(best)
    names = _spellings(s, root)
    return replace(
        s, stamp=new_stamp(), root=root, quality=quality, inversion=inversion, root_name=names
    )


def neighbourhood_keys(slices: SliceSet, grid: MeasureGrid) -> list[Hashable]:
    """Per measure, everything its chord features depend on: its own stamp and its
    neighbours' (0 at the ends), its beat and its phase."""
    measures = slices.measures
    count = len(measures)
    beats, phases = grid.beat.tolist(), grid.phase.tolist()
    return [
        (
            measures[m - 1].stamp if m else 0,
            measures[m].stamp,
            measures[m + 1].stamp if m + 1 < count else 0,
            beats[m],
            phases[m],
        )
        for m in range(count)
    ]


Features = tuple[np.ndarray, np.ndarray]


def measure_features(
    slices: SliceSet, grid: MeasureGrid, keys: Sequence[Hashable], memo: Memo
) -> list[Features]:
    """Each measure's chord features ``(channels, scalars)``, cached on its ``keys``
    (:func:`neighbourhood_keys`); the missing measures are computed in one batch."""
    measures = slices.measures
    count = len(measures)
    beats, phases = grid.beat.tolist(), grid.phase.tolist()

    def neighbour(m: int) -> MeasureSlices | None:
        return measures[m] if 0 <= m < count else None

    def compute(missing: list[int]) -> list[Features]:
        channels, scalars = chord_features_many(
            [
                (neighbour(m - 1), measures[m], neighbour(m + 1), beats[m], phases[m])
                for m in missing
            ]
        )
        bounds = np.cumsum([0] + [measures[m].size for m in missing]).tolist()
        return [
            (channels[a:b].astype(np.float32), scalars[a:b].astype(np.float32))
            for a, b in pairwise(bounds)
        ]

    return memo.many("learned.chord_features", keys, compute)


def relabelled(
    slices: SliceSet,
    keys: Sequence[Hashable],
    features: Sequence[Features],
    memo: Memo,
    weights: Weights,
    sequence: MeasureOutputs | None = None,
) -> SliceSet:
    """The slice set with every measure relabelled by the chord network (its
    log-probabilities plus the sequence model's, weighted, when ``sequence`` is given),
    cached per measure on its feature key (and its sequence outputs' key). Each measure
    runs as a batch of its own, so its labels never depend on which others are
    recomputed with it."""
    measures = slices.measures
    if sequence is not None:
        keys = [(key, own) for key, own in zip(keys, sequence.keys, strict=True)]

    def compute(missing: list[int]) -> list[np.ndarray]:
        out = []
        for m in missing:
            if measures[m].size == 0:
                out.append(np.zeros(0, dtype=np.int64))
                continue
            logits = _scores(*features[m], weights)
            if sequence is not None:
                logits = log_softmax(logits.astype(np.float64))
                logits = logits + sequence.chord_weight * sequence.chord[m]
            out.append(logits.argmax(axis=1))
        return out

    best = memo.many("learned.chords", keys, compute)
    # the same labels on the same slices keep their stamp, so that what is cached on the
    # stamp downstream (harmony) survives an edit whose window changed nothing here
    labelled = [(measures[m].stamp, best[m].tobytes()) for m in range(len(measures))]
    return SliceSet(
        slices.table,
        memo.many(
            "learned.labelled",
            labelled,
            lambda missing: [_relabel(measures[m], best[m]) for m in missing],
        ),
    )
