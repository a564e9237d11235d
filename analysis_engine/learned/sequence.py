"""The sequence model: a bidirectional GRU over every slice, run in numpy.

The MLPs (:mod:`~analysis_engine.learned.key_model`,
:mod:`~analysis_engine.learned.chord_model`) see a measure and its neighbours; this
network reads a run of slices in both directions, so a chord's label and the key in force
can follow from a cadence a few bars away. Its input per slice is the chord network's own
features (:func:`~analysis_engine.learned.features.chord_features`, nothing whole-score);
it outputs per slice the key in force (24) and the chord (12 roots x the 32
:data:`~analysis_engine.learned.classes.CLASSES`), averaged over the transpositions the
weights name (the network was trained on randomly transposed music; a set of shifts
closed under an interval makes that interval's equivariance exact).

It reads the score in **windows**: blocks of :data:`BLOCK` measures, each with
:data:`CONTEXT` slices either side, so a slice's output depends only on nearby music.
:data:`GROUP` windows run as one batch, cached on the feature keys of every measure they
read; an edit recomputes the groups whose windows see it, and an incremental run gives
exactly what a fresh one does. The weights are trained by ``bench/train_sequence.py``
and ship as ``sequence.npz``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis_engine.learned.classes import CLASSES
from analysis_engine.learned.mlp import log_softmax
from analysis_engine.memo import Memo

SEQUENCE_PATH = Path(__file__).with_name("sequence.npz")
BLOCK = 8  # measures whose outputs one window gives
CONTEXT = 16  # slices read either side of a block
GROUP = 4  # windows run (and cached) together, fixed by measure number
NC = len(CLASSES)


@dataclass(frozen=True, eq=False)
class GruLayer:
    """Both directions' weights, stacked (0 forward, 1 backward), laid out for ``x @ w``."""

    w_ih: np.ndarray  # [2, in, 3H] (gates r, z, n)
    b_ih: np.ndarray  # [2, 3H]
    w_hh: np.ndarray  # [2, H, 3H]
    b_hh: np.ndarray  # [2, 1, 3H]


@dataclass(frozen=True, eq=False)
class SequenceWeights:
    """The network, its input standardisation and how its outputs join the MLPs'."""

    mean: np.ndarray  # [D]: inputs are (x - mean) / std
    std: np.ndarray
    inp: tuple[np.ndarray, np.ndarray]  # [D, P], [P], then ReLU
    layers: tuple[GruLayer, ...]
    key: tuple[np.ndarray, np.ndarray]  # [2H, 24]
    chord: tuple[np.ndarray, np.ndarray]  # [2H, 12 * NC]
    shifts: tuple[int, ...]  # transpositions averaged
    key_weight: float  # x the measure's mean key log-probability, added to the MLP's
    chord_weight: float  # x the chord log-probability, added to the MLP's


@lru_cache(maxsize=4)
def load_sequence(path: Path = SEQUENCE_PATH) -> SequenceWeights:
    """The weights in ``path`` (``bench/train_sequence.py --save``; by default the
    packaged ones)."""
    with np.load(path, allow_pickle=False) as archive:
        a = {name: archive[name].astype(np.float32) for name in archive.files}
    layers: list[GruLayer] = []
    while f"gru.weight_ih_l{len(layers)}" in a:
        names = (f"l{len(layers)}", f"l{len(layers)}_reverse")
        layers.append(
            GruLayer(
                np.stack([a[f"gru.weight_ih_{n}"].T for n in names]),
                np.stack([a[f"gru.bias_ih_{n}"] for n in names]),
                np.stack([a[f"gru.weight_hh_{n}"].T for n in names]),
                np.stack([a[f"gru.bias_hh_{n}"] for n in names])[:, None],
            )
        )
    return SequenceWeights(
        a["norm_mean"],
        a["norm_std"],
        (a["inp.0.weight"].T.copy(), a["inp.0.bias"]),
        tuple(layers),
        (a["key.weight"].T.copy(), a["key.bias"]),
        (a["chord.weight"].T.copy(), a["chord.bias"]),
        tuple(int(s) for s in a.get("shifts", np.zeros(1))),
        float(a.get("key_weight", 1.0)),
        float(a.get("chord_weight", 1.0)),
    )


def inputs(channels: np.ndarray, scalars: np.ndarray, shift: int = 0) -> np.ndarray:
    """A slice's input row: its channels (``[S, C, 12]``) transposed up ``shift``
    semitones and flattened, then its scalars (unstandardised)."""
    rolled = np.roll(channels, shift, axis=2) if shift else channels
    flat = rolled.reshape(len(channels), channels.shape[1] * 12)
    return np.concatenate([flat, scalars], axis=1).astype(np.float32)


