"""Voice leading: parallel and hidden perfect intervals, crossing, overlap, spacing, range.

Voices are the (part, voice) streams, ordered top to bottom by part then voice number;
in each slice a stream is represented by its highest pitch (the lowest sounding stream by
its lowest, the bass). Between consecutive, contiguous slices:

- parallel fifths / octaves (and unisons): two voices move in the same direction from one
  perfect fifth (octave) to another, compound intervals included;
- hidden (direct) fifths / octaves: the outer voices reach a perfect fifth or octave in
  similar motion with a leap in the upper voice;
- voice overlap: a voice moves past the note its neighbour just left;
- voice crossing: a lower voice sounds above its upper neighbour (reported where it starts).

For vocal scores (part names such as Soprano/Alto/Tenor/Bass, or four unnamed parts)
also spacing (more than an octave between soprano and alto or alto and tenor) and the
usual SATB ranges. Issues are computed per measure (from its slices and the last slice of
the previous measure) and cached, so an edit re-checks only its measure and the next.

References: W. Piston, "Harmony", 1941, ch. 3-4; S. Kostka and D. Payne, "Tonal Harmony",
ch. 5-6 (rules and SATB ranges); D. Huron, "Tone and voice: a derivation of the rules of
voice-leading from perceptual principles", Music Perception 19(1), 2001.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.labels import issue_label
from analysis_engine.notetable import NoteTable
from analysis_engine.registry import analysis
from analysis_engine.slices import MeasureSlices
from analysis_engine.units import ticks_to_str

RANGES = {"soprano": (60, 79), "alto": (55, 72), "tenor": (48, 67), "bass": (40, 60)}
SATB = ("soprano", "alto", "tenor", "bass")
_VOCAL_NAMES = (
    ("soprano", re.compile(r"^(sopr|sop\b|s\b|s\.|cantus|discant|treble voice)", re.I)),
    ("alto", re.compile(r"^(alt|contralto|a\b|a\.|mezzo)", re.I)),
    ("tenor", re.compile(r"^(ten|t\b|t\.)", re.I)),
    ("bass", re.compile(r"^(bass(?!oon)|basso|bariton|b\b|b\.)", re.I)),
)
_INSTRUMENTAL = re.compile(
    r"violin|viola|cello|violoncell|contrabass|double bass|piano|flute|oboe|clarinet|bassoon|"
    r"horn|trumpet|trombone|tuba|guitar|harp|organ|keyboard|harpsichord|timpani|percussion|"
    r"sax|recorder|lute|bass guitar|vln|vla|vc\b|cb\b|pno|fl\.|ob\.|cl\.|bsn|hn\.|tpt|tbn",
    re.I,
)


def vocal_roles(names: tuple[str, ...], forced: bool | None = None) -> tuple[str | None, ...]:
    """SATB role per part, or all ``None`` when the score does not look vocal: parts named
    like voices (and none like instruments), or four parts with no instrument names."""
    none: tuple[str | None, ...] = tuple(None for _ in names)
    if forced is False:
        return none
    instrumental = any(_INSTRUMENTAL.search(name) for name in names)
    by_name = tuple(
        next((role for role, pattern in _VOCAL_NAMES if pattern.search(name.strip())), None)
        for name in names
    )
    if any(by_name) and (forced or not instrumental):
        return by_name
    if len(names) == 4 and (forced or not instrumental):
        return SATB
    return none


def _sequence(
    prev: MeasureSlices | None, cur: MeasureSlices
) -> tuple[list[tuple[MeasureSlices, int]], int]:
    """The slices to check: the previous measure's last (when contiguous) and this one's."""
    seq: list[tuple[MeasureSlices, int]] = []
    if prev is not None:
        seq.append((prev, prev.size - 1))
    seq.extend((cur, i) for i in range(cur.size))
    return seq, 1 if prev is not None else 0


def _matrix(
    seq: list[tuple[MeasureSlices, int]],
) -> tuple[list[tuple[int, int]], np.ndarray, list[list[Any]], list[list[Any]]]:
    """Streams (part, voice) top to bottom; pitch, note id and pitch name per slice."""
    entries: list[dict[tuple[int, int], tuple[int, Any, Any]]] = []
    for s, i in seq:
        lo, hi = np.searchsorted(s.stream_slice, [i, i + 1])
        keys = list(zip(s.stream_part[lo:hi].tolist(), s.stream_voice[lo:hi].tolist(), strict=True))
        row: dict[tuple[int, int], tuple[int, Any, Any]] = {}
        for j, key in enumerate(keys):
            k = lo + j
            lowest = j == len(keys) - 1 and len(keys) > 1
            if lowest:
                row[key] = (
                    int(s.stream_bottom[k]),
                    s.stream_bottom_note[k],
                    s.stream_bottom_name[k],
                )
            else:
                row[key] = (int(s.stream_top[k]), s.stream_top_note[k], s.stream_top_name[k])
        entries.append(row)
    streams = sorted({key for row in entries for key in row})
    pitch = np.full((len(seq), len(streams)), -1, dtype=np.int64)
    notes = [[None] * len(streams) for _ in seq]
    names = [[None] * len(streams) for _ in seq]
    for r, row in enumerate(entries):
        for c, key in enumerate(streams):
            if key in row:
                pitch[r, c], notes[r][c], names[r][c] = row[key]
    return streams, pitch, notes, names


def measure_issues(
    table: NoteTable,
    m: int,
    prev: MeasureSlices | None,
    cur: MeasureSlices,
    roles: tuple[str | None, ...],
) -> list[dict[str, Any]]:
    """All voice-leading issues arriving in measure ``m``."""
    if cur.size == 0:
        return []
    seq, first = _sequence(prev, cur)
    streams, pitch, notes, names = _matrix(seq)
    part_ids = table.part_ids
    measure_id = table.grid.ids[m]
    issues: list[dict[str, Any]] = []

    def issue(kind: str, row: int, cols: tuple[int, ...], **extra: Any) -> None:
        s, i = seq[row]
        entry: dict[str, Any] = {
            "type": kind,
            "label": issue_label(kind),
            "measure": measure_id,
            "onset": ticks_to_str(int(s.start[i])),
            "parts": [part_ids[streams[c][0]] for c in cols],
            "voices": [streams[c][1] for c in cols],
        }
        entry.update(extra)
        issues.append(entry)

    count = len(seq)
    contiguous = [False] * count
    for r in range(1, count):
        (s0, i0), (s1, i1) = seq[r - 1], seq[r]
        if s0 is s1:
            contiguous[r] = bool(s0.end[i0] == s1.start[i1])
        else:
            contiguous[r] = bool(s0.end[i0] == table.grid.length[m - 1] and s1.start[i1] == 0)
    n = len(streams)
    p = pitch.tolist()
    for r in range(first, count):
        order = [c for c in range(n) if p[r][c] >= 0]
        adjacent = list(itertools.pairwise(order))
        had = contiguous[r]
        prev_order = [c for c in range(n) if p[r - 1][c] >= 0] if had else []
        crossing_before = {
            (u, v) for u, v in itertools.pairwise(prev_order) if p[r - 1][v] > p[r - 1][u]
        }
        for u, v in adjacent:
            if p[r][v] > p[r][u] and (u, v) not in crossing_before:
                issue(
                    "crossing",
                    r,
                    (u, v),
                    notes=[notes[r][u], notes[r][v]],
                    pitches=[names[r][u], names[r][v]],
                )
        if not had:
            continue
        now, before = p[r], p[r - 1]
        moving = [c for c in order if before[c] >= 0]
        for x, u in enumerate(moving):
            for v in moving[x + 1 :]:
                du, dv = now[u] - before[u], now[v] - before[v]
                if du * dv <= 0:
                    continue
                a0, a1 = abs(before[u] - before[v]) % 12, abs(now[u] - now[v]) % 12
                if a0 == a1 and a0 in (0, 7):
                    issue(
                        "parallel_fifths" if a0 == 7 else "parallel_octaves",
                        r,
                        (u, v),
                        notes=[notes[r - 1][u], notes[r - 1][v], notes[r][u], notes[r][v]],
                        pitches=[names[r - 1][u], names[r - 1][v], names[r][u], names[r][v]],
                    )
        if (
            len(order) >= 2
            and len(prev_order) >= 2
            and order[0] == prev_order[0]
            and (order[-1] == prev_order[-1])
        ):
            u, v = order[0], order[-1]
            du, dv = now[u] - before[u], now[v] - before[v]
            a0, a1 = abs(before[u] - before[v]) % 12, abs(now[u] - now[v]) % 12
            if du * dv > 0 and a1 in (0, 7) and a0 != a1 and abs(du) > 2:
                issue(
                    "hidden_fifths" if a1 == 7 else "hidden_octaves",
                    r,
                    (u, v),
                    notes=[notes[r][u], notes[r][v]],
                    pitches=[names[r][u], names[r][v]],
                )
        for u, v in adjacent:
            if before[u] < 0 or before[v] < 0 or now[v] > now[u]:
                continue
            lower_up = now[v] != before[v] and now[v] > before[u]
            upper_down = now[u] != before[u] and now[u] < before[v]
            if lower_up or upper_down:
                issue(
                    "overlap",
                    r,
                    (u, v),
                    notes=[notes[r][u], notes[r][v]],
                    pitches=[names[r][u], names[r][v]],
                )
    if any(roles):
        issues.extend(
            _vocal_issues(table, m, seq, first, contiguous, streams, pitch, notes, names, roles)
        )
    return issues


def _vocal_issues(
    table: NoteTable,
    m: int,
    seq: list[tuple[MeasureSlices, int]],
    first: int,
    contiguous: list[bool],
    streams: list[tuple[int, int]],
    pitch: np.ndarray,
    notes: list[list[Any]],
    names: list[list[Any]],
    roles: tuple[str | None, ...],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    measure_id = table.grid.ids[m]
    column = {}
    for c, (part, _) in enumerate(streams):
        role = roles[part]
        if role is not None and role not in column:
            column[role] = c
    for upper, lower in (("soprano", "alto"), ("alto", "tenor")):
        if upper not in column or lower not in column:
            continue
        u, v = column[upper], column[lower]
        wide = (pitch[:, u] >= 0) & (pitch[:, v] >= 0) & (pitch[:, u] - pitch[:, v] > 12)
        for r in range(first, len(seq)):
            if wide[r] and not (contiguous[r] and wide[r - 1]):
                s, i = seq[r]
                out.append(
                    {
                        "type": "spacing",
                        "label": issue_label("spacing"),
                        "measure": measure_id,
                        "onset": ticks_to_str(int(s.start[i])),
                        "parts": [table.part_ids[streams[u][0]], table.part_ids[streams[v][0]]],
                        "voices": [streams[u][1], streams[v][1]],
                        "notes": [notes[r][u], notes[r][v]],
                        "pitches": [names[r][u], names[r][v]],
                        "semitones": int(pitch[r, u] - pitch[r, v]),
                    }
                )
    cur = seq[-1][0]
    attacked = np.flatnonzero(cur.member_attack)
    for j in attacked.tolist():
        part = int(cur.member_part[j])
        role = roles[part]
        if role is None:
            continue
        low, high = RANGES[role]
        midi = int(cur.member_midi[j])
        if not low <= midi <= high:
            out.append(
                {
                    "type": "range",
                    "label": issue_label("range"),
                    "measure": measure_id,
                    "onset": ticks_to_str(int(cur.start[int(cur.member_slice[j])])),
                    "parts": [table.part_ids[part]],
                    "notes": [cur.member_note[j]],
                    "pitches": [cur.member_name[j]],
                    "role": role,
                    "direction": "high" if midi > high else "low",
                }
            )
    return out


@analysis("voice_leading")
def voice_leading_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Parallel/hidden fifths and octaves, crossing, overlap, spacing and range issues."""
    table = ctx.table
    grid = table.grid
    slices = ctx.rule_slices.measures  # no chord labels needed
    roles = vocal_roles(table.part_names, ctx.settings.vocal)
    keys = [
        (
            slices[m].stamp,
            slices[m - 1].stamp if m else None,
            grid.ids[m],
            int(grid.length[m - 1]) if m else 0,
            table.part_ids,
            roles,
        )
        for m in range(grid.size)
    ]

    def compute(missing: list[int]) -> list[list[dict[str, Any]]]:
        return [
            measure_issues(
                table, m, slices[m - 1] if m and slices[m - 1].size else None, slices[m], roles
            )
            for m in missing
        ]

    per_measure = ctx.memo.many("voice_leading", keys, compute)
    issues = [issue for measure in per_measure for issue in measure]
    counts: dict[str, int] = {}
    for entry in issues:
        counts[entry["type"]] = counts.get(entry["type"], 0) + 1
    return {
        "vocal": any(roles),
        "roles": {pid: role for pid, role in zip(table.part_ids, roles, strict=True) if role},
        "issues": issues,
        "counts": dict(sorted(counts.items())),
    }
