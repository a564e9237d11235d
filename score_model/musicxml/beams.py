"""Beams by time signature and stem directions by clef.

Which notes a time signature beams together is music21's rule (``TimeSignature.getBeams``,
as the music21 export applied it measure by measure); it depends only on the time
signature, where the voice starts in the bar and the rhythm, so each distinct rhythm is
asked once and remembered. Stems of a beam group point away from the clef's middle line
(music21's ``getStemDirectionForPitches``: the first and last pitch decide).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from score_model.musicxml.lengths import Piece

__all__ = ["CLEF_LOWEST_LINE", "Beamed", "beams_for", "stem_direction"]

# (offset in the voice, the written piece or None for a note written in several pieces,
# rest or not)
Beamed = tuple[Fraction, Piece | None, Fraction, bool]
Beams = tuple[tuple[int, str], ...]

_MUSICXML = {"start": "begin", "continue": "continue", "stop": "end"}
_HOOKS = {"left": "backward hook", "right": "forward hook"}
_BEAMABLE = {"eighth", "16th", "32nd", "64th", "128th", "256th", "512th", "1024th", "2048th"}

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
    from music21 import duration, meter, note, stream

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
    except meter.MeterException:  # odd meter: no beams
        return tuple(() for _ in rhythm)
    return tuple(
        () if beams is None else tuple((b.number, _beam_type(b)) for b in beams.beamsList)
        for beams in found
    )


def _beam_type(m21_beam: Any) -> str:
    if m21_beam.type == "partial":
        return _HOOKS.get(m21_beam.direction, "forward hook")
    return _MUSICXML.get(m21_beam.type, "continue")


def _ql(value: Fraction) -> float | Fraction:
    denominator = value.denominator
    return value.numerator / denominator if denominator & (denominator - 1) == 0 else value


def stem_direction(clef: str, diatonic: Sequence[int]) -> str:
    """``up`` or ``down`` for a beam group whose pitches (in order) have these diatonic
    numbers, on ``clef``."""
    middle = CLEF_LOWEST_LINE.get(clef, 31) + 4
    relevant = [diatonic[0], diatonic[-1]] if len(diatonic) > 1 else list(diatonic)
    return "down" if sum(d - middle for d in relevant) >= 0 else "up"
