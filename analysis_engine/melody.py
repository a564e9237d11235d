"""Melody of each part: contour, ambitus, interval profile, leaps and their recovery.

A part's line per voice is its sequence of attacks (tied continuations are not new notes;
of a chord, the top note). Melodic intervals are in semitones between consecutive attacks
of a voice, rests included. The contour is the up/down/repeat sequence of the part's first
voice (Parsons code). A leap is an interval of a fourth or more; it is *recovered* when the
next interval moves by step (one or two semitones) in the opposite direction, the
gap-fill tendency of melodies. Results are cached per part, so an edit recomputes only the
parts it touched.

References: D. Parsons, "The Directory of Tunes and Musical Themes", 1975 (contour code);
L. B. Meyer, "Explaining Music", 1973, and P. von Hippel and D. Huron, "Why do skips
precede reversals?", Music Perception 18(1), 2000 (gap fill).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.notetable import NoteTable
from analysis_engine.registry import analysis
from analysis_engine.units import ticks_to_str

LEAP = 5  # semitones: a perfect fourth
_CONTOUR = np.array(["D", "R", "U"])


def part_melody(table: NoteTable, part: int) -> dict[str, Any]:
    rows = table.rows
    in_part = np.flatnonzero((rows["part"] == part) & ~rows["grace"])
    result: dict[str, Any] = {"part": table.part_ids[part], "name": table.part_names[part]}
    if len(in_part) == 0:
        result.update(
            {
                "notes": 0,
                "ambitus": None,
                "contour": "",
                "intervals": {},
                "steps": 0,
                "leaps": [],
                "leap_count": 0,
                "recovered": 0,
            }
        )
        return result
    midi = rows["midi"][in_part]
    low, high = in_part[int(midi.argmin())], in_part[int(midi.argmax())]
    attacks = in_part[rows["attack"][in_part]]
    voice = rows["voice"][attacks].astype(np.int64)
    start = rows["start"][attacks]
    order = np.lexsort((-rows["midi"][attacks].astype(np.int64), start, voice))
    attacks, voice, start = attacks[order], voice[order], start[order]
    top = np.ones(len(attacks), dtype=bool)  # first (highest) row per voice and onset
    top[1:] = (voice[1:] != voice[:-1]) | (start[1:] != start[:-1])
    line, line_voice = attacks[top], voice[top]
    pitch = rows["midi"][line].astype(np.int64)
    same_voice = line_voice[1:] == line_voice[:-1]
    intervals = (pitch[1:] - pitch[:-1])[same_voice]
    into = line[1:][same_voice]
    out_of = line[:-1][same_voice]
    following = np.full(len(intervals), 0, dtype=np.int64)
    has_next = np.zeros(len(intervals), dtype=bool)
    if len(intervals) > 1:
        continues = into[:-1] == out_of[1:]  # the next interval starts where this one ends
        following[:-1] = np.where(continues, intervals[1:], 0)
        has_next[:-1] = continues
    main = line_voice == line_voice.min()
    main_pitch = pitch[main]
    contour = "".join(_CONTOUR[np.sign(np.diff(main_pitch)) + 1].tolist())
    values, counts = np.unique(intervals, return_counts=True)
    leap_index = np.flatnonzero(np.abs(intervals) >= LEAP)
    recovered = (
        has_next
        & (np.abs(following) >= 1)
        & (np.abs(following) <= 2)
        & (np.sign(following) == -np.sign(intervals))
    )
    grid = table.grid
    leaps = []
    for i in leap_index.tolist():
        a, b = int(out_of[i]), int(into[i])
        leaps.append(
            {
                "measure": grid.ids[int(rows["measure"][b])],
                "onset": ticks_to_str(int(rows["local"][b])),
                "voice": int(rows["voice"][b]),
                "notes": [str(table.note_ids[a]), str(table.note_ids[b])],
                "pitches": [str(table.names[a]), str(table.names[b])],
                "semitones": int(intervals[i]),
                "recovered": bool(recovered[i]) if has_next[i] else None,
            }
        )
    result.update(
        {
            "notes": len(line),
            "ambitus": {
                "lowest": str(table.names[low]),
                "highest": str(table.names[high]),
                "semitones": int(rows["midi"][high]) - int(rows["midi"][low]),
            },
            "contour": contour,
            "intervals": {
                str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)
            },
            "steps": int(((np.abs(intervals) >= 1) & (np.abs(intervals) <= 2)).sum()),
            "leaps": leaps,
            "leap_count": len(leaps),
            "recovered": int(sum(1 for leap in leaps if leap["recovered"])),
        }
    )
    return result


@analysis("melody")
def melody_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Per part: contour, ambitus, interval histogram, leaps and their recovery."""
    table = ctx.table
    starts = table.grid.start.tobytes()  # order of overfull notes can depend on offsets
    keys = [
        (table.part_key(p), starts, table.part_ids[p], table.part_names[p])
        for p in range(len(table.part_ids))
    ]
    parts = ctx.memo.many("melody", keys, lambda missing: [part_melody(table, p) for p in missing])
    return {"parts": parts, "leap": LEAP}
