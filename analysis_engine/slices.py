"""Vertical slices (sonorities): what sounds, across all parts, between consecutive events.

Like music21's ``chordify``, but vectorised over sorted onsets and offsets: a new slice
starts at every attack, at every release (unless the note is tied on), and at every bar
line where something sounds. A slice belongs to the measure it starts in and never crosses
a bar line, so a measure's slices depend only on the notes that overlap it: that is what
lets the incremental analyser recompute the slices of edited measures alone. Each slice is
labelled with a root and quality (:mod:`analysis_engine.chords`).

Reference: M. S. Cuthbert and C. Ariza, "music21: a toolkit for computer-aided musicology
and symbolic music data", ISMIR 2010 (``chordify``); the "salami slicing" of D. Huron,
"Voice leading: the science behind a musical art", MIT Press 2016.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from analysis_engine.chords import MEMBER, QUALITY_INDEX, WEIGHT_CAP, label_chords
from analysis_engine.memo import Memo
from analysis_engine.notetable import NoteTable
from analysis_engine.units import STEP_PC, STEPS

_SHIFT = 32
_LOW = (1 << _SHIFT) - 1
_STAMPS = itertools.count(1)
_SYMMETRIC = (QUALITY_INDEX["diminished-seventh"], QUALITY_INDEX["augmented"])


@dataclass(frozen=True, eq=False)
class MeasureSlices:
    """The slices of one measure. Times are ticks from the measure's start; members (one
    per sounding pitch) are sorted by slice then pitch; streams (one per part and voice
    sounding in a slice) by slice, part, voice."""

    stamp: int
    start: np.ndarray
    end: np.ndarray
    attack: np.ndarray  # bool: some note starts with the slice
    weights: np.ndarray  # [S, 12] integer pitch-class weights
    bass: np.ndarray  # lowest MIDI pitch
    top: np.ndarray  # highest MIDI pitch
    root: np.ndarray  # pitch class
    quality: np.ndarray  # index into chords.QUALITIES, or NO_QUALITY
    inversion: np.ndarray  # 0 root position, 1 first, ... (-1 without quality)
    root_name: tuple[str, ...]  # spelled root, "F#"
    member_slice: np.ndarray
    member_midi: np.ndarray
    member_name: np.ndarray  # object
    member_note: np.ndarray  # object
    member_part: np.ndarray
    member_attack: np.ndarray
    stream_slice: np.ndarray
    stream_part: np.ndarray
    stream_voice: np.ndarray
    stream_top: np.ndarray
    stream_bottom: np.ndarray
    stream_top_note: np.ndarray  # object
    stream_bottom_note: np.ndarray  # object
    stream_top_name: np.ndarray  # object
    stream_bottom_name: np.ndarray  # object
    stream_attack: np.ndarray

    @property
    def size(self) -> int:
        return len(self.start)

    def member_bounds(self) -> np.ndarray:
        """``bounds[s]:bounds[s + 1]`` are the members of slice ``s``."""
        return np.searchsorted(self.member_slice, np.arange(self.size + 1))

    def stream_bounds(self) -> np.ndarray:
        return np.searchsorted(self.stream_slice, np.arange(self.size + 1))


@dataclass(frozen=True, eq=False)
class FlatSlices:
    """All slices of the score in time order, as parallel arrays."""

    measure: np.ndarray
    start: np.ndarray  # absolute ticks
    end: np.ndarray
    local: np.ndarray  # ticks from the measure's start
    attack: np.ndarray
    bass: np.ndarray
    top: np.ndarray
    root: np.ndarray
    quality: np.ndarray
    inversion: np.ndarray
    root_name: tuple[str, ...]


class SliceSet:
    """The slices of every measure (``measures[m]``), with a flat view."""

    def __init__(self, table: NoteTable, measures: list[MeasureSlices]) -> None:
        self.table = table
        self.measures = measures

    @cached_property
    def flat(self) -> FlatSlices:
        grid = self.table.grid
        sizes = np.array([s.size for s in self.measures], dtype=np.int64)
        measure = np.repeat(np.arange(len(self.measures), dtype=np.int64), sizes)

        def cat(name: str) -> np.ndarray:
            parts = [getattr(s, name) for s in self.measures]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

        local = cat("start")
        offsets = grid.start[:-1][measure]
        return FlatSlices(
            measure=measure,
            start=offsets + local,
            end=offsets + cat("end"),
            local=local,
            attack=cat("attack").astype(bool),
            bass=cat("bass"),
            top=cat("top"),
            root=cat("root"),
            quality=cat("quality"),
            inversion=cat("inversion"),
            root_name=tuple(itertools.chain.from_iterable(s.root_name for s in self.measures)),
        )


class _Pairs:
    """(row, measure) for every sounding row and every measure its time span overlaps."""

    def __init__(self, table: NoteTable) -> None:
        rows, grid = table.rows, table.grid
        sounding = np.flatnonzero(table.sounding)
        starts, ends = rows["start"][sounding], rows["end"][sounding]
        low = np.searchsorted(grid.start, starts, side="right") - 1
        high = np.minimum(np.searchsorted(grid.start, ends - 1, side="right") - 1, grid.size - 1)
        keep = (low <= high) & (low < grid.size)
        sounding, low, high = sounding[keep], low[keep], high[keep]
        counts = high - low + 1
        self.row = np.repeat(sounding, counts)
        self.measure = np.repeat(low, counts) + _ranks(counts)
        spill = np.flatnonzero(rows["measure"][self.row] != self.measure)
        sources: dict[int, set[int]] = {}
        for index in spill.tolist():
            sources.setdefault(int(self.measure[index]), set()).add(
                int(rows["measure"][self.row[index]])
            )
        self.spill_sources = {target: sorted(found) for target, found in sources.items()}


def new_stamp() -> int:
    """A stamp no other slices of this process carry (for slices derived from others)."""
    return next(_STAMPS)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


def slice_set(table: NoteTable, memo: Memo) -> SliceSet:
    """The slices of every measure, recomputing only those whose inputs changed."""
    grid = table.grid
    pairs = _Pairs(table)
    lengths = grid.length.tolist()
    beats, phases = grid.beat.tolist(), grid.phase.tolist()
    keys: list[Hashable] = []
    for m in range(grid.size):
        spill = tuple(
            (table.measure_key(src), int(grid.start[m] - grid.start[src]))
            for src in pairs.spill_sources.get(m, ())
        )
        keys.append((table.measure_key(m), lengths[m], table.part_ids, spill, beats[m], phases[m]))
    measures = memo.many("slices", keys, lambda missing: _compute(table, pairs, missing))
    return SliceSet(table, measures)


def _compute(table: NoteTable, pairs: _Pairs, targets: list[int]) -> list[MeasureSlices]:
    """The slices of the ``targets`` measures, in one vectorised pass."""
    rows, grid = table.rows, table.grid
    selected = np.zeros(grid.size, dtype=bool)
    selected[targets] = True
    mask = selected[pairs.measure]
    pair_row, pair_measure = pairs.row[mask], pairs.measure[mask]
    order = np.lexsort((pair_row, pair_measure))
    pair_row, pair_measure = pair_row[order], pair_measure[order]
    r = rows[pair_row]
    m_start = grid.start[pair_measure]
    m_length = grid.length[pair_measure]
    a = np.maximum(r["start"], m_start) - m_start
    b = np.minimum(r["end"], m_start + m_length) - m_start
    attack = r["attack"] & (r["start"] >= m_start)
    released = (b < m_length) & ~r["tie_next"]
    base = pair_measure.astype(np.int64) << _SHIFT
    boundaries = np.unique(
        np.concatenate([base[attack] | a[attack], base[a == 0], base[released] | b[released]])
    )
    b_measure = boundaries >> _SHIFT
    b_start = boundaries & _LOW
    same_next = np.zeros(len(boundaries), dtype=bool)
    same_next[:-1] = b_measure[1:] == b_measure[:-1]
    b_end = np.where(same_next, np.roll(b_start, -1), grid.length[b_measure])
    low = np.searchsorted(boundaries, base | a, side="left")
    high = np.searchsorted(boundaries, base | b, side="left")
    counts = high - low
    member_pair = np.repeat(np.arange(len(pair_row)), counts)
    member_slice = np.repeat(low, counts) + _ranks(counts)
    # drop slices nothing sounds in (they start where sound stops)
    occupied = np.bincount(member_slice, minlength=len(boundaries)) > 0
    renumber = np.cumsum(occupied) - 1
    member_slice = renumber[member_slice]
    s_measure, s_start, s_end = b_measure[occupied], b_start[occupied], b_end[occupied]
    n_slices = len(s_start)
    midi = r["midi"][member_pair].astype(np.int64)
    order = np.lexsort((member_pair, midi, member_slice))
    member_pair, member_slice, midi = member_pair[order], member_slice[order], midi[order]
    pc = midi % 12
    m_attack = attack[member_pair] & (a[member_pair] == s_start[member_slice])
    duration = np.minimum(r["end"] - r["start"], WEIGHT_CAP)[member_pair]
    weights = (
        np.bincount(member_slice * 12 + pc, weights=duration, minlength=n_slices * 12)
        .reshape(n_slices, 12)
        .astype(np.int64)
    )
    first = np.searchsorted(member_slice, np.arange(n_slices), side="left")
    last = np.searchsorted(member_slice, np.arange(n_slices), side="right") - 1
    bass, top = midi[first], midi[last]
    sounding = np.bincount(member_slice, minlength=n_slices)
    label_weights, label_bass = _in_context(weights, bass, sounding, s_measure, s_start, grid)
    root, quality = label_chords(
        label_weights, label_bass % 12, (label_weights != weights).any(axis=1)
    )
    letters = r["letter"][member_pair].astype(np.int64)
    root, root_names, inversion = _spell(member_slice, pc, letters, root, quality, n_slices)
    # a thin slice labelled from its beat takes its inversion from the beat's bass
    thin = (label_bass != bass) & (quality >= 0)
    position = MEMBER[np.maximum(quality, 0), (label_bass - root) % 12]
    inversion = np.where(thin & (position >= 0), position, inversion)
    slice_attack = np.bincount(member_slice, weights=m_attack, minlength=n_slices) > 0
    names = table.names[pair_row[member_pair]]
    notes = table.note_ids[pair_row[member_pair]]
    part = r["part"][member_pair].astype(np.int64)
    voice = r["voice"][member_pair].astype(np.int64)
    # stream view: one entry per (slice, part, voice)
    s_order = np.lexsort((midi, voice, part, member_slice))
    g_slice, g_part, g_voice = member_slice[s_order], part[s_order], voice[s_order]
    new_group = np.ones(len(s_order), dtype=bool)
    new_group[1:] = (
        (g_slice[1:] != g_slice[:-1]) | (g_part[1:] != g_part[:-1]) | (g_voice[1:] != g_voice[:-1])
    )
    g_first = np.flatnonzero(new_group)
    g_last = np.concatenate([g_first[1:], [len(s_order)]]) - 1
    group_id = np.cumsum(new_group) - 1
    g_attack = np.bincount(group_id, weights=m_attack[s_order], minlength=len(g_first)) > 0

    out: list[MeasureSlices] = []
    slice_bounds = np.searchsorted(s_measure, np.asarray(targets), side="left")
    slice_ends = np.searchsorted(s_measure, np.asarray(targets), side="right")
    for lo, hi in zip(slice_bounds.tolist(), slice_ends.tolist(), strict=True):
        m_lo, m_hi = np.searchsorted(member_slice, [lo, hi])
        g_lo, g_hi = np.searchsorted(g_slice[g_first], [lo, hi])
        firsts, lasts = s_order[g_first[g_lo:g_hi]], s_order[g_last[g_lo:g_hi]]
        out.append(
            MeasureSlices(
                stamp=next(_STAMPS),
                start=s_start[lo:hi],
                end=s_end[lo:hi],
                attack=slice_attack[lo:hi],
                weights=weights[lo:hi],
                bass=bass[lo:hi],
                top=top[lo:hi],
                root=root[lo:hi],
                quality=quality[lo:hi],
                inversion=inversion[lo:hi],
                root_name=root_names[lo:hi],
                member_slice=member_slice[m_lo:m_hi] - lo,
                member_midi=midi[m_lo:m_hi],
                member_name=names[m_lo:m_hi],
                member_note=notes[m_lo:m_hi],
                member_part=part[m_lo:m_hi],
                member_attack=m_attack[m_lo:m_hi],
                stream_slice=g_slice[g_first[g_lo:g_hi]] - lo,
                stream_part=g_part[g_first[g_lo:g_hi]],
                stream_voice=g_voice[g_first[g_lo:g_hi]],
                stream_top=midi[lasts],
                stream_bottom=midi[firsts],
                stream_top_note=notes[lasts],
                stream_bottom_note=notes[firsts],
                stream_top_name=names[lasts],
                stream_bottom_name=names[firsts],
                stream_attack=g_attack[g_lo:g_hi],
            )
        )
    return out


THIN = 3  # slices with fewer notes and pitch classes are labelled from their beat


def _in_context(
    weights: np.ndarray,
    bass: np.ndarray,
    sounding: np.ndarray,
    s_measure: np.ndarray,
    s_start: np.ndarray,
    grid: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bass to label each slice by. A slice of fewer than :data:`THIN` notes
    and pitch classes (an arpeggio or broken chord heard a note or two at a time; a
    four-part chord with doublings is not thin), or of one pitch class however doubled
    (a unison), is labelled from what sounds in its beat,
    its own notes counted twice, over the lowest note of the beat; if the beat is thin
    too, from its pair of beats, then from its measure. Only slices of the same measure
    take part, so a measure's labels still depend on its own notes alone."""
    distinct = (weights > 0).sum(axis=1)
    thin = (distinct < 2) | ((distinct < THIN) & (sounding < THIN))
    if not thin.any():
        return weights, bass
    beat = np.maximum(grid.beat[s_measure], 1)
    beat_index = (s_start + grid.phase[s_measure]) // beat
    out_w, out_b = weights.copy(), bass.copy()
    for group in (
        (s_measure << _SHIFT) | beat_index,
        (s_measure << _SHIFT) | beat_index // 2,
        s_measure,
    ):
        groups, inverse = np.unique(group, return_inverse=True)
        summed = np.zeros((len(groups), 12), dtype=np.int64)
        np.add.at(summed, inverse, weights)
        lowest = np.full(len(groups), 1 << 20, dtype=np.int64)
        np.minimum.at(lowest, inverse, bass)
        rich = (summed[inverse] > 0).sum(axis=1) >= THIN
        use = thin & rich
        out_w[use] = summed[inverse][use] + weights[use]
        out_b[use] = lowest[inverse][use]
        thin = thin & ~rich
        if not thin.any():
            break
    return out_w, out_b


