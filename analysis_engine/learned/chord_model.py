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
from analysis_engine.learned.features import (
    Neighbourhood,
    chord_features,
    chord_features_many,
)
from analysis_engine.learned.mlp import equivariant_forward
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


def _relabel(s: MeasureSlices, logits: np.ndarray) -> MeasureSlices:
    """``s`` with the roots, qualities and inversions of ``logits`` (and a new stamp)."""
    root, quality, inversion = decode(logits.argmax(axis=1))
    names = _spellings(s, root)
    return replace(
        s, stamp=new_stamp(), root=root, quality=quality, inversion=inversion, root_name=names
    )


def relabel_measures(measures: list[Neighbourhood], weights: Weights) -> list[MeasureSlices]:
    """Each ``(previous, measure, following, beat, phase)`` measure relabelled by the
    model: features in one batch (row by row), the network run measure by measure so a
    measure's labels never depend on which others are recomputed with it."""
    channels, scalars = chord_features_many(measures)
    out = []
    offset = 0
    for _, s, _, _, _ in measures:
        rows = slice(offset, offset + s.size)
        if s.size == 0:
            out.append(replace(s, stamp=new_stamp()))
        else:
            out.append(_relabel(s, _scores(channels[rows], scalars[rows], weights)))
        offset += s.size
    return out


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
        lambda missing: relabel_measures(
            [
                (neighbour(m - 1), measures[m], neighbour(m + 1), beats[m], phases[m])
                for m in missing
            ],
            weights,
        ),
    )
    return SliceSet(slices.table, out)
