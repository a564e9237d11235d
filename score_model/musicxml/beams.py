"""Beams by time signature and stem directions by clef.

Which notes a time signature beams together is music21's rule (``TimeSignature.getBeams``
with its default beam groups, as the music21 export applied it measure by measure), in
plain Python; it depends only on the time signature, where the voice starts in the bar
and the rhythm, so each distinct rhythm is worked out once and remembered.
``tests/score_model/test_musicxml_rules.py`` checks it against music21 itself. Stems of
a beam group point away from the clef's middle line (music21's
``getStemDirectionForPitches``: the first and last pitch decide).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise

from score_model.musicxml.lengths import Piece

__all__ = ["CLEF_LOWEST_LINE", "Beamed", "beams_for", "stem_direction"]

# (offset in the voice, the written piece or None for a note written in several pieces,
# rest or not)
Beamed = tuple[Fraction, Piece | None, Fraction, bool]
Beams = tuple[tuple[int, str], ...]

_MUSICXML = {
    "start": "begin",
    "continue": "continue",
    "stop": "end",
    "partial-right": "forward hook",
    "partial-left": "backward hook",
}
# beamable types, with their number of beams
_BEAMABLE = {
    kind: count
    for count, kind in enumerate(
        ("eighth", "16th", "32nd", "64th", "128th", "256th", "512th", "1024th", "2048th"), 1
    )
}

# music21's diatonic number of each clef's lowest line
CLEF_LOWEST_LINE = {
    "treble": 31,
    "bass": 19,
    "alto": 25,
    "tenor": 23,
    "treble8vb": 24,
    "treble8va": 24,
    "bass8vb": 19,
    "percussion": 31,
    "soprano": 29,
    "mezzo-soprano": 27,
    "baritone": 21,
}


def beams_for(
    time: str, start: Fraction, voice: bool, padded: bool, rhythm: Sequence[Beamed]
) -> tuple[Beams, ...]:
    """The beams (number, MusicXML type) of each element of one voice of a measure.

    ``start`` is where the voice's first element falls in the bar (a pickup's missing
    beats), ``voice`` whether the measure has several voices, ``padded`` whether the bar
    is a short one at the end (the last element may then leave a beam open)."""
    if len(rhythm) <= 1 or not any(
        piece is not None and piece.type in _BEAMABLE and not rest for _, piece, _, rest in rhythm
    ):
        return tuple(() for _ in rhythm)
    return _beams(time, start, voice, padded, tuple(rhythm))


@lru_cache(maxsize=8192)
def _beams(
    time: str, start: Fraction, voice: bool, padded: bool, rhythm: tuple[Beamed, ...]
) -> tuple[Beams, ...]:
    beams: list[dict[int, str | None] | None] = [
        None
        if rest or piece is None or piece.type not in _BEAMABLE
        else dict.fromkeys(range(1, _BEAMABLE[piece.type] + 1))
        for _, piece, _, rest in rhythm
    ]
    last: dict[int, str | None] | None = None
    for index in range(len(beams)):  # music21's removeSandwichedUnbeamables
        after = beams[index + 1] if index + 1 < len(beams) else None
        if last is None and after is None:
            beams[index] = None
        last = beams[index]
    meter = _Meter(time)
    try:
        for depth in range(len(_BEAMABLE)):
            for index in range(len(rhythm)):
                _fix(beams, rhythm, index, depth, meter, start, voice or not padded)
    except _OutOfBar:  # music21 gives up on the voice: no beams
        return tuple(() for _ in rhythm)
    _sanitize(beams)
    _merge_partials(beams)
    return tuple(
        ()
        if found is None
        else tuple(
            (number, _MUSICXML.get(kind or "", "continue")) for number, kind in found.items()
        )
        for found in beams
    )


class _OutOfBar(Exception):
    """A position outside the bar (music21's MeterException)."""


class _Meter:
    """The beam groups of a time signature, level by level (music21's default beam
    partitions: eighths of 4/4 by the quarter, 6/8 in dotted quarters, ...)."""

    def __init__(self, time: str) -> None:
        numerator, denominator = (int(v) for v in time.split("/"))
        self.bar = Fraction(4 * numerator, denominator)
        unit = Fraction(4, denominator)
        top: list[Fraction]
        lower: list[Fraction] | None = None
        if (
            (denominator == 8 and numerator <= 3)
            or (denominator == 16 and numerator <= 5)
            or (denominator == 32 and numerator <= 11)
        ):
            top = [self.bar]
        elif numerator in (2, 3, 4):
            top = [unit] * numerator
            if denominator == 4:
                lower = [unit / 2] * (2 * numerator)
        elif numerator == 5:
            top = [2 * unit, 3 * unit]
            if denominator == 4:
                lower = [unit] * 5
        elif numerator == 7:
            top = [2 * unit, 2 * unit, 3 * unit]
        elif numerator in (6, 9, 12, 15, 18, 21):
            top = [3 * unit] * (numerator // 3)
        else:
            top = [self.bar]
        self.levels = [_spans(top), _spans(lower or top)]

    def span(self, depth: int, offset: Fraction) -> tuple[Fraction, Fraction]:
        """The group of level ``depth`` holding ``offset``: its start and end."""
        if offset < 0 or offset >= self.bar:
            raise _OutOfBar
        for begin, end in self.levels[min(depth, 1)]:
            if begin <= offset < end:
                return begin, end
        raise _OutOfBar


def _spans(lengths: list[Fraction]) -> list[tuple[Fraction, Fraction]]:
    spans, position = [], Fraction(0)
    for length in lengths:
        spans.append((position, position + length))
        position += length
    return spans


def _fix(
    beams: list[dict[int, str | None] | None],
    rhythm: tuple[Beamed, ...],
    index: int,
    depth: int,
    meter: _Meter,
    start: Fraction,
    closes: bool,
) -> None:
    """music21's ``getBeams`` for one element at one beam level (``closes``: the last
    element may stop a beam, which a short final bar's does not)."""
    mine = beams[index]
    number = depth + 1
    if mine is None or number not in mine:
        return
    offset, _, length, _ = rhythm[index]
    begin = offset + start
    end = begin + length
    first, last = index == 0, index == len(rhythm) - 1
    after = None if last else beams[index + 1]
    before = None if first else beams[index - 1]
    span_start, span_end = meter.span(depth, begin)
    next_start = Fraction(0) if after is None else meter.span(depth, end)[0]
    if end == span_end and (begin == span_start or (before is None and number == 1)):
        beams[index] = None
        return
    kind: str
    if first and start == 0:
        kind = "start" if after is not None and number in after else "partial-right"
    elif last and closes:
        kind = "stop" if before is not None and number in before else "partial-left"
    elif before is None or number not in before:
        if number == 1 and after is None:
            beams[index] = None
            return
        if (after is None and number > 1) or end >= span_end:
            kind = "partial-left"
        elif after is None or number not in after:
            kind = "partial-right"
        else:
            kind = "start"
    elif before[number] in ("stop", "partial-left"):
        if after is not None:
            kind = "start" if number in after else "partial-right"
        else:
            kind = "partial-left"
    elif after is None or number not in after:
        kind = "stop"
    elif end < span_end:
        kind = "continue"
    elif end >= next_start:
        kind = "stop"
    else:
        raise _OutOfBar
    mine[number] = kind


def _sanitize(beams: list[dict[int, str | None] | None]) -> None:
    """music21's ``sanitizePartialBeams``: drop beams made only of hooks, and turn a hook
    after a start right and one after a stop left."""
    for index, found in enumerate(beams):
        if found is None:
            continue
        if not {"start", "stop", "continue"} & set(found.values()):
            beams[index] = None
            continue
        started = stopped = False
        for number, kind in found.items():
            if kind == "start":
                started = True
            elif kind == "stop":
                stopped = True
            elif started and kind == "partial-left":
                found[number] = "partial-right"
            elif stopped and kind == "partial-right":
                found[number] = "partial-left"


def _merge_partials(beams: list[dict[int, str | None] | None]) -> None:
    """music21's ``mergeConnectingPartialBeams``: a right hook followed by a left one
    (or a start) joins them; a left hook after a stop continues the beam."""
    for here, after in pairwise(beams):
        if not here or not after:
            continue
        for number, kind in here.items():
            if kind != "partial-right" or number not in after:
                continue
            following = after[number]
            if following in ("partial-right", "continue", "stop"):
                continue
            here[number] = "start"
            if following is not None and following.startswith("partial"):
                after[number] = "stop"
            elif following == "start":
                after[number] = "continue"
    for here, before in zip(beams[1:], beams[:-1], strict=True):
        if not here or not before:
            continue
        for number, kind in here.items():
            if kind == "partial-left" and before.get(number) == "stop":
                here[number] = "stop"
                before[number] = "continue"


def stem_direction(clef: str, diatonic: Sequence[int]) -> str:
    """``up`` or ``down`` for a beam group whose pitches (in order) have these diatonic
    numbers, on ``clef``."""
    middle = CLEF_LOWEST_LINE.get(clef, 31) + 4
    relevant = [diatonic[0], diatonic[-1]] if len(diatonic) > 1 else list(diatonic)
    return "down" if sum(d - middle for d in relevant) >= 0 else "up"
