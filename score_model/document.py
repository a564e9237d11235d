"""A score as a pycrdt document: the root containers and typed, tolerant reading."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from pycrdt import Array, Doc, Map

from score_model.schema import (
    CHAT,
    COMMENTS,
    MEASURES,
    META,
    NOTES,
    PARTS,
    SUGGESTIONS,
    KeySignature,
    Measure,
    Meta,
    Note,
    Part,
    Problem,
    SchemaError,
    Tempo,
    bar_duration,
)

DEFAULT_TIME = "4/4"
T = TypeVar("T")
U = TypeVar("U", Measure, Part)


class ScoreDoc:
    """A pycrdt :class:`Doc` holding one score, with every root container created up front."""

    def __init__(self, doc: Doc | None = None) -> None:
        self.doc = doc if doc is not None else Doc()
        self.meta: Map = self.doc.get(META, type=Map)
        self.parts: Array = self.doc.get(PARTS, type=Array)
        self.measures: Array = self.doc.get(MEASURES, type=Array)
        self.notes: Map = self.doc.get(NOTES, type=Map)
        self.chat: Array = self.doc.get(CHAT, type=Array)
        self.comments: Map = self.doc.get(COMMENTS, type=Map)
        self.suggestions: Map = self.doc.get(SUGGESTIONS, type=Map)

    @classmethod
    def from_update(cls, update: bytes) -> ScoreDoc:
        """Load a document from an encoded Yjs state (an update from the empty state)."""
        score = cls()
        if update:
            score.doc.apply_update(update)
        return score

    def encode_state(self) -> bytes:
        return self.doc.get_update()

    # --- raw reads (fast: one JSON round-trip per container) ---------------------------------

    def raw_meta(self) -> dict[str, Any]:
        return _json(self.meta, {})

    def raw_parts(self) -> list[Any]:
        return _json(self.parts, [])

    def raw_measures(self) -> list[Any]:
        return _json(self.measures, [])

    def raw_notes(self) -> dict[str, Any]:
        return _json(self.notes, {})

    def raw_comments(self) -> dict[str, Any]:
        return _json(self.comments, {})

    def raw_chat(self) -> list[Any]:
        return _json(self.chat, [])

    def raw_suggestions(self) -> dict[str, Any]:
        return _json(self.suggestions, {})

    # --- typed reads -------------------------------------------------------------------------

    def read(self, *, notes: bool = True) -> ScoreData:
        """Decode the whole score; off-schema content becomes problems, never exceptions.
        ``notes=False``: the outline only (meta, parts, measures; no notes decoded), for
        readers that need no notes."""
        problems: list[Problem] = []
        parts = decode_parts(self.raw_parts(), problems)
        measures = decode_measures(self.raw_measures(), problems)
        decoded = decode_notes(self.raw_notes(), problems) if notes else {}
        try:
            meta = Meta.from_json(self.raw_meta())
        except SchemaError as exc:
            problems.append(Problem("bad_meta", str(exc)))
            meta = Meta()
        return ScoreData(meta, parts, measures, decoded, problems)


def _json(container: Map | Array, empty: Any) -> Any:
    text = str(container)
    return json.loads(text) if text else empty


def decode_note(note_id: str, raw: Any, problems: list[Problem]) -> Note | None:
    try:
        return Note.from_json(note_id, raw)
    except SchemaError as exc:
        measure = raw.get("measure") if isinstance(raw, dict) else None
        part = raw.get("part") if isinstance(raw, dict) else None
        problems.append(
            Problem(
                f"bad_{exc.field_name or 'note'}",
                str(exc),
                note=note_id,
                measure=measure if isinstance(measure, str) else None,
                part=part if isinstance(part, str) else None,
            )
        )
        return None


def decode_notes(raw_notes: dict[str, Any], problems: list[Problem]) -> dict[str, Note]:
    """Decode every note, in id order so that problems come out alike on every replica
    (a map's iteration order differs between replicas of one document)."""
    notes: dict[str, Note] = {}
    for note_id in sorted(raw_notes):
        note = decode_note(note_id, raw_notes[note_id], problems)
        if note is not None:
            notes[note_id] = note
    return notes


def _decode_dropping_bad(
    decode: Callable[[Any], T], raw: Any, kind: str, index: int, problems: list[Problem]
) -> T | None:
    """Decode a map, dropping (and reporting) each bad attribute but keeping the rest."""
    attempt = dict(raw) if isinstance(raw, dict) else raw
    for _ in range(16):
        try:
            return decode(attempt)
        except SchemaError as exc:
            item_id = attempt.get("id") if isinstance(attempt, dict) else None
            item_id = item_id if isinstance(item_id, str) else None
            problems.append(
                Problem(
                    f"bad_{kind}_{exc.field_name or 'value'}",
                    f"{kind} {index + 1}: {exc}",
                    **{kind: item_id},  # type: ignore[arg-type]
                )
            )
            if (
                not isinstance(attempt, dict)
                or exc.field_name in (None, "id")
                or exc.field_name not in attempt
            ):
                return None
            del attempt[exc.field_name]
    return None


def decode_measures(raw_measures: list[Any], problems: list[Problem]) -> list[Measure]:
    """Decode measure columns; a repeated id (two clients moved one measure) keeps the first."""
    return _decode_unique(Measure.from_json, raw_measures, "measure", problems)


def decode_parts(raw_parts: list[Any], problems: list[Problem]) -> list[Part]:
    """Decode parts; a repeated id keeps the first."""
    return _decode_unique(Part.from_json, raw_parts, "part", problems)


def _decode_unique(
    decode: Callable[[Any], U], raw_items: list[Any], kind: str, problems: list[Problem]
) -> list[U]:
    items: list[U] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        item = _decode_dropping_bad(decode, raw, kind, index, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(
                Problem(
                    f"duplicate_{kind}",
                    f"{kind} id {item.id} appears twice; the later copy is ignored",
                    **{kind: item.id},  # type: ignore[arg-type]
                )
            )
            continue
        seen.add(item.id)
        items.append(item)
    return items


@dataclass(frozen=True, slots=True)
class MeasureSlot:
    """A measure placed in time: its effective attributes and offset from the start."""

    index: int
    number: int
    measure: Measure
    time: str
    key: KeySignature | None
    tempo: Tempo | None
    offset: Fraction
    bar: Fraction

    @property
    def id(self) -> str:
        return self.measure.id

    @property
    def length(self) -> Fraction:
        """Time the measure occupies (a pickup's is set by its content: see :func:`layout`)."""
        return self.bar


def layout(
    measures: list[Measure], pickup_lengths: dict[str, Fraction] | None = None
) -> list[MeasureSlot]:
    """Place measures in time with the time signature, key and tempo in force at each.

    ``pickup_lengths`` gives the content length of pickup measures; a pickup without one
    counts as a full bar.
    """
    slots: list[MeasureSlot] = []
    time, key, tempo = DEFAULT_TIME, None, None
    offset = Fraction(0)
    first_is_pickup = bool(measures) and measures[0].pickup
    for index, measure in enumerate(measures):
        time = measure.time or time
        key = measure.key or key
        tempo = measure.tempo or tempo
        bar = bar_duration(time)
        length = bar
        if measure.pickup and pickup_lengths and measure.id in pickup_lengths:
            length = min(bar, pickup_lengths[measure.id]) or bar
        number = index if first_is_pickup else index + 1
        slots.append(MeasureSlot(index, number, measure, time, key, tempo, offset, length))
        offset += length
    return slots


@dataclass
class ScoreData:
    """A decoded snapshot of a score document."""

    meta: Meta
    parts: list[Part]
    measures: list[Measure]
    notes: dict[str, Note]
    problems: list[Problem] = field(default_factory=list)

    def notes_by_cell(self) -> dict[tuple[str, str], list[Note]]:
        """Notes grouped by (measure id, part id), each group sorted by voice then onset."""
        cells: dict[tuple[str, str], list[Note]] = {}
        for note in self.notes.values():
            cells.setdefault((note.measure, note.part), []).append(note)
        for group in cells.values():
            group.sort(key=note_order)
        return cells

    def pickup_lengths(self) -> dict[str, Fraction]:
        pickups = {m.id for m in self.measures if m.pickup}
        lengths: dict[str, Fraction] = {}
        for note in self.notes.values():
            if note.measure in pickups:
                lengths[note.measure] = max(lengths.get(note.measure, Fraction(0)), note.end)
        return lengths

    def layout(self) -> list[MeasureSlot]:
        return layout(self.measures, self.pickup_lengths())

    def iter_notes(self) -> Iterator[Note]:
        return iter(self.notes.values())


def note_order(note: Note) -> tuple[int, Fraction, int, str]:
    """Stable order of notes in a cell: voice, onset, grace notes first, id."""
    return (note.voice, note.onset, 0 if note.grace else 1, note.id)
