"""Model inputs: pitch-class channels and invariant scalars, per measure and per slice.

Key features (per measure) see the measure's pitch-class durations and its neighbours',
wider windows, the whole score, the bass, the notated signature and the rule engine's key
path. Chord features (per slice) see the slice, its beat, its measure, the neighbouring
slices (across the bar lines: the previous measure's last slice and the next one's first)
and the rule engine's own label. Chroma vectors are divided by their sum, so loudness and
doubling matter less than which pitch classes sound and for how long.
"""

from __future__ import annotations

import numpy as np

from analysis_engine.chords import QUALITIES
from analysis_engine.slices import MeasureSlices
from analysis_engine.units import TPQ

KEY_NEIGHBOURS = 2  # measures either side seen one by one
KEY_WINDOWS = (4, 8, 16)  # and summed over these radii
KEY_CHORD_WINDOWS = (0, 2, 8)  # the rules' chords of the measure, of +-2 and +-8 measures
KEY_CHORD_GROUPS = 4
KEY_CHANNELS = (
    2 * KEY_NEIGHBOURS + 1 + 2 + len(KEY_WINDOWS) + 1 + 1 + 2 + 4
) + KEY_CHORD_GROUPS * len(KEY_CHORD_WINDOWS)
# chord quality -> group: major (major, major seventh, augmented), minor (minor, minor
# seventh), dominant seventh, diminished (diminished, diminished and half-diminished seventh)
_GROUP = np.array([0, 1, 2, 3, 3, 3, 1, 0, 0], dtype=np.int64)
KEY_SCALARS = 2
CHORD_CHANNELS = 13
CHORD_SCALARS = len(QUALITIES) + 1 + 5 + 6


def normalised(rows: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows of zeros stay zero)."""
    rows = np.asarray(rows, dtype=np.float64)
    total = rows.sum(axis=-1, keepdims=True)
    return np.divide(rows, total, out=np.zeros_like(rows), where=total > 0)


def one_hot(pcs: np.ndarray) -> np.ndarray:
    """``[N, 12]`` one-hot rows of pitch classes (a negative value gives a zero row)."""
    pcs = np.asarray(pcs, dtype=np.int64)
    out = np.zeros((len(pcs), 12), dtype=np.float64)
    rows = np.flatnonzero(pcs >= 0)
    out[rows, pcs[rows] % 12] = 1.0
    return out


def _window_sum(values: np.ndarray, radius: int) -> np.ndarray:
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    index = np.arange(len(values))
    low = np.maximum(index - radius, 0)
    high = np.minimum(index + radius + 1, len(values))
    return cumulative[high] - cumulative[low]


def measure_bass(s: MeasureSlices) -> np.ndarray:
    """Ticks each pitch class is the lowest sounding note of a measure (``[12]``)."""
    return np.bincount(s.bass % 12, weights=s.end - s.start, minlength=12).astype(np.int64)


def measure_chords(s: MeasureSlices) -> np.ndarray:
    """Ticks of the rules' chords in a measure by group (major, minor, dominant seventh,
    diminished) and root (``[4, 12]``): the harmony a key is heard through."""
    out = np.zeros((KEY_CHORD_GROUPS, 12), dtype=np.int64)
    labelled = s.quality >= 0
    if labelled.any():
        length = (s.end - s.start)[labelled]
        np.add.at(out, (_GROUP[s.quality[labelled]], s.root[labelled] % 12), length)
    return out


def key_features(
    pc_time: np.ndarray,
    bass_time: np.ndarray,
    signature: np.ndarray,
    rule_path: np.ndarray,
    rule_windows: np.ndarray,
    rule_global: np.ndarray,
    chord_time: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Channels ``[M, KEY_CHANNELS, 12]`` and scalars ``[M, KEY_SCALARS]`` per measure.

    ``pc_time`` and ``bass_time``: ``[M, 12]`` ticks; ``signature``: the notated major
    tonic in force (-1 where none); the rule engine's key per measure (``rule_path``), its
    per-measure window correlations (``[M, 24]``) and its whole-score correlations
    (``[24]``), keys 0-11 major, 12-23 minor; ``chord_time``: ``[M, 4, 12]`` ticks of the
    rules' chords (:func:`measure_chords`)."""
    count = len(pc_time)
    pcs = pc_time.astype(np.float64)
    bass = bass_time.astype(np.float64)
    padded = np.concatenate([np.zeros((KEY_NEIGHBOURS, 12)), pcs, np.zeros((KEY_NEIGHBOURS, 12))])
    channels = [
        normalised(padded[KEY_NEIGHBOURS + d : KEY_NEIGHBOURS + d + count])
        for d in range(-KEY_NEIGHBOURS, KEY_NEIGHBOURS + 1)
    ]
    channels.append(normalised(bass))
    channels.append(normalised(_window_sum(bass, KEY_NEIGHBOURS)))
    channels += [normalised(_window_sum(pcs, radius)) for radius in KEY_WINDOWS]
    channels.append(np.repeat(normalised(pcs.sum(axis=0, keepdims=True)), count, axis=0))
    channels.append(one_hot(signature))
    rule = np.asarray(rule_path, dtype=np.int64)
    channels.append(one_hot(np.where(rule < 12, rule, -1)))
    channels.append(one_hot(np.where(rule >= 12, rule - 12, -1)))
    windows = np.asarray(rule_windows, dtype=np.float64).reshape(count, 24)
    channels += [windows[:, :12], windows[:, 12:]]
    whole = np.repeat(np.asarray(rule_global, dtype=np.float64).reshape(1, 24), count, axis=0)
    channels += [whole[:, :12], whole[:, 12:]]
    chords = np.asarray(chord_time, dtype=np.float64).reshape(count, KEY_CHORD_GROUPS * 12)
    for radius in KEY_CHORD_WINDOWS:
        summed = normalised(_window_sum(chords, radius)).reshape(count, KEY_CHORD_GROUPS, 12)
        channels += list(summed.transpose(1, 0, 2))
    scalars = np.stack([(pcs.sum(axis=1) == 0).astype(np.float64), (signature < 0) * 1.0], 1)
    return np.stack(channels, axis=1), scalars


