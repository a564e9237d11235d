"""How a length is written: note values, dots, tuplets, and the tied pieces of a length
no single note value writes.

The rules are music21's (``Duration`` and ``splitAtDurations``, as the music21 export
applied them), asked once per distinct length and remembered: a score has few distinct
lengths, so music21 is consulted a few dozen times per export, never per note.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from score_model.schema import Note

__all__ = [
    "QUANTUM",
    "Level",
    "Piece",
    "grouped_value",
    "pieces_of",
    "snap",
    "writable",
]

QUANTUM = Fraction(1, 384)  # a triplet 1024th: lengths no notation can write snap to it


@dataclass(frozen=True, slots=True)
class Level:
    """One tuplet level of a written note: ``actual`` notes in the time of ``normal``
    notes of the ``unit`` value (type and dots)."""

    actual: int
    normal: int
    unit_type: str | None
    unit_dots: int = 0


@dataclass(frozen=True, slots=True)
class Piece:
    """A written note value: its length in quarters, type, dots and tuplet levels."""

    length: Fraction
    type: str
    dots: int = 0
    levels: tuple[Level, ...] = ()


def _fraction(value: Any) -> Fraction:
    return value if isinstance(value, Fraction) else Fraction(value).limit_denominator(1 << 20)


def _ql(value: Fraction) -> float | Fraction:
    denominator = value.denominator
    return value.numerator / denominator if denominator & (denominator - 1) == 0 else value


def _levels(m21_duration: Any) -> tuple[Level, ...]:
    levels = []
    for tuplet in m21_duration.tuplets:
        unit = tuplet.durationNormal
        levels.append(
            Level(
                int(tuplet.numberNotesActual),
                int(tuplet.numberNotesNormal),
                None if unit is None else str(unit.type),
                0 if unit is None else int(unit.dots),
            )
        )
    return tuple(levels)


@lru_cache(maxsize=4096)
def pieces_of(length: Fraction) -> tuple[Piece, ...]:
    """The tied pieces that write ``length`` (one for a plain note value or tuplet note),
    as music21's ``splitAtDurations`` cuts them."""
    from music21 import note

    element = note.Note(quarterLength=_ql(length))
    return tuple(
        Piece(
            _fraction(part.duration.quarterLength),
            str(part.duration.type),
            int(part.duration.dots),
            _levels(part.duration),
        )
        for part in element.splitAtDurations()
    )


@lru_cache(maxsize=4096)
def writable(length: Fraction) -> bool:
    """Whether MusicXML can write a length: binary lengths down to a 1024th (a 2048th is
    music21's but not MusicXML's), and tuplets of at most 16 notes whose values are
    MusicXML types (music21 would write 1483/384 as one 1536:1483 tuplet of 2048ths)."""
    from music21 import duration

    if length.denominator & (length.denominator - 1) == 0:
        return (length * 256).denominator == 1
    value = duration.Duration(length)
    if value.type == "inexpressible" or any(
        c.type in ("2048th", "inexpressible") for c in value.components
    ):
        return False
    return all(
        t.numberNotesActual <= 16
        and t.durationNormal is not None
        and t.durationNormal.type not in ("2048th", "inexpressible")
        for t in value.tuplets
    )


def snap(length: Fraction) -> Fraction:
    """The nearest length MusicXML can write: on the finest grid that gives one (a
    triplet 1024th, a triplet 256th, a triplet 64th, then a 32nd)."""
    for grid in (QUANTUM, Fraction(1, 96), Fraction(1, 24), Fraction(1, 8)):
        snapped = Fraction(round(length / grid)) * grid
        if snapped == 0 or writable(snapped):
            return snapped
    return Fraction(round(length * 8), 8)


_PLAIN = {"complex", "inexpressible", "zero"}


@lru_cache(maxsize=4096)
def _plain_value(written: Fraction) -> tuple[str, int] | None:
    """(type, dots) of a length that is one note value without tuplets, else None."""
    from music21 import duration

    value = duration.Duration(_ql(written))
    if value.type in _PLAIN or value.tuplets or value.type == "2048th":
        return None
    return str(value.type), int(value.dots)


def grouped_value(item: Note) -> Piece | None:
    """The note written as its stored tuplet groups say (schema version 4: its written
    value squeezed by each group), or None when that is no note value MusicXML writes
    (the note is then written as its length alone says)."""
    plain = _plain_value(item.written)
    if plain is None:
        return None
    levels = []
    for group in item.tuplets:
        unit = _plain_value(group.unit) if group.unit is not None else None
        if group.actual > 16:
            return None
        levels.append(Level(group.actual, group.normal, *(unit or plain)))
    return Piece(item.duration, plain[0], plain[1], tuple(levels))
