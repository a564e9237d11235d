"""The flat note table every analysis reads: one row per sounding pitch, in numpy arrays.

Rows come from :class:`~score_model.document.ScoreData`, grouped in cells (one measure of
one part). A :class:`TableBuilder` keeps the cells of the previous build and rebuilds only
those an edit touched; the table is then re-assembled from the cells (a concatenation) and
the measure offsets of the current layout. Each cell carries a *stamp*, a number that
changes whenever its content does: analyses key their per-measure caches on stamps.

Rests are not rows (their only effect, the length of a pickup, is in the layout). Notes
whose measure or part no longer exists (orphans, a legal transient state) are skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np

from analysis_engine.meter import meter_of, spacing_table
from analysis_engine.units import TPQ, parse_pitch, to_ticks
from score_model.document import ScoreData, layout, note_order
from score_model.schema import Measure, Note, Part

ROW_DTYPE = np.dtype(
    [
        ("measure", np.int32),  # index into grid.ids
        ("part", np.int32),  # index into part_ids
        ("voice", np.int16),
        ("local", np.int64),  # onset in ticks from the start of its measure
        ("local_end", np.int64),
        ("start", np.int64),  # absolute onset in ticks
        ("end", np.int64),
        ("midi", np.int16),
        ("pc", np.int16),
        ("letter", np.int8),  # 0-6 for C-B: the spelling
        ("alter", np.int8),
        ("attack", np.bool_),  # False for a tied continuation (no new attack)
        ("tie_next", np.bool_),  # tied into the next note
        ("grace", np.bool_),
    ]
)
NO_KEY = 99


@dataclass(frozen=True, eq=False)
class MeasureGrid:
    """The measures placed in time: ids, numbers, offsets and attributes in force."""

    ids: tuple[str, ...]
    numbers: np.ndarray  # int64 [M]
    start: np.ndarray  # int64 [M + 1]: start ticks, then the end of the score
    phase: np.ndarray  # int64 [M]: ticks from the notional downbeat (a pickup's missing part)
    times: tuple[str, ...]
    key_fifths: np.ndarray  # int64 [M]: notated key signature, NO_KEY where none
    key_modes: tuple[str | None, ...]
    barlines: tuple[str | None, ...]

    @property
    def size(self) -> int:
        return len(self.ids)

    @cached_property
    def length(self) -> np.ndarray:
        return np.diff(self.start)

    @cached_property
    def index(self) -> dict[str, int]:
        return {measure_id: i for i, measure_id in enumerate(self.ids)}

    @cached_property
    def beat(self) -> np.ndarray:
        return np.array([meter_of(t).beat for t in self.times], dtype=np.int64)

    @cached_property
    def spacings(self) -> np.ndarray:
        """Metrical level spacings per measure (:func:`analysis_engine.meter.spacing_table`)."""
        return spacing_table(list(self.times))


@dataclass(frozen=True, eq=False)
class NoteTable:
    """One row per sounding pitch (see :data:`ROW_DTYPE`), sorted by measure, part, voice,
    onset; ``note_ids`` and ``names`` run parallel to the rows."""

    rows: np.ndarray
    note_ids: np.ndarray  # object: the note id of each row
    names: np.ndarray  # object: spelled pitch name of each row ("F#4")
    part_ids: tuple[str, ...]
    part_names: tuple[str, ...]
    grid: MeasureGrid
    row_start: np.ndarray  # int64 [M + 1]: rows of measure m are row_start[m]:row_start[m+1]
    stamps: np.ndarray  # int64 [M, P]: content stamp of each cell, 0 when empty

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def onset(self) -> np.ndarray:
        """Absolute onsets in quarter notes (float64, exact for the usual fractions)."""
        return self.rows["start"] / TPQ

    @cached_property
    def offset(self) -> np.ndarray:
        return self.rows["end"] / TPQ

    def measure_rows(self, measure: int) -> slice:
        return slice(int(self.row_start[measure]), int(self.row_start[measure + 1]))

    def measure_key(self, measure: int) -> bytes:
        """Changes whenever any cell of the measure changes."""
        return self.stamps[measure].tobytes()

    def part_key(self, part: int) -> tuple[tuple[str, ...], bytes]:
        """Changes whenever any cell of the part changes, or measures move."""
        return self.grid.ids, self.stamps[:, part].tobytes()

    @cached_property
    def sounding(self) -> np.ndarray:
        """Rows that occupy time (not grace notes, positive length)."""
        rows = self.rows
        return ~rows["grace"] & (rows["end"] > rows["start"])


@dataclass(eq=False)
class _Cell:
    notes: tuple[Note, ...]
    stamp: int
    block: np.ndarray = field(repr=False)
    note_ids: list[str] = field(repr=False)
    names: list[str] = field(repr=False)
    content_end: Fraction = Fraction(0)


def _ticks(value: Fraction) -> int:
    quotient, remainder = divmod(value.numerator * TPQ, value.denominator)
    return quotient if remainder == 0 else to_ticks(value)


_BLOCK_FIELDS = (
    "voice",
    "local",
    "local_end",
    "midi",
    "pc",
    "letter",
    "alter",
    "attack",
    "tie_next",
    "grace",
    "part",
)


def _block(notes: tuple[Note, ...]) -> tuple[np.ndarray, list[str], list[str]]:
    """A cell's rows as an int64 matrix over :data:`_BLOCK_FIELDS` (part left 0)."""
    records: list[tuple[int, ...]] = []
    ids: list[str] = []
    names: list[str] = []
    for note in notes:
        if not note.pitches:
            continue
        onset = _ticks(note.onset)
        end = _ticks(note.onset + note.duration)
        for index, name in enumerate(note.pitches):
            midi, letter, alter = parse_pitch(name)
            tie = note.ties[index] if index < len(note.ties) else None
            records.append(
                (
                    note.voice,
                    onset,
                    end,
                    midi,
                    midi % 12,
                    letter,
                    alter,
                    tie not in ("stop", "continue"),
                    tie in ("start", "continue"),
                    note.grace,
                    0,
                )
            )
            ids.append(note.id)
            names.append(name)
    matrix = np.array(records, dtype=np.int64).reshape(len(records), len(_BLOCK_FIELDS))
    return matrix, ids, names