def chord_features(
    previous: MeasureSlices | None,
    s: MeasureSlices,
    following: MeasureSlices | None,
    beat: int,
    phase: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Channels ``[S, CHORD_CHANNELS, 12]`` and scalars ``[S, CHORD_SCALARS]`` per slice
    of ``s``, a measure of ``beat`` ticks per beat starting ``phase`` ticks after its
    notional downbeat, between its neighbouring measures (None at the ends)."""
    return chord_features_many([(previous, s, following, beat, phase)])


Neighbourhood = tuple[MeasureSlices | None, MeasureSlices, MeasureSlices | None, int, int]


def _edge(other: MeasureSlices | None, last: bool) -> tuple[np.ndarray, int, np.ndarray]:
    """An edge slice's weights and rule root, and the whole measure's weights."""
    if other is None or other.size == 0:
        return np.zeros(12, dtype=np.int64), -1, np.zeros(12, dtype=np.int64)
    i = other.size - 1 if last else 0
    return other.weights[i], int(other.root[i]), other.weights.sum(axis=0)


def chord_features_many(measures: list[Neighbourhood]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`chord_features` of several measures at once, their slices concatenated.

    Every value is computed within its own measure (sums of integer weights, which are
    exact in any order), so a measure's rows do not depend on the others in the batch."""
    if not measures:
        return np.zeros((0, CHORD_CHANNELS, 12)), np.zeros((0, CHORD_SCALARS))
    sizes = np.array([s.size for _, s, _, _, _ in measures], dtype=np.int64)
    size = int(sizes.sum())
    owner = np.repeat(np.arange(len(measures), dtype=np.int64), sizes)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(m[1], name) for m in measures])

    weights = cat("weights").astype(np.float64)
    start, end, bass, top = cat("start"), cat("end"), cat("bass"), cat("top")
    roots, quality_index, inversions = cat("root"), cat("quality"), cat("inversion")
    attack = cat("attack")
    beat = np.maximum(np.array([m[3] for m in measures], dtype=np.int64), 1)[owner]
    position = start + np.array([m[4] for m in measures], dtype=np.int64)[owner]
    groups = []
    for group in ((owner << 32) | position // beat, (owner << 32) | position // (2 * beat)):
        _, inverse = np.unique(group, return_inverse=True)
        inverse = inverse.reshape(-1)
        summed = np.zeros((int(inverse.max()) + 1 if size else 0, 12))
        np.add.at(summed, inverse, weights)
        lowest = np.full(len(summed), 1 << 20, dtype=np.int64)
        np.minimum.at(lowest, inverse, bass)
        groups.append((summed[inverse], lowest[inverse]))
    totals = np.zeros((len(measures), 12))
    np.add.at(totals, owner, weights)
    has = quality_index >= 0
    rule_root = np.where(has, roots, -1)
    first = np.cumsum(sizes) - sizes
    last = first + sizes - 1
    filled = sizes > 0
    prev_w, next_w = np.zeros_like(weights), np.zeros_like(weights)
    prev_w[1:], next_w[:-1] = weights[:-1], weights[1:]
    prev_root, next_root = np.full(size, -1), np.full(size, -1)
    prev_root[1:], next_root[:-1] = rule_root[:-1], rule_root[1:]
    around = np.zeros((len(measures), 12))
    for i, (previous, _, following, _, _) in enumerate(measures):
        before, before_root, before_all = _edge(previous, True)
        after, after_root, after_all = _edge(following, False)
        around[i] = before_all + after_all
        if filled[i]:
            prev_w[first[i]], prev_root[first[i]] = before, before_root
            next_w[last[i]], next_root[last[i]] = after, after_root
    channels = np.stack(
        [
            normalised(weights),
            one_hot(bass),
            one_hot(top),
            normalised(groups[0][0]),
            one_hot(groups[0][1]),
            normalised(groups[1][0]),
            normalised(totals[owner]),
            normalised(prev_w),
            normalised(next_w),
            normalised(around[owner]),
            one_hot(rule_root),
            one_hot(prev_root),
            one_hot(next_root),
        ],
        axis=1,
    )
    quality = np.zeros((size, len(QUALITIES) + 1))
    quality[np.arange(size), np.where(has, quality_index, len(QUALITIES))] = 1.0
    inversion = np.zeros((size, 5))
    inversion[np.arange(size), np.clip(inversions, -1, 3) + 1] = 1.0
    length = (end - start).astype(np.float64)
    distinct = (weights > 0).sum(axis=1)
    extra = np.stack(
        [
            np.log2(np.maximum(length, 1) / TPQ) / 4,
            attack.astype(np.float64),
            (position == 0) * 1.0,
            (position % beat == 0) * 1.0,
            distinct / 4.0,
            (bass % 12 == roots % 12) * has * 1.0,
        ],
        axis=1,
    )
    return channels, np.concatenate([quality, inversion, extra], axis=1)