def _spell(
    member_slice: np.ndarray,
    pc: np.ndarray,
    letters: np.ndarray,
    root: np.ndarray,
    quality: np.ndarray,
    n_slices: int,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Spelled roots and inversions from the lowest chord tone of each slice; symmetric
    chords (diminished sevenths, augmented triads) take their root from the spelling."""
    has_quality = quality[member_slice] >= 0
    interval = (pc - root[member_slice]) % 12
    position = np.where(has_quality, MEMBER[np.maximum(quality[member_slice], 0), interval], -1)
    chord_tone = np.flatnonzero(position >= 0)
    slices_with, first_index = np.unique(member_slice[chord_tone], return_index=True)
    lowest = chord_tone[first_index]
    inversion = np.full(n_slices, -1, dtype=np.int64)
    inversion[slices_with] = position[lowest]
    root_letter = np.zeros(n_slices, dtype=np.int64)
    single = np.searchsorted(member_slice, np.arange(n_slices))
    root_letter[:] = letters[np.minimum(single, len(letters) - 1)] if len(letters) else 0
    root_letter[slices_with] = (letters[lowest] - 2 * position[lowest]) % 7
    _spell_from_neighbours(root_letter, root, quality, slices_with)
    root = root.copy()
    for s in np.flatnonzero(np.isin(quality, _SYMMETRIC)).tolist():
        members = np.flatnonzero(member_slice == s)
        spelled = {(int(letters[i]), int(pc[i])) for i in members}
        for letter, candidate in sorted(spelled):
            others = {(other_letter - letter) % 7 for other_letter, _ in spelled}
            if others <= {0, 2, 4, 6} and MEMBER[quality[s], (candidate - root[s]) % 12] >= 0:
                root[s] = candidate
                root_letter[s] = letter
                lowest_pc = int(pc[members[0]])
                for i in members.tolist():
                    if MEMBER[quality[s], (int(pc[i]) - candidate) % 12] >= 0:
                        lowest_pc = int(pc[i])
                        break
                inversion[s] = MEMBER[quality[s], (lowest_pc - candidate) % 12]
                break
    names = tuple(
        _name(int(letter), int(p))
        for letter, p in zip(root_letter.tolist(), root.tolist(), strict=True)
    )
    return root, names, inversion


def _spell_from_neighbours(
    root_letter: np.ndarray, root: np.ndarray, quality: np.ndarray, spelled: np.ndarray
) -> None:
    """Root letters of labelled slices none of whose own notes is a chord tone (a
    passing A over a G major beat): the letter of the nearest slice whose notes spell the
    same root, else the plain spelling; never a letter taken from a non-chord tone
    (which spelled G as A double flat)."""
    has_own = np.zeros(len(root), dtype=bool)
    has_own[spelled] = True
    orphans = np.flatnonzero((quality >= 0) & ~has_own)
    for s in orphans.tolist():
        same = spelled[root[spelled] == root[s]]
        if len(same):
            root_letter[s] = root_letter[same[np.argmin(np.abs(same - s))]]
        else:
            root_letter[s] = STEPS.index(_PLAIN[int(root[s])][0])


_PLAIN = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def _name(letter: int, pc: int) -> str:
    """The root spelled on ``letter``; a plain spelling when that letter is too far from
    the pitch (a slice labelled from its beat whose own notes are not chord tones)."""
    alter = (pc - STEP_PC[letter] + 6) % 12 - 6
    if abs(alter) > 2:
        return _PLAIN[pc]
    return STEPS[letter] + ("#" * alter if alter > 0 else "-" * -alter)
