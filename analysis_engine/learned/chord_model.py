"""Chord labels from the learned chord network: each slice's root, quality and inversion.

A measure's slices are relabelled from features of the measure and of its neighbours'
edge slices (:func:`~analysis_engine.learned.features.chord_features`), cached per measure
on the stamps of the three measures, so an edit relabels the measures that see it: its
own and the two beside it. Each measure is one batch of its own, so its labels never
depend on which other measures are recomputed with it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis_engine.learned.classes import decode
from analysis_engine.learned.features import chord_features
from analysis_engine.learned.mlp import forward
from analysis_engine.learned.rotate import rotated
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
    return forward(rotated(channels, scalars), weights.chord).reshape(s.size, -1)


def _spelling(s: MeasureSlices, index: int, root: int) -> str:
    """The root's name as the slice's own notes spell it, else the measure's, else the
    rule label's if it had the same root, else a plain spelling."""
    names = s.member_name
    pcs = s.member_midi % 12
    for members in (np.flatnonzero(s.member_slice == index), np.arange(len(names))):
        for j in members.tolist():
            if int(pcs[j]) == root:
                _, letter, alter = parse_pitch(str(names[j]))
                return STEPS[letter] + ("#" * alter if alter > 0 else "-" * -alter)
    if int(s.root[index]) == root and s.quality[index] >= 0:
        return s.root_name[index]
    return _PLAIN[root]


def relabel_measure(
    previous: MeasureSlices | None,
    s: MeasureSlices,
    following: MeasureSlices | None,
    beat: int,
    phase: int,
    weights: Weights,
) -> MeasureSlices:
    """``s`` with the model's roots, qualities and inversions (and a new stamp)."""
    if s.size == 0:
        return replace(s, stamp=new_stamp())
    logits = chord_scores(previous, s, following, beat, phase, weights)
    root, quality, inversion = decode(logits.argmax(axis=1))
    names = tuple(_spelling(s, i, int(r)) for i, r in enumerate(root.tolist()))
    return replace(
        s, stamp=new_stamp(), root=root, quality=quality, inversion=inversion, root_name=names
    )


def relabelled(slices: SliceSet, grid: MeasureGrid, memo: Memo, weights: Weights) -> SliceSet:
    """The slice set with every measure relabelled by the model (cached per measure)."""
    measures = slices.measures
    count = len(measures)
    beats, phases = grid.beat.tolist(), grid.phase.tolist()

    def neighbour(m: int) -> MeasureSlices | None:
        return measures[m] if 0 <= m < count else None

    keys = [
        (
            measures[m - 1].stamp if m else 0,
            measures[m].stamp,
            measures[m + 1].stamp if m + 1 < count else 0,
            beats[m],
            phases[m],
        )
        for m in range(count)
    ]
    out = memo.many(
        "learned.chords",
        keys,
        lambda missing: [
            relabel_measure(
                neighbour(m - 1), measures[m], neighbour(m + 1), beats[m], phases[m], weights
            )
            for m in missing
        ],
    )
    return SliceSet(slices.table, out)