def hidden_states(weights: SequenceWeights, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The top layer's states ``[B, T, 2H]`` for standardised inputs ``x`` (``[B, T, D]``,
    sequence ``b`` of ``lengths[b]`` steps, padded after). Both directions advance in one
    loop step; the backward one reads each sequence reversed within its own length."""
    batch, steps = x.shape[0], x.shape[1]
    t = np.arange(steps)
    valid = t[None, :] < lengths[:, None]
    rev = np.where(valid, lengths[:, None] - 1 - t[None, :], t[None, :])[..., None]
    h_in = np.maximum(x @ weights.inp[0] + weights.inp[1], 0.0)
    for layer in weights.layers:
        hidden = layer.w_hh.shape[1]
        two = 2 * hidden
        forward = h_in @ layer.w_ih[0] + layer.b_ih[0]
        backward = np.take_along_axis(h_in, rev, axis=1) @ layer.w_ih[1] + layer.b_ih[1]
        pre = np.ascontiguousarray(np.stack([forward, backward]).transpose(2, 0, 1, 3))
        out = np.empty((steps, 2, batch, hidden), np.float32)
        h = np.zeros((2, batch, hidden), np.float32)
        gh = np.empty((2, batch, 3 * hidden), np.float32)
        rz = np.empty((2, batch, two), np.float32)
        n = np.empty((2, batch, hidden), np.float32)
        with np.errstate(all="ignore"):  # exp overflows to inf: the gate is then 0
            for step in range(steps):  # in place: about a dozen array operations a step
                gi = pre[step]
                np.matmul(h, layer.w_hh, out=gh)
                gh += layer.b_hh
                np.add(gi[..., :two], gh[..., :two], out=rz)
                np.negative(rz, out=rz)
                np.exp(rz, out=rz)
                rz += 1.0
                np.reciprocal(rz, out=rz)  # r, z: sigmoid
                np.multiply(rz[..., :hidden], gh[..., two:], out=n)
                n += gi[..., two:]
                np.tanh(n, out=n)
                following = out[step]  # h' = n + z * (h - n)
                np.subtract(h, n, out=following)
                following *= rz[..., hidden:]
                following += n
                h = following
        states = out.transpose(1, 2, 0, 3)  # [2, B, T, H]
        h_in = np.concatenate([states[0], np.take_along_axis(states[1], rev, axis=1)], axis=-1)
    return h_in


Window = tuple[np.ndarray, np.ndarray, int, int]  # channels, scalars, block start, end


def run_windows(
    weights: SequenceWeights, windows: Sequence[Window]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per window ``(channels, scalars, start, end)`` of slices: key ``[end - start, 24]``
    and chord ``[end - start, 12 * NC]`` log-probabilities of the rows ``start:end``,
    averaged over the transpositions. The windows and transpositions run as one batch,
    padded to the longest window. (A batched matrix product may round a row differently
    in another batch, so a window's output is reproduced bit for bit only in the same
    batch: :func:`measure_outputs` fixes the batches.)"""
    if not windows:
        return []
    shifts = weights.shifts
    steps = max(len(channels) for channels, _, _, _ in windows)
    x = np.zeros((len(windows) * len(shifts), steps, len(weights.mean)), np.float32)
    lengths = np.zeros(len(x), dtype=np.int64)
    row = 0
    for channels, scalars, _, _ in windows:
        for shift in shifts:
            x[row, : len(channels)] = (
                inputs(channels, scalars, shift) - weights.mean
            ) / weights.std
            lengths[row] = len(channels)
            row += 1
    states = hidden_states(weights, x, lengths)
    key = states @ weights.key[0] + weights.key[1]
    chord = states @ weights.chord[0] + weights.chord[1]
    out = []
    row = 0
    for _, _, start, end in windows:
        size = end - start
        keys = np.zeros((size, 24), np.float32)
        chords = np.zeros((size, 12 * NC), np.float32)
        for shift in shifts:  # back to the score's pitch
            k = log_softmax(key[row, start:end]).reshape(size, 2, 12)
            keys += np.roll(k, -shift, axis=2).reshape(size, 24)
            c = log_softmax(chord[row, start:end]).reshape(size, 12, NC)
            chords += np.roll(c, -shift, axis=1).reshape(size, 12 * NC)
            row += 1
        out.append((keys / len(shifts), chords / len(shifts)))
    return out


