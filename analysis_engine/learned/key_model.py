"""Local keys from the learned key network: per-measure log-probabilities of the 24 keys,
then the Viterbi path with a fixed cost per change of key.

The rule engine's timeline (:func:`analysis_engine.key.key_timeline`) still gives the
global key and its correlations, and is one of the network's inputs; only the path is
replaced. All measures are scored in one batch on every run (a few
milliseconds), so an incremental run computes exactly what a fresh one does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analysis_engine.key import KeyTimeline, viterbi
from analysis_engine.learned.features import (
    KEY_CHORD_GROUPS,
    key_features,
    measure_bass,
    measure_chords,
)
from analysis_engine.learned.mlp import equivariant_forward, log_softmax
from analysis_engine.learned.weights import Weights
from analysis_engine.memo import Memo
from analysis_engine.notetable import NO_KEY, MeasureGrid
from analysis_engine.slices import SliceSet


def signature_tonics(grid: MeasureGrid) -> np.ndarray:
    """The major tonic of the notated key signature in force per measure (-1 before any)."""
    fifths = grid.key_fifths
    index = np.arange(grid.size)
    notated = fifths != NO_KEY
    last = np.maximum.accumulate(np.where(notated, index, -1)) if grid.size else index
    tonic = np.where(last >= 0, (fifths[np.maximum(last, 0)] * 7) % 12, -1)
    return tonic.astype(np.int64)


def key_log_probs(
    pc_time: np.ndarray,
    bass_time: np.ndarray,
    signature: np.ndarray,
    rule_path: np.ndarray,
    rule_windows: np.ndarray,
    rule_global: np.ndarray,
    chord_time: np.ndarray,
    weights: Weights,
) -> np.ndarray:
    """``[M, 24]`` log-probabilities of the keys (0-11 major, 12-23 minor) per measure
    (the arguments are those of :func:`~analysis_engine.learned.features.key_features`)."""
    count = len(pc_time)
    if count == 0:
        return np.zeros((0, 24))
    channels, scalars = key_features(
        pc_time, bass_time, signature, rule_path, rule_windows, rule_global, chord_time
    )
    logits = equivariant_forward(channels, scalars, weights.key, weights.key_unrolled)
    logits = logits.reshape(count, 12, 2)
    return log_softmax(logits.transpose(0, 2, 1).reshape(count, 24).astype(np.float64))


def change_costs(cost: float) -> np.ndarray:
    """The same cost for every change of key."""
    costs = np.full((24, 24), cost)
    np.fill_diagonal(costs, 0.0)
    return costs


def learned_timeline(
    rule: KeyTimeline,
    grid: MeasureGrid,
    pc_time: np.ndarray,
    slices: SliceSet,
    memo: Memo,
    weights: Weights,
    extra: np.ndarray | None = None,
) -> KeyTimeline:
    """The rule timeline with the learned path (the scores and window correlations, which
    the ``key`` analysis reports as ``correlation`` and ``confidence``, stay the rules').
    ``extra`` (``[M, 24]``, the sequence model's) is added to the network's scores before
    the path is found."""
    measures = slices.measures
    bass_rows = memo.many(
        "learned.bass",
        [s.stamp for s in measures],
        lambda missing: [measure_bass(measures[m]) for m in missing],
    )
    bass_time = np.array(bass_rows, dtype=np.int64).reshape(len(measures), 12)
    chord_rows = memo.many(
        "learned.chord_time",
        [s.stamp for s in measures],
        lambda missing: [measure_chords(measures[m]) for m in missing],
    )
    chord_time = np.array(chord_rows, dtype=np.int64).reshape(len(measures), KEY_CHORD_GROUPS, 12)
    scores = key_log_probs(
        pc_time,
        bass_time,
        signature_tonics(grid),
        rule.path,
        rule.windows,
        rule.correlations,
        chord_time,
        weights,
    )
    if extra is not None:
        scores = scores + extra
    path = viterbi(scores, change_costs(weights.key_change_cost))
    return replace(rule, path=path)
