"""Cadences from labelled slices: harmonic pattern, bass motion, metre and phrase ends.

Consecutive slices with the same root and quality form a harmony. A cadence is a pair of
contiguous harmonies whose second one (the arrival) falls on a strong beat (the bar line,
or the next level of the metre), lasts at least a beat, and ends a phrase. Without
fermatas, a phrase end is: silence or the end of the score after the arrival, a double or
final bar line after it, an arrival longer than the harmonies on both sides of it, or one
of two beats or more that is longer than the harmony before it. The pattern, in the local
key of the arrival:

- authentic: V or V7 (or viio, viio7) to a root-position tonic; *perfect* when both are in
  root position, the bass falls from 5 to 1 and the top voice ends on the tonic;
- plagal: IV or iv to a root-position tonic;
- deceptive: V to vi (VI in minor) with the bass rising a step;
- half: a root-position major V.

References: W. E. Caplin, "Classical Form", Oxford 1998 (cadence types and their
criteria); D. Temperley, "The Cognition of Basic Musical Structures", MIT 2001, ch. 3
(phrase ends from long notes and rests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from analysis_engine.chords import QUALITY_INDEX
from analysis_engine.labels import cadence_label, key_label
from analysis_engine.meter import strengths
from analysis_engine.notetable import MeasureGrid
from analysis_engine.slices import FlatSlices
from analysis_engine.units import ticks_to_str

_MAJOR = QUALITY_INDEX["major"]
_MINOR = QUALITY_INDEX["minor"]
_DOMINANT = {QUALITY_INDEX["major"], QUALITY_INDEX["dominant-seventh"]}
_LEADING = {
    QUALITY_INDEX["diminished"],
    QUALITY_INDEX["diminished-seventh"],
    QUALITY_INDEX["half-diminished"],
}
_FINAL_BARLINES = {"double", "final", "light-heavy", "heavy-light", "heavy-heavy", "heavy"}


def find_cadences(
    flat: FlatSlices,
    slice_keys: np.ndarray,
    key_names: list[str],
    figure_of: Callable[[int, int], str | None],
    grid: MeasureGrid,
) -> list[dict[str, Any]]:
    """Cadences at their arrival (measure id, onset). ``slice_keys[i]`` is the local key
    index (0-11 major, 12-23 minor) of slice ``i``, ``key_names[i]`` its name;
    ``figure_of(slice, key)`` names a slice's chord in a key."""
    labelled = np.flatnonzero(flat.quality >= 0)
    if len(labelled) < 2:
        return []
    gap_before = np.ones(len(flat.start), dtype=bool)
    gap_before[1:] = flat.start[1:] > flat.end[:-1]
    silent_since = np.cumsum(gap_before)  # changes wherever sound stopped
    root, quality = flat.root[labelled], flat.quality[labelled]
    silence = silent_since[labelled]
    new = np.ones(len(labelled), dtype=bool)
    new[1:] = (
        (root[1:] != root[:-1]) | (quality[1:] != quality[:-1]) | (silence[1:] != silence[:-1])
    )
    heads = labelled[new]  # first slice of each harmony
    head_positions = np.flatnonzero(new)
    tails = labelled[np.append(head_positions[1:] - 1, len(labelled) - 1)]
    starts, ends = flat.start[heads], flat.end[tails]
    lengths = ends - starts
    measure = flat.measure[heads]
    strength = strengths(flat.local[heads] + grid.phase[measure], grid.spacings[measure])
    beat = grid.beat[measure]
    contiguous = np.zeros(len(heads), dtype=bool)
    contiguous[1:] = silence[new][1:] == silence[new][:-1]
    followed_by_silence = np.ones(len(heads), dtype=bool)
    followed_by_silence[:-1] = ~contiguous[1:]
    measure_end = grid.start[measure + 1]
    barline_end = np.array(
        [grid.barlines[m] in _FINAL_BARLINES for m in measure.tolist()], dtype=bool
    ) & (ends >= measure_end)
    longer_than_neighbours = np.zeros(len(heads), dtype=bool)
    longer_than_neighbours[1:-1] = (lengths[1:-1] > lengths[:-2]) & (lengths[1:-1] > lengths[2:])
    longer_than_before = np.zeros(len(heads), dtype=bool)
    longer_than_before[1:] = lengths[1:] > lengths[:-1]
    phrase_end = (
        followed_by_silence
        | barline_end
        | longer_than_neighbours
        | ((lengths >= 2 * beat) & longer_than_before)
    )
    candidates = np.flatnonzero(contiguous & (strength <= 1) & (lengths >= beat) & phrase_end)
    out: list[dict[str, Any]] = []
    for i in candidates.tolist():
        arrival, before = int(heads[i]), int(heads[i - 1])
        key = int(slice_keys[arrival])
        tonic, minor = key % 12, key >= 12
        kind, perfect = _classify(flat, before, arrival, tonic, minor)
        if kind is None:
            continue
        m = int(flat.measure[arrival])
        entry: dict[str, Any] = {
            "type": kind,
            "measure": grid.ids[m],
            "number": int(grid.numbers[m]),
            "onset": ticks_to_str(int(flat.local[arrival])),
            "key": key_names[arrival],
            "figures": [figure_of(before, key), figure_of(arrival, key)],
        }
        if kind == "authentic":
            entry["perfect"] = perfect
        entry["label"] = cadence_label(kind, perfect if kind == "authentic" else None)
        entry["key_label"] = key_label(key_names[arrival])
        out.append(entry)
    return out


def _classify(
    flat: FlatSlices, before: int, arrival: int, tonic: int, minor: bool
) -> tuple[str | None, bool]:
    a_root = (int(flat.root[arrival]) - tonic) % 12
    b_root = (int(flat.root[before]) - tonic) % 12
    a_quality, b_quality = int(flat.quality[arrival]), int(flat.quality[before])
    a_inversion, b_inversion = int(flat.inversion[arrival]), int(flat.inversion[before])
    a_bass = (int(flat.bass[arrival]) - tonic) % 12
    b_bass = (int(flat.bass[before]) - tonic) % 12
    dominant = b_root == 7 and b_quality in _DOMINANT
    tonic_arrival = a_root == 0 and a_quality in (_MAJOR, _MINOR) and a_inversion == 0
    if tonic_arrival and (dominant or (b_root == 11 and b_quality in _LEADING)):
        perfect = (
            dominant
            and b_inversion == 0
            and b_bass == 7
            and a_bass == 0
            and int(flat.top[arrival]) % 12 == tonic
        )
        return "authentic", perfect
    if tonic_arrival and b_root == 5 and b_quality in (_MAJOR, _MINOR):
        return "plagal", False
    submediant = (
        (a_root == 8 and a_quality == _MAJOR) if minor else (a_root == 9 and a_quality == _MINOR)
    )
    if dominant and submediant and b_bass == 7 and a_bass in (8, 9):
        return "deceptive", False
    if a_root == 7 and a_quality == _MAJOR and a_inversion == 0:
        return "half", False
    return None, False
