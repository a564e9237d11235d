"""Rhythm per measure and part: onset density (per measure and per beat) and syncopation.

Onsets are attacks (tied continuations and grace notes excluded), counted per beat of the
measure's metre, pickups aligned to the end of the bar. Syncopation follows Longuet-Higgins
and Lee: a note attacked at metrical level ``l`` and held across a stronger position of
level ``k < l`` (a later beat or bar line it sustains through, or ties into) scores
``l - k``; a measure's score per part is the sum over its notes. Rests are not counted as
syncopating. Results are cached per measure.

References: H. C. Longuet-Higgins and C. S. Lee, "The rhythmic interpretation of monophonic
music", Music Perception 1(4), 1984; W. T. Fitch and A. J. Rosenfeld, "Perception and
production of syncopated rhythms", Music Perception 25(1), 2007.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.meter import meter_of, strengths, strongest_inside
from analysis_engine.notetable import NoteTable
from analysis_engine.registry import analysis


def _measures(table: NoteTable, targets: list[int]) -> list[dict[str, Any]]:
    grid, rows = table.grid, table.rows
    parts = len(table.part_ids)
    ranges = [np.arange(table.row_start[m], table.row_start[m + 1]) for m in targets]
    picked = np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.int64)
    picked = picked[rows["attack"][picked] & ~rows["grace"][picked]]
    r = rows[picked]
    measure = r["measure"].astype(np.int64)
    phase = grid.phase[measure]
    position = r["local"] + phase
    end = r["local_end"] + phase
    spacings = grid.spacings[measure]
    level = strengths(position, spacings)
    crossed = strongest_inside(position, end, spacings)
    tied_end = np.where(r["tie_next"], strengths(end, spacings), level)
    crossed = np.minimum(crossed, tied_end)
    syncopation = np.maximum(level - crossed, 0)
    slot = {m: i for i, m in enumerate(targets)}
    target = np.array([slot[m] for m in measure.tolist()], dtype=np.int64)
    part = r["part"].astype(np.int64)
    cell = target * parts + part
    size = len(targets) * parts
    onsets = np.bincount(cell, minlength=size).reshape(len(targets), parts)
    score = np.bincount(cell, weights=syncopation, minlength=size).reshape(len(targets), parts)
    syncopated = np.bincount(cell[syncopation > 0], minlength=size).reshape(len(targets), parts)
    beat_length = grid.beat[measure]
    out = []
    for i, m in enumerate(targets):
        meter = meter_of(grid.times[m])
        beats = meter.beats
        mine = target == i
        beat_index = np.clip(position[mine] // beat_length[mine], 0, beats - 1)
        per_beat = np.bincount(part[mine] * beats + beat_index, minlength=parts * beats)
        out.append(
            {
                "measure": grid.ids[m],
                "onsets": onsets[i].tolist(),
                "density": [round(float(x) / beats, 4) for x in onsets[i].tolist()],
                "beats": per_beat.reshape(parts, beats).tolist(),
                "syncopation": [int(x) for x in score[i].tolist()],
                "syncopated": syncopated[i].tolist(),
            }
        )
    return out


@analysis("rhythm")
def rhythm_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Onsets per measure and beat for each part (heat-map rows) and syncopation scores."""
    table = ctx.table
    grid = table.grid
    keys = [
        (table.measure_key(m), grid.ids[m], grid.times[m], int(grid.phase[m]), table.part_ids)
        for m in range(grid.size)
    ]
    measures = ctx.memo.many("rhythm", keys, lambda missing: _measures(table, missing))
    total = np.array([m["syncopation"] for m in measures], dtype=np.int64).reshape(
        len(measures), len(table.part_ids)
    )
    onsets = np.array([m["onsets"] for m in measures], dtype=np.int64).reshape(
        len(measures), len(table.part_ids)
    )
    return {
        "parts": list(table.part_ids),
        "measures": measures,
        "syncopation_per_onset": [
            round(float(s) / o, 4) if o else 0.0
            for s, o in zip(total.sum(axis=0).tolist(), onsets.sum(axis=0).tolist(), strict=True)
        ],
    }
