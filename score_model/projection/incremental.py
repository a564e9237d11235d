"""Keep a music21 projection of a live score document up to date, rebuilding only what
changed.

Change events mark notes, measures, parts and metadata as dirty; :meth:`refresh` turns
them into the set of (measure, part) cells to rebuild. A cell is rebuilt when its notes
changed or its :class:`CellContext` did (time signature in force, pickup length, measure
attributes, first-measure clef or default tempo); measures that only moved are re-placed
without being rebuilt. Anything unexpected falls back to a full rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from music21 import stream
from pycrdt import Subscription

from score_model.document import (
    MeasureSlot,
    ScoreDoc,
    decode_measures,
    decode_note,
    decode_parts,
    layout,
)
from score_model.projection.build import (
    CellContext,
    apply_meta,
    assemble_part,
    build_measure,
    replace_measure,
)
from score_model.projection.index import Cell, NoteIndex
from score_model.schema import Measure, Meta, Part, SchemaError

log = logging.getLogger(__name__)

REASSEMBLE_AFTER = 64  # replacing more measures than this in one part: re-place them all


@dataclass(frozen=True, slots=True)
class ProjectionChanges:
    """What one refresh changed in the projected score.

    ``cells``: (measure id, part id) pairs whose music21 measure was rebuilt;
    ``parts_reassembled``: parts whose measures were all re-placed (new part, changed
    fields, measures inserted, deleted, moved or shifted, or many cells rebuilt);
    ``layout``: measure order, numbers, offsets or lengths changed; ``meta``: title,
    composer or default tempo changed; ``full``: everything was built from scratch.
    """

    cells: frozenset[Cell] = frozenset()
    parts_added: tuple[str, ...] = ()
    parts_removed: tuple[str, ...] = ()
    parts_reassembled: tuple[str, ...] = ()
    meta: bool = False
    layout: bool = False
    full: bool = False

    @property
    def measures(self) -> frozenset[str]:
        """Ids of measures with at least one rebuilt cell."""
        return frozenset(measure for measure, _ in self.cells)

    def __bool__(self) -> bool:
        return bool(
            self.cells
            or self.parts_added
            or self.parts_removed
            or self.parts_reassembled
            or self.meta
            or self.layout
            or self.full
        )


@dataclass
class _State:
    meta: Meta = field(default_factory=Meta)
    parts: list[Part] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    slots: list[MeasureSlot] = field(default_factory=list)
    slot_by_id: dict[str, MeasureSlot] = field(init=False)
    part_by_id: dict[str, Part] = field(init=False)

    def __post_init__(self) -> None:
        self.slot_by_id = {slot.id: slot for slot in self.slots}
        self.part_by_id = {part.id: part for part in self.parts}


def _meta_view(meta: Meta) -> tuple[Any, ...]:
    return (meta.title, meta.composer, meta.tempo)


class IncrementalProjection:
    """A music21 :class:`~music21.stream.Score` kept in step with a :class:`ScoreDoc`.

    Call :meth:`score` (or :meth:`refresh`) after edits; :attr:`last_changes` tells what
    the last refresh rebuilt. Call :meth:`close` to stop listening to the document.
    """

    def __init__(self, score: ScoreDoc) -> None:
        self.doc = score
        self.last_changes = ProjectionChanges()
        self._dirty_notes: set[str] = set()
        self._dirty_meta = self._dirty_parts = self._dirty_measures = False
        self._subscriptions: list[tuple[Any, Subscription]] = [
            (score.notes, score.notes.observe_deep(self._on_notes)),
            (score.measures, score.measures.observe_deep(self._on_measures)),
            (score.parts, score.parts.observe_deep(self._on_parts)),
            (score.meta, score.meta.observe_deep(self._on_meta)),
        ]
        self.last_changes = self._rebuild()

    # --- public API ------------------------------------------------------------------------

    def score(self) -> stream.Score:
        """The projected score, refreshed with every change since the last call."""
        self.refresh()
        return self._score

    @property
    def pending(self) -> bool:
        """Whether changes arrived since the last refresh."""
        return bool(
            self._dirty_notes or self._dirty_meta or self._dirty_parts or self._dirty_measures
        )

    def refresh(self) -> ProjectionChanges:
        """Apply pending changes to the projected score; returns (and keeps) what changed."""
        if not self.pending:
            self.last_changes = ProjectionChanges()
            return self.last_changes
        try:
            changes = self._update()
        except Exception:  # never leave a half-updated projection behind
            log.exception("incremental projection failed; rebuilding the whole score")
            changes = self._rebuild()
        self.last_changes = changes
        return changes

    def close(self) -> None:
        """Stop observing the document (idempotent)."""
        for container, subscription in self._subscriptions:
            container.unobserve(subscription)
        self._subscriptions = []

    def __enter__(self) -> IncrementalProjection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- change events (run inside the writer's transaction: only take notes) --------------

    def _on_notes(self, events: list[Any]) -> None:
        for event in events:
            path = event.path
            if path:
                self._dirty_notes.add(str(path[0]))
            else:
                self._dirty_notes.update(event.keys)

    def _on_measures(self, events: list[Any]) -> None:
        self._dirty_measures = True

    def _on_parts(self, events: list[Any]) -> None:
        self._dirty_parts = True

    def _on_meta(self, events: list[Any]) -> None:
        self._dirty_meta = True

    # --- rebuilding --------------------------------------------------------------------------

    def _rebuild(self) -> ProjectionChanges:
        """Read the whole document and build every cell."""
        self._dirty_notes.clear()
        self._dirty_meta = self._dirty_parts = self._dirty_measures = False
        data = self.doc.read()
        self._index = NoteIndex(data.notes.values())
        self._state = _State()
        self._score = stream.Score()
        apply_meta(self._score, data.meta)
        self._m21_parts: dict[str, stream.Part] = {}
        self._built: dict[Cell, tuple[CellContext, stream.Measure]] = {}
        self._placement: dict[str, list[tuple[str, Fraction]]] = {}
        changes = self._reconcile(data.meta, data.parts, data.measures, data.layout(), set())
        return ProjectionChanges(
            changes.cells, changes.parts_added, (), changes.parts_added, True, True, True
        )

    def _update(self) -> ProjectionChanges:
        state = self._state
        dirty_notes, self._dirty_notes = self._dirty_notes, set()
        meta, parts, measures = state.meta, state.parts, state.measures
        if self._dirty_meta:
            self._dirty_meta = False
            meta = self._read_meta()
        if self._dirty_parts:
            self._dirty_parts = False
            parts = decode_parts(self.doc.raw_parts(), [])
        if self._dirty_measures:
            self._dirty_measures = False
            measures = decode_measures(self.doc.raw_measures(), [])
        dirty_cells = self._apply_notes(dirty_notes)
        slots = state.slots
        pickups = [m.id for m in measures if m.pickup]
        if measures != state.measures or any(m in pickups for m, _ in dirty_cells):
            slots = layout(measures, self._index.pickup_lengths(pickups))
        if (
            slots != state.slots
            or parts != state.parts
            or _meta_view(meta) != _meta_view(state.meta)
        ):
            return self._reconcile(meta, parts, measures, slots, dirty_cells)
        return self._patch(dirty_cells)

    def _read_meta(self) -> Meta:
        try:
            return Meta.from_json(self.doc.raw_meta())
        except SchemaError:
            return Meta()

    def _apply_notes(self, note_ids: Iterable[str]) -> set[Cell]:
        """Re-read changed notes into the index; returns the cells they left or entered."""
        cells: set[Cell] = set()
        for note_id in note_ids:
            value: Any = self.doc.notes.get(note_id)
            if hasattr(value, "to_py"):  # a shared type written by a misbehaving client
                value = value.to_py()
            note = None if value is None else decode_note(note_id, value, [])
            old = self._index.notes.get(note_id)
            if note == old:
                continue
            if old is not None:
                self._index.remove(note_id)
                cells.add((old.measure, old.part))
            if note is not None:
                self._index.put(note)
                cells.add((note.measure, note.part))
        return cells

    def _patch(self, dirty_cells: set[Cell]) -> ProjectionChanges:
        """Rebuild changed cells in place: the layout and parts are unchanged."""
        state = self._state
        by_part: dict[str, list[tuple[stream.Measure, stream.Measure]]] = {}
        rebuilt: set[Cell] = set()
        for cell in dirty_cells:
            entry = self._built.get(cell)
            if entry is None:  # a cell of a measure or part that does not exist
                continue
            slot, part = state.slot_by_id[cell[0]], state.part_by_id[cell[1]]
            notes = self._index.cell(*cell)
            context = CellContext.of(slot, part, state.meta, not notes)
            measure = build_measure(context, notes, slot.number)
            by_part.setdefault(part.id, []).append((entry[1], measure))
            self._built[cell] = (context, measure)
            rebuilt.add(cell)
        reassembled = []
        for part_id, replaced in by_part.items():
            target = self._m21_parts[part_id]
            if len(replaced) > REASSEMBLE_AFTER:
                assemble_part(
                    target,
                    state.part_by_id[part_id],
                    [(slot.offset, self._built[(slot.id, part_id)][1]) for slot in state.slots],
                )
                reassembled.append(part_id)
            else:
                for old, new in replaced:
                    replace_measure(target, old, new)
        return ProjectionChanges(frozenset(rebuilt), parts_reassembled=tuple(reassembled))

    def _reconcile(
        self,
        meta: Meta,
        parts: list[Part],
        measures: list[Measure],
        slots: list[MeasureSlot],
        dirty_cells: set[Cell],
    ) -> ProjectionChanges:
        """Bring every part in line with new parts, layout or metadata."""
        state = self._state
        old_ids = [part.id for part in state.parts]
        new_ids = [part.id for part in parts]
        removed = tuple(pid for pid in old_ids if pid not in set(new_ids))
        added = tuple(pid for pid in new_ids if pid not in self._m21_parts)
        live = {(slot.id, pid) for slot in slots for pid in new_ids}
        for cell in [cell for cell in self._built if cell not in live]:
            del self._built[cell]
        for pid in removed:
            self._m21_parts.pop(pid, None)
            self._placement.pop(pid, None)
        old_parts = {part.id: part for part in state.parts}
        rebuilt: set[Cell] = set()
        reassembled: list[str] = []
        for part in parts:
            target = self._m21_parts.get(part.id)
            if target is None:
                target = self._m21_parts[part.id] = stream.Part()
            placed, replaced = self._place_part(part, meta, slots, dirty_cells, rebuilt)
            placement = [(slot.id, slot.offset) for slot in slots]
            if (
                part.id in added
                or old_parts.get(part.id) != part
                or placement != self._placement.get(part.id)
                or len(replaced) > REASSEMBLE_AFTER
            ):
                assemble_part(target, part, placed)
                reassembled.append(part.id)
            else:
                for old, new in replaced:
                    replace_measure(target, old, new)
            self._placement[part.id] = placement
        if removed or added or old_ids != new_ids:
            for m21_part in list(self._score.parts):
                self._score.remove(m21_part)
            for pid in new_ids:
                self._score.coreInsert(0, self._m21_parts[pid])
            self._score.coreElementsChanged()
        meta_changed = _meta_view(meta) != _meta_view(state.meta)
        if meta_changed:
            apply_meta(self._score, meta)
        layout_changed = slots != state.slots
        self._state = _State(meta, parts, measures, slots)
        return ProjectionChanges(
            frozenset(rebuilt), added, removed, tuple(reassembled), meta_changed, layout_changed
        )

    def _place_part(
        self,
        part: Part,
        meta: Meta,
        slots: list[MeasureSlot],
        dirty_cells: set[Cell],
        rebuilt: set[Cell],
    ) -> tuple[list[tuple[Fraction, stream.Measure]], list[tuple[stream.Measure, stream.Measure]]]:
        """Each measure of a part, rebuilt when its notes or context changed."""
        placed: list[tuple[Fraction, stream.Measure]] = []
        replaced: list[tuple[stream.Measure, stream.Measure]] = []
        for slot in slots:
            cell = (slot.id, part.id)
            context = CellContext.of(slot, part, meta, not self._index.has(*cell))
            entry = self._built.get(cell)
            if entry is None or entry[0] != context or cell in dirty_cells:
                measure = build_measure(context, self._index.cell(*cell), slot.number)
                if entry is not None:
                    replaced.append((entry[1], measure))
                self._built[cell] = (context, measure)
                rebuilt.add(cell)
            else:
                measure = entry[1]
                if measure.number != slot.number:
                    measure.number = slot.number
            placed.append((slot.offset, measure))
        return placed, replaced
