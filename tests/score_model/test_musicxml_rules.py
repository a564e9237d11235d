"""The MusicXML writer's length and beam rules (score_model.musicxml.lengths and .beams)
are music21's, written in plain Python: checked here against music21 itself, on every
length of a dense grid and on thousands of random rhythms in every kind of meter."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
from music21 import duration, meter, note, stream

from score_model.musicxml.beams import Beamed, beams_for
from score_model.musicxml.lengths import Level, Piece, pieces_of, writable
from score_model.notation import _writable

DENOMINATORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 20, 24, 28, 32, 48, 64, 96)
DENOMINATORS += (11, 13, 22, 35, 128, 256, 384, 512, 1024)


def lengths(most: int) -> list[Fraction]:
    """Every k/d of the denominators above, up to ``most`` quarters."""
    return sorted({Fraction(k, d) for d in DENOMINATORS for k in range(1, most * d + 1)})


def _ql(value: Fraction) -> float | Fraction:
    return (
        value.numerator / value.denominator
        if value.denominator & (value.denominator - 1) == 0
        else value
    )


def music21_pieces(length: Fraction) -> tuple[Piece, ...]:
    pieces = []
    for part in note.Note(quarterLength=_ql(length)).splitAtDurations():
        value = part.duration
        levels = tuple(
            Level(
                int(t.numberNotesActual),
                int(t.numberNotesNormal),
                None if t.durationNormal is None else str(t.durationNormal.type),
                0 if t.durationNormal is None else int(t.durationNormal.dots),
            )
            for t in value.tuplets
        )
        pieces.append(
            Piece(Fraction(value.quarterLength), str(value.type), int(value.dots), levels)
        )
    return tuple(pieces)


def music21_writable(length: Fraction) -> bool:
    """The music21 export path's own check (``score_model.notation``)."""
    return _writable(duration.Duration(length))


@pytest.mark.parametrize("most", [pytest.param(2), pytest.param(12, marks=pytest.mark.slow)])
def test_lengths_are_written_as_music21_writes_them(most: int) -> None:
    grid = lengths(most)
    assert len(grid) > 1_000 * most
    differ = []
    for length in grid:
        mine_ok, theirs_ok = writable(length), music21_writable(length)
        if mine_ok != theirs_ok or (mine_ok and pieces_of(length) != music21_pieces(length)):
            differ.append(length)
    assert not differ, differ[:10]


def test_common_lengths() -> None:
    assert pieces_of(Fraction(5, 4)) == (
        Piece(Fraction(1), "quarter"),
        Piece(Fraction(1, 4), "16th"),
    )
    assert pieces_of(Fraction(7, 2)) == (Piece(Fraction(7, 2), "half", 2),)
    assert pieces_of(Fraction(1, 3)) == (
        Piece(Fraction(1, 3), "eighth", 0, (Level(3, 2, "eighth", 0),)),
    )
    assert not writable(Fraction(1, 1024)) and writable(Fraction(1, 384))
    assert not writable(Fraction(1483, 384))  # music21: one 1536:1483 tuplet of 2048ths


def music21_beams(
    time: str, start: Fraction, voice: bool, padded: bool, rhythm: list[Beamed]
) -> tuple[tuple[tuple[int, str], ...], ...]:
    container: Any = stream.Voice() if voice else stream.Measure()
    if padded and not voice:
        container.paddingRight = 1.0
    for offset, piece, length, rest in rhythm:
        element: Any = note.Rest() if rest else note.Note()
        if piece is None:
            element.duration = duration.Duration(_ql(length))
        else:
            value = duration.Duration(type=piece.type, dots=piece.dots)
            for level in piece.levels:
                value.appendTuplet(duration.Tuplet(level.actual, level.normal))
            element.duration = value
        container.coreInsert(_ql(offset), element)
    container.coreElementsChanged()
    try:
        found = meter.TimeSignature(time).getBeams(container, measureStartOffset=_ql(start))
    except meter.MeterException:
        return tuple(() for _ in rhythm)
    hooks = {"left": "backward hook", "right": "forward hook"}
    names = {"start": "begin", "continue": "continue", "stop": "end"}
    return tuple(
        ()
        if beams is None
        else tuple(
            (
                b.number,
                hooks.get(b.direction, "forward hook")
                if b.type == "partial"
                else names.get(b.type, "continue"),
            )
            for b in beams.beamsList
        )
        for beams in found
    )


TIMES = [f"{n}/{d}" for d in (1, 2, 4, 8, 16, 32) for n in range(1, 17)]
VALUES = [
    Fraction(1, 2),
    Fraction(1, 4),
    Fraction(3, 4),
    Fraction(1, 8),
    Fraction(3, 8),
    Fraction(1),
    Fraction(3, 2),
    Fraction(1, 3),
    Fraction(1, 6),
    Fraction(2),
    Fraction(1, 16),
    Fraction(1, 12),
    Fraction(5, 4),
    Fraction(1, 5),
]


@pytest.mark.parametrize(
    "seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 8))]
)
def test_beams_are_music21s(seed: int) -> None:
    rng = random.Random(seed)
    differ = []
    for _ in range(400):
        time = rng.choice(TIMES)
        bar = Fraction(4 * int(time.split("/")[0]), int(time.split("/")[1]))
        rhythm: list[Beamed] = []
        position = Fraction(0)
        limit = bar * rng.choice((1, 1, 1, Fraction(1, 2), Fraction(5, 4)))
        while position < limit and len(rhythm) < 24:
            length = rng.choice(VALUES)
            pieces = pieces_of(length)
            rest = rng.random() < 0.15
            gap = rng.choice((0,) * 12 + (Fraction(1, 4),))
            position += gap
            rhythm.append((position, pieces[0] if len(pieces) == 1 else None, length, rest))
            position += length
        start = rng.choice((Fraction(0),) * 4 + (Fraction(1, 2), Fraction(1)))
        voice, padded = rng.random() < 0.3, rng.random() < 0.2
        mine = beams_for(time, start, voice, padded, rhythm)
        theirs = music21_beams(time, start, voice, padded, rhythm)
        if mine != theirs:
            differ.append((time, start, voice, padded, rhythm, mine, theirs))
    assert not differ, differ[:2]
