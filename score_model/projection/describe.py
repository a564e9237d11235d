"""A canonical, comparable description of a music21 score.

``describe(a) == describe(b)`` when two scores show the same music: the same parts,
measures at the same numbers and offsets, the same markers, barlines and notes. It
works on any music21 score (projected or parsed from MusicXML) and never looks at the
document the score came from.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from music21 import (
    bar,
    clef,
    dynamics,
    instrument,
    key,
    meter,
    note,
    stream,
)
from music21 import tempo as m21tempo

Row = tuple[Any, ...]


def describe(score: stream.Score, *, ids: bool = True) -> list[Row]:
    """Rows ``("score", ...)``, then per part ``("part", ...)`` and per measure
    ``("measure", ...)`` followed by one row per element (see :func:`describe_element`).

    With ``ids=False`` the string ids of parts, measures and notes are left out, for
    comparing with a score that went through another format.
    """
    info = score.metadata
    rows: list[Row] = [("score", info.title if info else None, info.composer if info else None)]
    for part in score.parts:
        found = part.recurse().getElementsByClass(instrument.Instrument)
        inst = found.first() if found else None
        rows.append(
            (
                "part",
                _id(part, ids),
                part.partName,
                part.partAbbreviation,
                inst.instrumentName if inst is not None else None,
                inst.midiProgram if inst is not None else None,
            )
        )
        for measure in part.getElementsByClass(stream.Measure):
            rows.append(
                (
                    "measure",
                    measure.number,
                    _id(measure, ids),
                    frac(part.elementOffset(measure)),
                    frac(measure.paddingLeft or 0),
                    frac(measure.paddingRight or 0),
                    _barline(measure.leftBarline),
                    _barline(measure.rightBarline),
                )
            )
            rows.extend(_describe_container(measure, None, ids))
    return rows


def _describe_container(container: stream.Stream, voice: str | None, ids: bool) -> list[Row]:
    rows: list[Row] = []
    for element in container:
        offset = frac(container.elementOffset(element))
        if isinstance(element, stream.Voice):
            rows.extend(_describe_container(element, str(element.id), ids))
        elif not isinstance(element, bar.Barline):  # barlines are in the measure's row
            rows.append(describe_element(element, voice, offset, ids))
    return rows


def describe_element(element: Any, voice: str | None, offset: Fraction, ids: bool = True) -> Row:
    """``(kind, voice, offset, ...)``: for notes, chords and rests the quarter length,
    pitches, ties, lyric, articulations and expressions, grace flag and id."""
    if isinstance(element, note.GeneralNote):
        ties: tuple[str | None, ...]
        if isinstance(element, note.Rest):
            kind, ties = "rest", ()
        elif isinstance(element, note.Note):
            kind, ties = "note", (_tie(element),)
        else:
            kind, ties = "chord", tuple(_tie(n) for n in element.notes)
        return (
            kind,
            voice,
            offset,
            frac(element.duration.quarterLength),
            tuple(p.nameWithOctave for p in element.pitches),
            ties,
            element.lyric,
            tuple(type(a).__name__ for a in element.articulations)
            + tuple(type(e).__name__ for e in element.expressions),
            element.duration.isGrace,
            _id(element, ids),
        )
    if isinstance(element, dynamics.Dynamic):
        return ("dynamic", voice, offset, element.value)
    if isinstance(element, clef.Clef):
        return ("clef", voice, offset, type(element).__name__)
    if isinstance(element, meter.TimeSignature):
        return ("time", voice, offset, element.ratioString)
    if isinstance(element, key.KeySignature):
        mode = element.mode if isinstance(element, key.Key) else None
        return ("key", voice, offset, element.sharps, mode)
    if isinstance(element, m21tempo.MetronomeMark):
        referent = element.referent
        return (
            "tempo",
            voice,
            offset,
            element.number,
            frac(referent.quarterLength) if referent is not None else None,
            None if element.textImplicit else element.text,
        )
    return ("other", voice, offset, type(element).__name__)


def frac(value: Any) -> Fraction:
    """An exact fraction of a music21 offset or length (floats are snapped to 1/4096)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(value).limit_denominator(1 << 12)


def _tie(element: note.Note) -> str | None:
    return element.tie.type if element.tie is not None else None


def _barline(barline: bar.Barline | None) -> tuple[str, str | None] | None:
    if barline is None:
        return None
    direction = barline.direction if isinstance(barline, bar.Repeat) else None
    return (barline.type, direction)


def _id(element: Any, ids: bool) -> str | None:
    return element.id if ids and isinstance(element.id, str) else None
