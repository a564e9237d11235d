"""How a length is written: note values, dots, tuplets, and the tied pieces of a length
no single note value writes.

These are music21's rules (``duration.quarterConversion`` and ``splitAtDurations``, which
the music21 export applied), in plain Python over exact fractions, and remembered per
distinct length: a score has few. ``tests/score_model/test_musicxml_rules.py`` checks
them against music21 itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from score_model.schema import Note

__all__ = [
    "QUANTUM",
    "TYPE_LENGTHS",
    "Level",
    "Piece",
    "grouped_value",
    "pieces_of",
    "snap",
    "writable",
]

QUANTUM = Fraction(1, 384)  # a triplet 1024th: lengths no notation can write snap to it

# note types from the longest, with their length in quarters (music21's names)
TYPE_LENGTHS: dict[str, Fraction] = {
    "duplex-maxima": Fraction(64),
    "maxima": Fraction(32),
    "longa": Fraction(16),
    "breve": Fraction(8),
    "whole": Fraction(4),
    "half": Fraction(2),
    "quarter": Fraction(1),
    "eighth": Fraction(1, 2),
    "16th": Fraction(1, 4),
    "32nd": Fraction(1, 8),
    "64th": Fraction(1, 16),
    "128th": Fraction(1, 32),
    "256th": Fraction(1, 64),
    "512th": Fraction(1, 128),
    "1024th": Fraction(1, 256),
    "2048th": Fraction(1, 512),
}
_BY_LENGTH = {length: kind for kind, length in TYPE_LENGTHS.items()}
_ASCENDING = sorted(_BY_LENGTH.items())
_TUPLET_NUMERATORS = (3, 5, 7, 11, 13)
_MAX_DOTS = 4


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


def _dot_factor(dots: int) -> Fraction:
    return Fraction(2 ** (dots + 1) - 1, 2**dots)


def _closest_type(length: Fraction) -> tuple[str, bool] | None:
    """The longest type not longer than ``length`` and whether it is exact (music21's
    ``quarterLengthToClosestType``); None below a 2048th."""
    exact = _BY_LENGTH.get(length)
    if exact is not None:
        return exact, True
    for value, kind in reversed(_ASCENDING):
        if length / 2 < value < length:
            return kind, False
    if length > 128:
        return "duplex-maxima", False
    return None


def _dotted(length: Fraction) -> tuple[str, int] | None:
    """The type and dots (up to four) that write ``length`` exactly, if any."""
    for dots in range(_MAX_DOTS + 1):
        found = _closest_type(length / _dot_factor(dots))
        if found is not None and found[1]:
            return found[0], dots
    return None


def _tuplet(length: Fraction) -> Piece | None:
    """The simplest tuplet note of ``length`` (smallest type first; music21's
    ``quarterLengthToTuplet``)."""
    for value, kind in _ASCENDING:
        for actual in _TUPLET_NUMERATORS:
            base = value / actual
            for normal in range(1, actual):
                for dots in (0, 1):
                    if base * normal * _dot_factor(dots) == length:
                        return Piece(length, kind, dots, (Level(actual, normal, kind, dots),))
    return None


def _giant_tuplet(length: Fraction) -> Piece:
    """One tuplet over the whole length (music21's ``quarterLengthToNonPowerOf2Tuplet``),
    or an inexpressible piece."""
    ratio = Fraction(1 / float(length)).limit_denominator(65535)
    original = ratio
    while ratio.numerator < ratio.denominator:
        ratio *= 2
    while ratio.numerator > ratio.denominator * 2:
        ratio /= 2
    unit = _closest_type(length / ratio.denominator)
    written = _dotted(ratio / original)
    if unit is None or written is None:
        return Piece(length, "inexpressible")
    level = Level(ratio.numerator, ratio.denominator, unit[0], 0)
    return Piece(length, written[0], written[1], (level,))


@lru_cache(maxsize=4096)
def pieces_of(length: Fraction) -> tuple[Piece, ...]:
    """The tied pieces that write ``length`` (one for a plain note value or tuplet note),
    as music21's ``splitAtDurations`` cuts them."""
    if length <= 0:
        return (Piece(Fraction(0), "zero"),)
    dotted = _dotted(length)
    if dotted is not None:
        return (Piece(length, *dotted),)
    closest = _closest_type(length)
    if closest is None or closest[0] == "duplex-maxima":
        return (Piece(length, "inexpressible"),)
    tuplet = _tuplet(length)
    if tuplet is not None:
        return (tuplet,)
    pieces = [Piece(TYPE_LENGTHS[closest[0]], closest[0])]
    remainder = length - TYPE_LENGTHS[closest[0]]
    for _ in range(8):
        dotted = _dotted(remainder)
        if dotted is not None:
            return (*pieces, Piece(remainder, *dotted))
        smaller = _closest_type(remainder)
        if smaller is None:
            break
        remainder -= TYPE_LENGTHS[smaller[0]]
        pieces.append(Piece(TYPE_LENGTHS[smaller[0]], smaller[0]))
    return (_giant_tuplet(length),)


_UNWRITABLE = {"2048th", "inexpressible", "zero"}


@lru_cache(maxsize=4096)
def writable(length: Fraction) -> bool:
    """Whether MusicXML can write a length: binary lengths down to a 1024th (a 2048th is
    music21's but not MusicXML's), and tuplets of at most 16 notes whose values are
    MusicXML types (music21 would write 1483/384 as one 1536:1483 tuplet of 2048ths)."""
    if length.denominator & (length.denominator - 1) == 0:
        return (length * 256).denominator == 1
    pieces = pieces_of(length)
    if any(p.type in ("2048th", "inexpressible") for p in pieces):
        return False
    return all(
        level.actual <= 16 and level.unit_type not in _UNWRITABLE
        for piece in pieces
        for level in piece.levels
    )


def snap(length: Fraction) -> Fraction:
    """The nearest length MusicXML can write: on the finest grid that gives one (a
    triplet 1024th, a triplet 256th, a triplet 64th, then a 32nd)."""
    for grid in (QUANTUM, Fraction(1, 96), Fraction(1, 24), Fraction(1, 8)):
        snapped = Fraction(round(length / grid)) * grid
        if snapped == 0 or writable(snapped):
            return snapped
    return Fraction(round(length * 8), 8)


@lru_cache(maxsize=4096)
def _plain_value(written: Fraction) -> tuple[str, int] | None:
    """(type, dots) of a length that is one note value without tuplets, else None."""
    dotted = _dotted(written) if written > 0 else None
    return None if dotted is None or dotted[0] == "2048th" else dotted


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
