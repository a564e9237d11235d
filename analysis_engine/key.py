"""Key finding: global key, and a smoothed key per measure with its modulations
(reported by the ``key`` analysis, :mod:`analysis_engine.tonality`).

Global key: the Krumhansl-Schmuckler algorithm. The duration-weighted pitch-class histogram
of the whole score is correlated (Pearson) with a key profile rotated to each of the 24
keys, all at once as one ``[24, 12]`` product. Two small priors break near ties: agreement
with the notated key signature, and the last bass note being the tonic.

Local keys: the same correlation (by default with Temperley's Kostka-Payne profiles, drawn
from textbook excerpts and less biased towards the dominant than the Essen profiles, which
suits short windows) over a window of measures around each measure, weighted 1-2-1 by
default, gives a ``[measures, 24]`` score matrix; a Viterbi pass then picks the key
sequence that maximises the summed correlations minus a cost for every change of key
(higher for distant keys), so a passing chromatic chord does not make a modulation. A
modulation is reported where the chosen key changes.

References: C. L. Krumhansl, "Cognitive Foundations of Musical Pitch", Oxford 1990 (the
algorithm, and the Krumhansl-Kessler profiles); B. Aarden, "Dynamic melodic expectancy",
PhD thesis, Ohio State 2003 (Essen-corpus profiles, music21's default); D. Temperley,
"Music and Probability", MIT Press 2007 (Kostka-Payne profiles, and key finding as a hidden
Markov model); J. Bellman, "About the determination of key of a musical excerpt", CMMR 2005.
Windowed key tracking: C. Sapp, "Visual hierarchical key analysis", ACM Computers in
Entertainment 3(4), 2005.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis_engine.memo import Memo
from analysis_engine.notetable import NO_KEY, NoteTable
from analysis_engine.profiles import PROFILES
from analysis_engine.settings import AnalysisSettings
from analysis_engine.slices import SliceSet
from analysis_engine.stats import MeasureStats
from analysis_engine.units import key_name

MODES = ("major", "minor")


def key_tonic(key: int) -> int:
    return key % 12


def key_mode(key: int) -> str:
    return MODES[key // 12]


_KEY_NAMES = {
    flats: tuple(key_name(k % 12, MODES[k // 12], flats) for k in range(24))
    for flats in (False, True)
}


def _standardised(profile: str) -> np.ndarray:
    major, minor = (np.array(p, dtype=np.float64) for p in PROFILES[profile])
    rows = [np.roll(major, tonic) for tonic in range(12)] + [
        np.roll(minor, tonic) for tonic in range(12)
    ]
    matrix = np.array(rows)
    matrix -= matrix.mean(axis=1, keepdims=True)
    return matrix / np.sqrt((matrix * matrix).sum(axis=1, keepdims=True))


_STANDARDISED = {name: _standardised(name) for name in PROFILES}


def correlate(histograms: np.ndarray, profile: str = "aarden") -> np.ndarray:
    """Pearson correlation of each histogram row (``[N, 12]``) with the 24 keys (``[N, 24]``,
    keys 0-11 major on C..B, 12-23 minor). A row that is all zeros correlates 0.

    Computed row by row (broadcast and sum, no BLAS), so a row's value does not depend on
    which other rows are in the batch."""
    h = np.asarray(histograms, dtype=np.float64)
    centred = h - h.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred * centred).sum(axis=1, keepdims=True))
    unit = np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 0)
    return (unit[:, None, :] * _STANDARDISED[profile][None, :, :]).sum(axis=2)


def _circle_position(key: int) -> int:
    major_tonic = key % 12 if key < 12 else (key % 12 + 3) % 12
    return (major_tonic * 7) % 12


def _change_costs(settings: AnalysisSettings) -> np.ndarray:
    positions = np.array([_circle_position(k) for k in range(24)])
    distance = np.abs(positions[:, None] - positions[None, :])
    distance = np.minimum(distance, 12 - distance)
    costs = settings.modulation_cost + settings.modulation_distance_cost * distance
    np.fill_diagonal(costs, 0.0)
    return costs


def viterbi(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """The key path maximising summed ``scores[m, key]`` minus ``costs[from, to]``."""
    count = len(scores)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    states = np.arange(scores.shape[1])
    back = np.zeros((count, scores.shape[1]), dtype=np.int64)
    total = scores[0].copy()
    for m in range(1, count):
        candidates = total[:, None] - costs
        best = candidates.argmax(axis=0)
        back[m] = best
        total = candidates[best, states] + scores[m]
    path = np.zeros(count, dtype=np.int64)
    path[-1] = int(total.argmax())
    for m in range(count - 1, 0, -1):
        path[m - 1] = back[m, path[m]]
    return path


@dataclass(frozen=True, eq=False)
class KeyTimeline:
    """Global key scores (``[24]``), per-measure window correlations (``[M, 24]``) and the
    smoothed key per measure."""

    correlations: np.ndarray
    scores: np.ndarray
    windows: np.ndarray
    path: np.ndarray
    flats: np.ndarray  # bool [M]: spell ambiguous tonics with flats (notated flats)

    @property
    def best(self) -> int:
        return int(self.scores.argmax())

    def name(self, key: int, measure: int = 0) -> str:
        flats = bool(self.flats[measure]) if len(self.flats) else False
        return _KEY_NAMES[flats][key]


def key_timeline(
    table: NoteTable, settings: AnalysisSettings, memo: Memo, stats: MeasureStats, slices: SliceSet
) -> KeyTimeline:
    """The global key scores and the smoothed key of every measure."""
    grid = table.grid
    pc_time = stats.pc_time
    correlations = correlate(pc_time.sum(axis=0, keepdims=True), settings.key_profile)[0]
    scores = correlations.copy()
    notated = grid.key_fifths[grid.key_fifths != NO_KEY]
    if len(notated):
        major = (int(notated[0]) * 7) % 12
        scores[major] += settings.signature_weight
        scores[12 + (major + 9) % 12] += settings.signature_weight
    flat = slices.flat
    if len(flat.bass):
        last_bass = int(flat.bass[-1]) % 12
        scores[last_bass] += settings.final_weight
        scores[12 + last_bass] += settings.final_weight
    h = settings.key_window
    padded = np.concatenate(
        [np.zeros((h, 12), dtype=np.int64), pc_time, np.zeros((h, 12), dtype=np.int64)]
    )
    windows_hist = np.zeros((grid.size, 12), dtype=np.int64)
    for shift in range(-h, h + 1):  # triangular weights: h + 1 at the centre, 1 at the edges
        windows_hist += (h + 1 - abs(shift)) * padded[h + shift : h + shift + grid.size]
    keys = [(settings.local_profile, row.tobytes()) for row in windows_hist]
    rows = memo.many(
        "key.window",
        keys,
        lambda missing: list(correlate(windows_hist[missing], settings.local_profile)),
    )
    windows = np.array(rows).reshape(grid.size, 24)
    path = viterbi(windows, _change_costs(settings))
    fifths = np.where(grid.key_fifths == NO_KEY, 0, grid.key_fifths)
    index = np.arange(grid.size)
    if grid.size:
        notated_so_far = np.maximum.accumulate(np.where(grid.key_fifths != NO_KEY, index, 0))
        fifths = fifths[notated_so_far]
    return KeyTimeline(correlations, scores, windows, path, fifths < 0)
