"""Per-measure statistics, cached per measure: pitch-class durations, counts, texture.

Everything here is an integer (ticks or counts), so sums over measures are exact in any
order; the summary and the global key are sums of these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis_engine.memo import Memo
from analysis_engine.notetable import NoteTable
from analysis_engine.slices import MeasureSlices, SliceSet

TEXTURE_FIELDS = ("voice_time", "sound_time", "max_voices", "together", "shared_attacks")


@dataclass(frozen=True, eq=False)
class MeasureStats:
    """``pc_time[m]`` ticks per pitch class, ``pc_attacks[m]`` attacks per pitch class,
    ``notes[m, p]`` / ``attacks[m, p]`` / ``pitches[m, p]`` per part, ``texture[m]`` over
    :data:`TEXTURE_FIELDS`."""

    pc_time: np.ndarray
    pc_attacks: np.ndarray
    notes: np.ndarray
    attacks: np.ndarray
    pitches: np.ndarray
    texture: np.ndarray


def measure_stats(table: NoteTable, slice_set: SliceSet, memo: Memo) -> MeasureStats:
    """Pitch-class and per-part statistics of every measure (recomputing only changes)."""
    slices = slice_set.measures
    parts = len(table.part_ids)
    keys = [(table.measure_key(m), slices[m].stamp, parts) for m in range(table.grid.size)]
    rows = memo.many("stats", keys, lambda missing: _compute(table, slices, missing))
    size = table.grid.size

    def stack(index: int, width: int) -> np.ndarray:
        if not rows:
            return np.zeros((0, width), dtype=np.int64)
        return np.stack([row[index] for row in rows]).reshape(size, width)

    return MeasureStats(
        stack(0, 12),
        stack(1, 12),
        stack(2, parts),
        stack(3, parts),
        stack(4, parts),
        stack(5, len(TEXTURE_FIELDS)),
    )


def _compute(
    table: NoteTable, slices: list[MeasureSlices], targets: list[int]
) -> list[tuple[np.ndarray, ...]]:
    parts = len(table.part_ids)
    out: list[tuple[np.ndarray, ...]] = []
    for m in targets:
        window = table.measure_rows(m)
        rows = table.rows[window]
        ids = table.note_ids[window]
        played = ~rows["grace"]
        duration = np.where(played, rows["end"] - rows["start"], 0)
        pc_time = np.bincount(rows["pc"], weights=duration, minlength=12).astype(np.int64)
        attacked = rows["attack"]
        pc_attacks = np.bincount(rows["pc"][attacked], minlength=12).astype(np.int64)
        new_note = np.ones(len(rows), dtype=bool)
        if len(rows) > 1:
            new_note[1:] = ids[1:] != ids[:-1]
        part = rows["part"].astype(np.int64)
        notes = np.bincount(part[new_note], minlength=parts).astype(np.int64)
        note_index = np.cumsum(new_note) - 1
        note_attacked = np.bincount(note_index, weights=attacked, minlength=int(new_note.sum())) > 0
        attacks = np.bincount(part[new_note][note_attacked], minlength=parts).astype(np.int64)
        pitches = np.bincount(part, minlength=parts).astype(np.int64)
        out.append((pc_time, pc_attacks, notes, attacks, pitches, _texture(slices[m])))
    return out


def _texture(s: MeasureSlices) -> np.ndarray:
    """Stream-time, sounding time, most streams at once; among the attack slices where
    several streams sound, how many have all of them attacking together (the ratio of
    the two over a score is the homophony index)."""
    if s.size == 0:
        return np.zeros(len(TEXTURE_FIELDS), dtype=np.int64)
    streams = np.bincount(s.stream_slice, minlength=s.size)
    attacking = np.bincount(s.stream_slice, weights=s.stream_attack, minlength=s.size)
    length = s.end - s.start
    shared = s.attack & (streams >= 2)
    together = shared & (attacking == streams)
    return np.array(
        [
            int((streams * length).sum()),
            int(length.sum()),
            int(streams.max()),
            int(together.sum()),
            int(shared.sum()),
        ],
        dtype=np.int64,
    )