@dataclass(eq=False)
class _MeasureBlock:
    key: tuple[tuple[str, ...], bytes]
    matrix: np.ndarray
    note_ids: list[str]
    names: list[str]


class TableBuilder:
    """Builds :class:`NoteTable` s, re-using the cells an edit did not touch."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, str], _Cell] = {}
        self._where: dict[str, tuple[str, str]] = {}
        self._stamps = itertools.count(1)
        self._layout_key: tuple[list[Measure], dict[str, Fraction]] | None = None
        self._grid: MeasureGrid | None = None
        self._measure_blocks: dict[str, _MeasureBlock] = {}
        self.rebuilt: set[tuple[str, str]] = set()  # cells rebuilt by the last build

    def build(
        self,
        data: ScoreData,
        *,
        changed_notes: Iterable[str] | None = None,
        changed_measures: Iterable[str] | None = None,
    ) -> NoteTable:
        """The table of ``data``. With ``changed_notes`` (ids added, changed or deleted since
        the previous build) or ``changed_measures`` (every measure whose notes changed,
        including the old measure of a moved note) only those cells are re-read; with
        neither, every cell is compared with the previous build."""
        self.rebuilt = set()
        if not self._cells and not self._where:
            self._regroup_all(data)
        elif changed_notes is not None:
            self._apply_notes(data, changed_notes)
        elif changed_measures is not None:
            self._apply_measures(data, set(changed_measures))
        else:
            self._regroup_all(data)
        return self._assemble(data.parts, self._grid_of(data.measures))

    # --- cells -------------------------------------------------------------------------------

    def _set_cell(self, key: tuple[str, str], notes: list[Note]) -> None:
        notes.sort(key=note_order)
        old = self._cells.get(key)
        if old is not None and old.notes == tuple(notes):
            return
        self.rebuilt.add(key)
        if not notes:
            self._cells.pop(key, None)
            return
        block, ids, names = _block(tuple(notes))
        end = max(note.end for note in notes)
        self._cells[key] = _Cell(tuple(notes), next(self._stamps), block, ids, names, end)

    def _regroup_all(self, data: ScoreData) -> None:
        groups: dict[tuple[str, str], list[Note]] = {}
        for note in data.notes.values():
            groups.setdefault((note.measure, note.part), []).append(note)
        for key in set(self._cells) - set(groups):
            self._set_cell(key, [])
        for key, notes in groups.items():
            self._set_cell(key, notes)
        self._where = {note.id: (note.measure, note.part) for note in data.notes.values()}

    def _apply_notes(self, data: ScoreData, note_ids: Iterable[str]) -> None:
        changed = set(note_ids)
        touched: set[tuple[str, str]] = set()
        for note_id in changed:
            old = self._where.pop(note_id, None)
            if old is not None:
                touched.add(old)
            note = data.notes.get(note_id)
            if note is not None:
                self._where[note_id] = (note.measure, note.part)
                touched.add((note.measure, note.part))
        for key in touched:
            cell = self._cells.get(key)
            kept = [n for n in cell.notes if n.id not in changed] if cell is not None else []
            kept.extend(
                note
                for note_id in changed
                if (note := data.notes.get(note_id)) is not None
                and (note.measure, note.part) == key
            )
            self._set_cell(key, kept)

    def _apply_measures(self, data: ScoreData, measure_ids: set[str]) -> None:
        groups: dict[tuple[str, str], list[Note]] = {
            key: [] for key in self._cells if key[0] in measure_ids
        }
        for note in data.notes.values():
            if note.measure in measure_ids:
                groups.setdefault((note.measure, note.part), []).append(note)
                self._where[note.id] = (note.measure, note.part)
        for key, notes in groups.items():
            self._set_cell(key, notes)

    # --- layout and assembly -------------------------------------------------------------------

    def _grid_of(self, measures: list[Measure]) -> MeasureGrid:
        pickup_ids = {m.id for m in measures if m.pickup}
        pickup_lengths: dict[str, Fraction] = {}
        if pickup_ids:
            for (measure_id, _), cell in self._cells.items():
                if measure_id in pickup_ids:
                    pickup_lengths[measure_id] = max(
                        cell.content_end, pickup_lengths.get(measure_id, Fraction(0))
                    )
        if (
            self._grid is not None
            and self._layout_key is not None
            and self._layout_key[1] == pickup_lengths
            and self._layout_key[0] == measures
        ):
            return self._grid
        slots = layout(measures, pickup_lengths)
        total = slots[-1].offset + slots[-1].bar if slots else Fraction(0)
        start = np.array([to_ticks(s.offset) for s in slots] + [to_ticks(total)], dtype=np.int64)
        lengths = np.diff(start)
        full = np.array([meter_of(s.time).bar for s in slots], dtype=np.int64)
        pickup = np.array([s.measure.pickup for s in slots], dtype=bool)
        phase = np.where(pickup & (lengths < full), full - lengths, 0)
        self._grid = MeasureGrid(
            ids=tuple(s.id for s in slots),
            numbers=np.array([s.number for s in slots], dtype=np.int64),
            start=start,
            phase=phase.astype(np.int64),
            times=tuple(s.time for s in slots),
            key_fifths=np.array([s.key.fifths if s.key else NO_KEY for s in slots], dtype=np.int64),
            key_modes=tuple(s.key.mode if s.key else None for s in slots),
            barlines=tuple(s.measure.barline for s in slots),
        )
        self._layout_key = (list(measures), pickup_lengths)
        return self._grid

    def _measure_block(
        self, measure_id: str, part_ids: tuple[str, ...], stamps: np.ndarray
    ) -> _MeasureBlock:
        key = (part_ids, stamps.tobytes())
        cached = self._measure_blocks.get(measure_id)
        if cached is not None and cached.key == key:
            return cached
        matrices: list[np.ndarray] = []
        ids: list[str] = []
        names: list[str] = []
        for p, part_id in enumerate(part_ids):
            cell = self._cells.get((measure_id, part_id))
            if cell is None or not len(cell.block):
                continue
            matrix = cell.block.copy()
            matrix[:, -1] = p
            matrices.append(matrix)
            ids.extend(cell.note_ids)
            names.extend(cell.names)
        block = _MeasureBlock(
            key,
            np.concatenate(matrices)
            if matrices
            else np.zeros((0, len(_BLOCK_FIELDS)), dtype=np.int64),
            ids,
            names,
        )
        self._measure_blocks[measure_id] = block
        return block

    def _assemble(self, parts: list[Part], grid: MeasureGrid) -> NoteTable:
        part_ids = tuple(p.id for p in parts)
        stamps = np.zeros((grid.size, len(part_ids)), dtype=np.int64)
        cells = self._cells
        for (measure_id, part_id), cell in cells.items():
            m = grid.index.get(measure_id)
            p = part_ids.index(part_id) if part_id in part_ids else -1
            if m is not None and p >= 0:
                stamps[m, p] = cell.stamp
        blocks = [
            self._measure_block(measure_id, part_ids, stamps[m])
            for m, measure_id in enumerate(grid.ids)
        ]
        live = set(grid.ids)
        for measure_id in [k for k in self._measure_blocks if k not in live]:
            del self._measure_blocks[measure_id]
        counts = np.array([len(b.matrix) for b in blocks], dtype=np.int64)
        matrix = (
            np.concatenate([b.matrix for b in blocks])
            if blocks
            else np.zeros((0, len(_BLOCK_FIELDS)), dtype=np.int64)
        )
        rows = np.zeros(len(matrix), dtype=ROW_DTYPE)
        for column, name in enumerate(_BLOCK_FIELDS):
            rows[name] = matrix[:, column]
        rows["measure"] = np.repeat(np.arange(grid.size, dtype=np.int32), counts)
        offsets = grid.start[:-1][rows["measure"]]
        rows["start"] = offsets + rows["local"]
        rows["end"] = offsets + rows["local_end"]
        row_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return NoteTable(
            rows=rows,
            note_ids=np.array(
                list(itertools.chain.from_iterable(b.note_ids for b in blocks)), dtype=object
            ),
            names=np.array(
                list(itertools.chain.from_iterable(b.names for b in blocks)), dtype=object
            ),
            part_ids=part_ids,
            part_names=tuple(p.name for p in parts),
            grid=grid,
            row_start=row_start,
            stamps=stamps,
        )


def build_table(data: ScoreData) -> NoteTable:
    """The note table of a score, built from scratch."""
    return TableBuilder().build(data)
