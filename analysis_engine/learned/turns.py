"""Where inside the bar a change of key falls.

The key path is per measure (:mod:`~analysis_engine.learned.key_model`), but music
modulates mid-bar as often as on the bar line: the pivot chord or the new dominant comes
on the third beat, or the old key's cadence ends on the next downbeat. Around every change
of the path, between measures ``m`` (old key) and ``m + 1`` (new key), the change is moved
to the slice of either measure where the two keys' evidence divides best: each slice
scores its pitch classes and its chord (root relative to the tonic, quality) under each
key, weighted by its duration, and a change away from the bar line costs ``cost``. The
profiles and the cost are trained with the networks (``bench/train_harmony.py``); the
slices are the rule engine's (as in training). A change moves only within its two
measures: each change point is cached on the two bars' slices and keys, so an edit
re-places only the changes next to the measures it touched or whose keys moved (the path
itself is recomputed on every run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analysis_engine.slices import MeasureSlices
from analysis_engine.units import TPQ


@dataclass(frozen=True, eq=False)
class TurnModel:
    """Log-probabilities relative to a key's tonic, per mode (0 major, 1 minor), and the
    cost of a change of key away from the bar line."""

    pitch: np.ndarray  # [2, 12]: pitch class
    chord: np.ndarray  # [2, 12, qualities]: chord root and quality
    cost: float


_CLASSES = np.arange(12)


def slice_evidence(
    slices: list[MeasureSlices], keys: tuple[int, int], model: TurnModel
) -> np.ndarray:
    """``[2, slices]``: how well each slice of ``slices`` (one bar's after another's) fits
    each of two keys (0-11 major, 12-23 minor tonics)."""
    weights = np.concatenate([s.weights for s in slices]).astype(np.float64)
    seconds = np.concatenate([s.end - s.start for s in slices]) / TPQ
    quality = np.concatenate([s.quality for s in slices]).astype(np.int64)
    root = np.concatenate([s.root for s in slices]).astype(np.int64)
    totals = weights.sum(axis=1)
    totals[totals == 0] = 1.0
    shares = weights / totals[:, None]
    labelled = quality >= 0
    roots, qualities = root[labelled], quality[labelled]
    out = np.zeros((2, len(seconds)))
    for row, key in enumerate(keys):
        mode, tonic = divmod(key, 12)
        out[row] = shares @ model.pitch[mode][(_CLASSES - tonic) % 12]
        out[row, labelled] += model.chord[mode, (roots - tonic) % 12, qualities]
    return out * seconds


def change_point(
    first: MeasureSlices, second: MeasureSlices, old: int, new: int, model: TurnModel
) -> int:
    """Where a change from key ``old`` (bar ``first``) to ``new`` (bar ``second``) falls:
    the index of the first slice in the new key, counting ``first``'s slices and then
    ``second``'s (``first.size``: on the bar line)."""
    fit = slice_evidence([first, second], (old, new), model)
    before = np.concatenate([[0.0], np.cumsum(fit[0])])  # the old key up to each point
    after = np.concatenate([[0.0], np.cumsum(fit[1])])
    cost = -(before + after[-1] - after) + model.cost
    cost[first.size] -= model.cost  # a change on the bar line costs nothing more
    return int(np.argmin(cost))


Points = Callable[[list[int]], list[int]]


def measure_keys(path: np.ndarray, measures: list[MeasureSlices]) -> list[np.ndarray]:
    """The key of every slice, per measure: its measure's key from ``path``."""
    return [np.full(s.size, int(path[m]), dtype=np.int64) for m, s in enumerate(measures)]


def place_changes(
    path: np.ndarray,
    measures: list[MeasureSlices],
    model: TurnModel,
    points: Points | None = None,
) -> list[np.ndarray]:
    """The key of every slice, per measure: the measure's key from ``path``, except that
    each change of key may move into the measure before it or the one it starts.
    ``points(changes)`` may give the change points of the measures ``m`` in ``changes``
    (whose key differs from the next one's), as :func:`change_point` does (a cache)."""
    keys = measure_keys(path, measures)
    changes = np.flatnonzero(path[1:] != path[:-1]).tolist() if len(path) else []
    if points is None:
        found = [
            change_point(measures[m], measures[m + 1], int(path[m]), int(path[m + 1]), model)
            for m in changes
        ]
    else:
        found = points(changes)
    for m, t in zip(changes, found, strict=True):
        bar = measures[m].size
        if t < bar:
            keys[m][t:] = int(path[m + 1])
        elif t > bar:
            keys[m + 1][: t - bar] = int(path[m])
    return keys
