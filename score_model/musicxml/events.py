"""A cell's notes (one measure of one part) as the notes MusicXML writes: each stored note
becomes one written note, or several tied ones for a length no single note value writes;
lengths no notation can write are rounded; tuplet brackets and beams are decided here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from score_model.musicxml.beams import Beamed, beams_for
from score_model.musicxml.lengths import (
    QUANTUM,
    TYPE_LENGTHS,
    Piece,
    grouped_value,
    pieces_of,
    snap,
    writable,
)
from score_model.schema import Note, Tuplet

__all__ = ["Event", "Voice", "cell_voices"]

GRACE_DEFAULT = Fraction(1, 2)  # a grace note stored with duration 0 is drawn as an eighth


@dataclass(slots=True)
class TupletMark:
    """A tuplet bracket starting or stopping on a written note, at ``level`` (from 0)."""

    kind: str  # "start" or "stop"
    level: int
    actual: int
    normal: int
    unit: tuple[str, int] | None
    bracket: bool | None = None
    number: str = "number"


@dataclass(slots=True)
class Event:
    """One written note: a piece of a stored note (``index`` of ``count``)."""

    note: Note
    onset: Fraction
    piece: Piece
    index: int = 0
    count: int = 1
    tuplets: list[TupletMark] = field(default_factory=list)
    beams: tuple[tuple[int, str], ...] = ()
    stem: str | None = None
    grace: bool = False

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index == self.count - 1

    @property
    def end(self) -> Fraction:
        return self.onset + (Fraction(0) if self.grace else self.piece.length)


@dataclass(slots=True)
class Voice:
    """The written notes of one voice of one staff in one measure."""

    number: int
    staff: int
    events: list[Event]


def cell_voices(
    notes: list[Note], staves: int, warnings: Counter[str], bar: tuple[str, Fraction, Fraction]
) -> list[Voice]:
    """The voices of a cell, by staff then voice number, written and beamed. ``bar`` is
    the time signature, where the content starts in the bar (a pickup's missing beats,
    negative for a short bar at the end) and the length of a full bar."""
    by_voice: dict[tuple[int, int], list[Note]] = {}
    for item in notes:  # sorted by voice, onset, grace first
        by_voice.setdefault((min(item.staff, staves), item.voice), []).append(item)
    per_staff = Counter(staff for staff, _ in by_voice)
    voices = []
    for (staff, number), members in sorted(by_voice.items()):
        voice = Voice(number, staff, _written(members, warnings, bar[2]))
        _beam(voice, per_staff[staff] > 1, bar)
        voices.append(voice)
    return voices


def _written(members: list[Note], warnings: Counter[str], full: Fraction) -> list[Event]:
    events: list[Event] = []
    grouped: dict[tuple[int, str], list[tuple[Event, Tuplet]]] = {}
    raw_end, fixed_end = Fraction(-1), Fraction(-1)  # a rounded note moves the next one
    for item in members:
        onset = fixed_end if item.onset == raw_end else item.onset
        if item.grace:
            length = item.duration if item.duration > 0 else GRACE_DEFAULT
            piece = pieces_of(length)[0]
            if piece.type not in TYPE_LENGTHS:  # an inexpressible grace value: an eighth
                piece = Piece(GRACE_DEFAULT, "eighth")
            events.append(Event(item, onset, Piece(length, piece.type, piece.dots), grace=True))
            continue
        raw_end = item.end
        if item.tuplets:
            value = grouped_value(item)
            if value is not None:
                event = Event(item, onset, value)
                events.append(event)
                fixed_end = event.end
                for level, group in enumerate(item.tuplets):
                    grouped.setdefault((level, group.id), []).append((event, group))
                continue
            warnings["ungrouped"] += 1
        length = item.duration
        if item.is_rest and length == full:  # a full-measure rest: one rest, no type
            events.append(Event(item, onset, Piece(length, "whole")))
            fixed_end = onset + length
            continue
        if not writable(length):
            snapped = snap(length)
            if snapped == 0 and item.is_rest:
                warnings["dropped"] += 1
                fixed_end = onset
                continue
            length = max(snapped, QUANTUM)
            warnings["rounded"] += 1
        pieces = pieces_of(length)
        for index, piece in enumerate(pieces):
            events.append(Event(item, onset, piece, index, len(pieces)))
            onset += piece.length
        fixed_end = onset
    events.sort(key=lambda e: (e.onset, not e.grace))
    for (level, _), run in grouped.items():
        _mark_group(level, run)
    if not grouped:
        _infer_brackets(events)
    return events


def _mark_group(level: int, run: list[tuple[Event, Tuplet]]) -> None:
    """Brackets of a stored tuplet group (schema version 4) on its first and last note."""
    run.sort(key=lambda entry: entry[0].onset)
    first, group = run[0]
    written = first.piece.levels[level]
    unit = (written.unit_type, written.unit_dots) if written.unit_type else None
    start = TupletMark(
        "start", level, group.actual, group.normal, unit, group.bracket, group.number
    )
    first.tuplets.append(start)
    last = run[-1][0]
    last.tuplets.append(TupletMark("stop", level, group.actual, group.normal, unit))


def _infer_brackets(events: list[Event]) -> None:
    """Brackets for notes whose lengths are tuplet values but that carry no stored group
    (music21's ``makeTupletBrackets``: a run of tuplet notes is closed when it fills the
    tuplet, or when the next note is no tuplet note)."""
    plain = [e for e in events if not e.grace]
    target: Fraction | None = None
    count = Fraction(0)
    for index, event in enumerate(plain):
        levels = event.piece.levels
        if not levels:
            target, count = None, Fraction(0)
            continue
        level = levels[0]
        before = plain[index - 1].piece.levels if index > 0 else ()
        after = plain[index + 1].piece.levels if index + 1 < len(plain) else ()
        unit = (level.unit_type, level.unit_dots) if level.unit_type else None
        count += event.piece.length
        if not before or target is None:
            if not after:
                event.tuplets.append(
                    TupletMark("start", 0, level.actual, level.normal, unit, False)
                )
                event.tuplets.append(TupletMark("stop", 0, level.actual, level.normal, unit))
                count = Fraction(0)
            else:
                event.tuplets.append(TupletMark("start", 0, level.actual, level.normal, unit))
                target = _total(event.piece)
        elif count >= target or not after:
            event.tuplets.append(TupletMark("stop", 0, level.actual, level.normal, unit))
            target, count = None, Fraction(0)


def _total(piece: Piece) -> Fraction:
    """The length a tuplet of this note fills: ``normal`` notes of its normal value
    (music21's ``totalTupletLength``)."""
    level = piece.levels[0]
    if level.unit_type is None:
        return piece.length * level.actual
    return type_length(level.unit_type, level.unit_dots) * level.normal


def type_length(kind: str, dots: int = 0) -> Fraction:
    """The length in quarters of a note type with dots."""
    base = TYPE_LENGTHS.get(kind, Fraction(1))
    return base * (2 - Fraction(1, 2**dots))


def _beam(voice: Voice, several: bool, bar: tuple[str, Fraction, Fraction]) -> None:
    """Beams of one voice by its time signature (as music21's ``makeBeams``)."""
    time, start, full = bar
    plain = [e for e in voice.events if not e.grace]
    if len(plain) <= 1:
        return
    pieces: list[Beamed] = []
    by_note: dict[str, list[Event]] = {}
    for event in plain:
        by_note.setdefault(event.note.id, []).append(event)
    rhythm_events: list[Event] = []
    for event in plain:
        if not event.first:
            continue
        parts = by_note[event.note.id]
        length = sum((p.piece.length for p in parts), Fraction(0))
        piece = event.piece if len(parts) == 1 else None
        pieces.append((event.onset, piece, length, event.note.is_rest))
        rhythm_events.append(event)
    if sum(p[2] for p in pieces) > full:
        return  # overfull: music21 leaves it unbeamed too
    highest = max(p[0] + p[2] for p in pieces)
    padded = start < 0
    offset = start if start > 0 else full - highest if not padded and highest < full else 0
    found = beams_for(time, Fraction(offset), several, padded, pieces)
    for event, beams in zip(rhythm_events, found, strict=True):
        event.beams = beams
