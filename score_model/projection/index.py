"""Valid notes of a live score by id and by cell, kept up to date from change events."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from score_model.document import note_order
from score_model.schema import Note

Cell = tuple[str, str]  # (measure id, part id)


class NoteIndex:
    """Notes by id, and note ids by measure then part.

    Notes whose measure or part does not exist (yet) stay indexed, so that they appear
    when it does (an undone deletion brings back the same ids).
    """

    def __init__(self, notes: Iterable[Note] = ()) -> None:
        self.notes: dict[str, Note] = {}
        self._cells: dict[str, dict[str, set[str]]] = {}
        for note in notes:
            self.put(note)

    def put(self, note: Note) -> None:
        self.remove(note.id)
        self.notes[note.id] = note
        self._cells.setdefault(note.measure, {}).setdefault(note.part, set()).add(note.id)

    def remove(self, note_id: str) -> Note | None:
        note = self.notes.pop(note_id, None)
        if note is not None:
            parts = self._cells[note.measure]
            ids = parts[note.part]
            ids.discard(note_id)
            if not ids:
                del parts[note.part]
                if not parts:
                    del self._cells[note.measure]
        return note

    def has(self, measure_id: str, part_id: str) -> bool:
        """Whether a cell holds any note."""
        return part_id in self._cells.get(measure_id, ())

    def cell(self, measure_id: str, part_id: str) -> list[Note]:
        """The notes of one cell in ``note_order``."""
        ids = self._cells.get(measure_id, {}).get(part_id, ())
        return sorted((self.notes[i] for i in ids), key=note_order)

    def pickup_lengths(self, measure_ids: Iterable[str]) -> dict[str, Fraction]:
        """Content length (latest note end, any part) of the given measures that have notes;
        the same figures as :meth:`ScoreData.pickup_lengths`."""
        lengths: dict[str, Fraction] = {}
        for measure_id in measure_ids:
            ends = [
                self.notes[i].end for ids in self._cells.get(measure_id, {}).values() for i in ids
            ]
            if ends:
                lengths[measure_id] = max(ends)
        return lengths
