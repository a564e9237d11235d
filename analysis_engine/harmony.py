"""Harmony: every sonority with its root, quality and Roman numeral, and the cadences.

The sonorities are the vertical slices (:mod:`analysis_engine.slices`), labelled by
template matching (:mod:`analysis_engine.chords`); each gets a Roman numeral in its local
key (the measure's, :mod:`analysis_engine.key`, with changes of key placed inside the bar
by :mod:`analysis_engine.learned.turns`; figures by :mod:`analysis_engine.roman`).
Cadences are found by :mod:`analysis_engine.cadences`. A measure's entries are cached on
its slices and their local keys, so an edit re-labels only the measures it touched and those
whose local key moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.cadences import find_cadences
from analysis_engine.chords import NO_QUALITY, QUALITY_INDEX, QUALITY_NAMES
from analysis_engine.context import AnalysisContext
from analysis_engine.registry import analysis
from analysis_engine.roman import figure
from analysis_engine.slices import MeasureSlices
from analysis_engine.units import ticks_to_str

_SEVENTH = QUALITY_INDEX["dominant-seventh"]  # the only quality whose name asks for its fifth


def following_chords(
    s: MeasureSlices, after: MeasureSlices | None = None
) -> list[tuple[str, int] | None]:
    """Per slice of ``s``: the next chord (spelled root, quality) that differs from the
    slice's own, looking into the measure ``after`` it; None if there is none."""
    chords = list(zip(s.root_name, s.quality.tolist(), strict=True))
    if after is not None:
        chords += zip(after.root_name, after.quality.tolist(), strict=True)
    out: list[tuple[str, int] | None] = [None] * len(chords)
    later: int | None = None  # the next labelled slice
    for i in range(len(chords) - 1, -1, -1):
        if later is not None:
            out[i] = chords[later] if chords[later] != chords[i] else out[later]
        if chords[i][1] != NO_QUALITY:
            later = i
    return out[: s.size]


def sounding_fifths(s: MeasureSlices) -> list[bool]:
    """Per slice: whether its chord's fifth sounds in it, asked only of dominant sevenths
    (an Italian sixth is a German one without it); True for every other slice."""
    qualities = s.quality.tolist()
    if _SEVENTH not in qualities:
        return [True] * s.size
    bounds = s.member_bounds().tolist()
    midis = s.member_midi.tolist()
    roots = s.root.tolist()
    return [
        q != _SEVENTH or any((m - roots[i]) % 12 == 7 for m in midis[bounds[i] : bounds[i + 1]])
        for i, q in enumerate(qualities)
    ]


def _measure_entries(
    measure_id: str,
    s: MeasureSlices,
    keys: tuple[str, ...],
    after: MeasureSlices | None = None,
) -> list[dict[str, Any]]:
    """The entries of one measure's slices, ``keys[i]`` the key of slice ``i``."""
    bounds = s.member_bounds().tolist()
    following = following_chords(s, after)
    fifths = sounding_fifths(s)
    entries: list[dict[str, Any]] = []
    names = s.member_name.tolist()
    midis = s.member_midi.tolist()
    for i in range(s.size):
        quality = int(s.quality[i])
        inversion = int(s.inversion[i])
        pitches: list[str] = []
        seen: set[tuple[int, str]] = set()
        for j in range(bounds[i], bounds[i + 1]):
            if (midis[j], names[j]) not in seen:
                seen.add((midis[j], names[j]))
                pitches.append(names[j])
        key = keys[i]
        tonic, mode = key.split()
        fig = figure(
            s.root_name[i], quality, inversion, tonic.capitalize(), mode, fifths[i], following[i]
        )
        entries.append(
            {
                "measure": measure_id,
                "onset": ticks_to_str(int(s.start[i])),
                "duration": ticks_to_str(int(s.end[i] - s.start[i])),
                "pitches": pitches,
                "bass": pitches[0],
                "root": s.root_name[i],
                "quality": QUALITY_NAMES[quality] if quality >= 0 else None,
                "inversion": inversion if inversion >= 0 else None,
                "figure": fig,
                "key": key,
                "attack": bool(s.attack[i]),
            }
        )
    return entries


def measure_harmony(ctx: AnalysisContext) -> list[list[dict[str, Any]]]:
    """Per measure: the slice entries (cached per slices and their keys, and the next
    measure's slices, whose chords name the last ones)."""
    table, keys = ctx.table, ctx.keys
    slices = ctx.slices.measures
    count = table.grid.size
    names = [
        tuple(keys.name(k, m) for k in codes.tolist()) for m, codes in enumerate(ctx.slice_keys)
    ]
    memo_keys = [
        (slices[m].stamp, names[m], table.grid.ids[m], slices[m + 1].stamp if m + 1 < count else 0)
        for m in range(count)
    ]

    def compute(missing: list[int]) -> list[list[dict[str, Any]]]:
        return [
            _measure_entries(
                table.grid.ids[m], slices[m], names[m], slices[m + 1] if m + 1 < count else None
            )
            for m in missing
        ]

    return ctx.memo.many("harmony", memo_keys, compute)


@analysis("harmony")
def harmony_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Every sonority with root, quality and Roman numeral; cadences."""
    per_measure = measure_harmony(ctx)
    entries = [entry for measure_entries in per_measure for entry in measure_entries]
    flat = ctx.slices.flat
    keys = ctx.keys
    key_of_slice = np.concatenate(ctx.slice_keys) if ctx.slice_keys else np.zeros(0, dtype=np.int64)
    key_names = [entry["key"] for entry in entries]

    def figure_of(index: int, key: int) -> str | None:
        tonic, mode = keys.name(key, int(flat.measure[index])).split()
        return figure(
            flat.root_name[index],
            int(flat.quality[index]),
            int(flat.inversion[index]),
            tonic.capitalize(),
            mode,
        )

    cadences = find_cadences(flat, key_of_slice, key_names, figure_of, ctx.table.grid)
    return {"slices": entries, "cadences": cadences}