@dataclass(frozen=True)
class WindowPlan:
    """Which measures a block's window reads: ``measures[lo:hi]``, of which
    ``measures[first:last]`` are the block, with ``before`` and ``after`` context slices
    taken from the ends of the measures either side."""

    lo: int
    first: int
    last: int
    hi: int
    before: int
    after: int


def plan_windows(
    sizes: Sequence[int], block: int = BLOCK, context: int = CONTEXT
) -> list[WindowPlan]:
    """The windows of a score whose measures have ``sizes`` slices: one per ``block``
    measures (fixed by measure number), reading up to ``context`` slices either side."""
    plans = []
    count = len(sizes)
    for first in range(0, count, block):
        last = min(count, first + block)
        lo, before = first, 0
        while lo > 0 and before < context:
            lo -= 1
            before += sizes[lo]
        hi, after = last, 0
        while hi < count and after < context:
            after += sizes[hi]
            hi += 1
        plans.append(WindowPlan(lo, first, last, hi, min(before, context), min(after, context)))
    return plans


def window_rows(plan: WindowPlan, features: Sequence[tuple[np.ndarray, np.ndarray]]) -> Window:
    """The window's rows from each measure's ``(channels, scalars)``."""
    before = sum(len(features[m][0]) for m in range(plan.lo, plan.first))
    block = sum(len(features[m][0]) for m in range(plan.first, plan.last))
    rows = slice(before - plan.before, before + block + plan.after)
    channels = np.concatenate([features[m][0] for m in range(plan.lo, plan.hi)])[rows]
    scalars = np.concatenate([features[m][1] for m in range(plan.lo, plan.hi)])[rows]
    return channels, scalars, plan.before, plan.before + block


def window_key(plan: WindowPlan, keys: Sequence[Hashable]) -> Hashable:
    """What a window's output depends on: the feature keys of the measures it reads, and
    where its block lies among them."""
    return (tuple(keys[plan.lo : plan.hi]), plan.first - plan.lo, plan.last - plan.lo)


@dataclass(frozen=True, eq=False)
class MeasureOutputs:
    """The sequence model's log-probabilities per measure (``[S, 24]`` keys,
    ``[S, 12 * NC]`` chords) and what each measure's depend on (``keys``)."""

    keys: list[Hashable]
    key: list[np.ndarray]
    chord: list[np.ndarray]
    key_weight: float
    chord_weight: float

    def measure_key_scores(self) -> np.ndarray:
        """``[M, 24]``: ``key_weight`` x the mean key log-probability of each measure's
        slices (0 for an empty measure), to add to the key network's scores."""
        out = np.zeros((len(self.key), 24))
        for m, rows in enumerate(self.key):
            if len(rows):
                out[m] = rows.mean(axis=0)
        return self.key_weight * out


def measure_outputs(
    feature_keys: Sequence[Hashable],
    features: Sequence[tuple[np.ndarray, np.ndarray]],
    memo: Memo,
    weights: SequenceWeights,
    block: int = BLOCK,
    context: int = CONTEXT,
) -> MeasureOutputs:
    """The sequence model over a score whose measures have chord ``features`` (with their
    keys), in windows (:func:`plan_windows`) run :data:`GROUP` at a time, the groups fixed
    by measure number. A group is cached on its windows' :func:`window_key` and always
    runs as the same batch, so its output never depends on what else is recomputed:
    incremental results equal from-scratch ones bit for bit."""
    sizes = [len(channels) for channels, _ in features]
    plans = plan_windows(sizes, block, context)
    keys = [window_key(plan, feature_keys) for plan in plans]
    groups = [range(g, min(g + GROUP, len(plans))) for g in range(0, len(plans), GROUP)]
    grouped = memo.many(
        "learned.sequence",
        [tuple(keys[i] for i in group) for group in groups],
        lambda missing: [
            run_windows(weights, [window_rows(plans[i], features) for i in groups[g]])
            for g in missing
        ],
    )
    results = [result for group in grouped for result in group]
    own: list[Hashable] = []
    key_rows: list[np.ndarray] = []
    chord_rows: list[np.ndarray] = []
    for plan, window, (key, chord) in zip(plans, keys, results, strict=True):
        offset = 0
        for m in range(plan.first, plan.last):
            rows = slice(offset, offset + sizes[m])
            own.append((window, m - plan.first))
            key_rows.append(key[rows])
            chord_rows.append(chord[rows])
            offset += sizes[m]
    return MeasureOutputs(own, key_rows, chord_rows, weights.key_weight, weights.chord_weight)
