"""Map a music21 score onto schema values: parts, measure columns (time, key, tempo,
barlines, repeats, pickup) and, through :class:`~score_model.m21_notes.NoteConverter`,
the notes of every cell.

music21 is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from functools import cache
from typing import Any

from score_model.content import ScoreContent
from score_model.document import DEFAULT_TIME
from score_model.ids import new_id
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_counts,
)
from score_model.m21_harmony import chord_symbols_of
from score_model.m21_notes import NoteConverter, notes_with_offsets, to_fraction
from score_model.schema import (
    CLEFS,
    KEY_MODES,
    MAX_CHORD_SYMBOLS,
    SCHEMA_VERSION,
    ChordSymbol,
    KeySignature,
    Measure,
    Note,
    Part,
    SchemaError,
    Tempo,
    bar_duration,
    check_time_signature,
)

__all__ = ["Converter"]


@cache
def _clef_names() -> dict[str, str]:
    """Schema clef names by music21 clef class name: the projection's table read
    backwards, plus music21's second baritone clef."""
    from score_model.projection.build import CLEFS as M21_CLEFS  # imports music21

    names = {m21_clef.__name__: name for name, m21_clef in M21_CLEFS.items()}
    names["CBaritoneClef"] = "baritone"
    return names


class Converter:
    """Map a music21 :class:`~music21.stream.Score` onto schema values, counting measures
    and notes against the limits as it goes."""

    def __init__(
        self, limits: ImportLimits = DEFAULT_LIMITS, warnings: Counter[str] | None = None
    ) -> None:
        self.limits = limits
        self.warnings: Counter[str] = warnings if warnings is not None else Counter()
        self._notes = NoteConverter(limits, self.warnings)

    @property
    def note_count(self) -> int:
        """Notes converted so far (counted against ``limits.max_notes``)."""
        return self._notes.note_count

    def convert(self, m21_score: Any) -> ScoreContent:
        """Schema content for a music21 score (the first score of an opus), with the
        warnings counted so far. Raises :class:`ScoreImportError`."""
        from music21 import stream

        if isinstance(m21_score, stream.Opus):
            scores = list(m21_score.scores)
            if not scores:
                raise ScoreImportError(ImportFailure.NOT_MUSIC, "the file holds no score")
            self.warnings[f"the file holds {len(scores)} scores; imported the first"] += 1
            m21_score = scores[0]
        m21_parts = list(m21_score.parts) if isinstance(m21_score, stream.Score) else []
        if not m21_parts:
            raise ScoreImportError(ImportFailure.NOT_MUSIC, "the file holds no parts")
        check_counts(self.limits, parts=len(m21_parts))
        measure_lists = [self._measures_of(p) for p in m21_parts]
        columns = max((len(ms) for ms in measure_lists), default=0)
        check_counts(self.limits, measures=columns)
        groups = _staff_groups(m21_score, m21_parts)
        parts = [self._part([m21_parts[k] for k in g], i) for i, g in enumerate(groups)]
        self._notes.read_spans(m21_score)
        measures, shift = self._measures(measure_lists, columns)
        notes: list[Note] = []
        symbols: dict[int, list[ChordSymbol]] = {}
        for part, group in zip(parts, groups, strict=True):
            for staff, k in enumerate(group, start=1):
                self._notes.start_staff(part.id, staff, part.clef_of(staff))
                for index, m21_measure in enumerate(measure_lists[k]):
                    offset_shift = shift if index == 0 else Fraction(0)
                    symbols.setdefault(index, []).extend(
                        chord_symbols_of(m21_measure, part.id, offset_shift, self.warnings)
                    )
                    notes.extend(
                        self._notes.cell(
                            m21_measure,
                            measures[index].id,
                            part.id,
                            offset_shift,
                            staff,
                            _clef_names(),
                        )
                    )
        notes = self._notes.clean_ties(measures, notes)
        for index, found in symbols.items():
            if found:
                measures[index] = replace(
                    measures[index], chord_symbols=tuple(found[:MAX_CHORD_SYMBOLS])
                )
        metadata = m21_score.metadata
        meta = {
            "title": ((metadata.bestTitle if metadata is not None else None) or "")[:500],
            "composer": ((metadata.composer if metadata is not None else None) or "")[:500],
            "schema_version": SCHEMA_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        warnings = [
            message if count == 1 else f"{message} (x{count})"
            for message, count in self.warnings.items()
        ]
        return ScoreContent(meta, parts, measures, notes, warnings)

    # --- parts and measure columns -------------------------------------------------------------

    @staticmethod
    def _measures_of(m21_part: Any) -> list[Any]:
        from music21 import stream

        measures = list(m21_part.getElementsByClass(stream.Measure))
        if not measures and m21_part.notesAndRests:
            # in place: a copy's notes would not be the ones its slurs and hairpins hold
            m21_part.makeMeasures(inPlace=True)
            measures = list(m21_part.getElementsByClass(stream.Measure))
        return measures

    def _part(self, staves: list[Any], index: int) -> Part:
        """A part from its staves (one music21 Part, or the PartStaffs of a brace)."""
        m21_part = staves[0]
        clef_names = [self._first_clef(s) for s in staves]
        clef_name = clef_names[0]
        instrument = m21_part.getInstrument(returnDefault=False)
        name = (
            m21_part.partName
            or (instrument.instrumentName if instrument else None)
            or f"Part {index + 1}"
        )
        program = instrument.midiProgram if instrument is not None else None
        instrument_name = instrument.instrumentName if instrument is not None else None
        clefs = tuple(c or "treble" for c in clef_names) if len(staves) > 1 else ()
        return Part(
            id=new_id("p"),
            name=str(name)[:200],
            abbreviation=str(m21_part.partAbbreviation)[:50] if m21_part.partAbbreviation else None,
            instrument=str(instrument_name)[:200] if instrument_name else None,
            program=program if isinstance(program, int) and 0 <= program <= 127 else None,
            clef=clef_name,
            staves=len(staves),
            clefs=clefs,
        )

    def _first_clef(self, m21_part: Any) -> str | None:
        from music21 import clef

        first_clef = m21_part.recurse().getElementsByClass(clef.Clef).first()
        clef_name = _clef_names().get(type(first_clef).__name__) if first_clef is not None else None
        if first_clef is not None and clef_name is None:
            self.warnings[f"clef {type(first_clef).__name__} has no schema equivalent"] += 1
        return clef_name if clef_name in CLEFS else None

    def _measures(
        self, measure_lists: list[list[Any]], columns: int
    ) -> tuple[list[Measure], Fraction]:
        """Build the measure columns; returns them and the pickup's content offset."""
        measures: list[Measure] = []
        time: str | None = None
        key: KeySignature | None = None
        free = not any(m.timeSignature is not None for ms in measure_lists for m in ms)
        if free and columns:
            self.warnings["the file has no time signature: each bar got one that fits it"] += 1
        for index in range(columns):
            column = [ms[index] for ms in measure_lists if index < len(ms)]
            new_time = _fitted_time(column) if free else self._time_of(column)
            new_key = self._key_of(column)
            repeat_start = any(_repeat(m.leftBarline) in ("start", "both") for m in column)
            repeat_end = any(_repeat(m.rightBarline) in ("end", "both") for m in column)
            repeat = (
                "both"
                if repeat_start and repeat_end
                else "start"
                if repeat_start
                else "end"
                if repeat_end
                else None
            )
            if index > 0 and measures[-1].barline is None:
                left = self._barline_of(column, "leftBarline")
                if left is not None:
                    measures[-1] = replace(measures[-1], barline=left)
            if index == 0 and new_time is None:
                new_time = DEFAULT_TIME  # what music21 and the document assume anyway
            measures.append(
                Measure(
                    id=new_id("m"),
                    time=new_time if new_time is not None and new_time != time else None,
                    key=new_key if new_key is not None and new_key != key else None,
                    tempo=self._tempo_of(column),
                    barline=self._barline_of(column, "rightBarline"),
                    repeat=repeat,
                )
            )
            time = new_time or time
            key = new_key or key
        shift = Fraction(0)
        if measures:
            shift, pickup = self._pickup(measure_lists, measures[0].time or "4/4")
            if pickup:
                measures[0] = replace(measures[0], pickup=True)
        return measures, shift

    def _time_of(self, column: list[Any]) -> str | None:
        for m21_measure in column:
            ts = m21_measure.timeSignature
            if ts is None:
                continue
            value = f"{ts.numerator}/{ts.denominator}"
            try:
                return check_time_signature(value)
            except SchemaError:
                self.warnings[f"time signature {ts.ratioString} is not supported; dropped"] += 1
        return None

    def _key_of(self, column: list[Any]) -> KeySignature | None:
        for m21_measure in column:
            ks = m21_measure.keySignature
            if ks is None:
                continue
            mode = getattr(ks, "mode", None)
            if not -7 <= ks.sharps <= 7:
                self.warnings[f"key signature with {ks.sharps} fifths is not supported"] += 1
                return None
            return KeySignature(ks.sharps, mode if mode in KEY_MODES else None)
        return None

    def _tempo_of(self, column: list[Any]) -> Tempo | None:
        from music21 import tempo

        for m21_measure in column:
            for mark in m21_measure.recurse().getElementsByClass(tempo.MetronomeMark):
                bpm = mark.number if mark.number is not None else mark.numberSounding
                if bpm is None or not 1 <= bpm <= 1000:
                    continue
                bpm = float(bpm)
                text = mark.text if isinstance(mark.text, str) and not mark.textImplicit else None
                text = text or _words_beside(mark)
                beat = to_fraction(mark.referent.quarterLength) if mark.referent else Fraction(1)
                if beat <= 0:
                    beat = Fraction(1)
                return Tempo(
                    int(bpm) if bpm.is_integer() else bpm, beat, text[:200] if text else None
                )
        return None

    @staticmethod
    def _barline_of(column: list[Any], side: str) -> str | None:
        """A plain barline's type (repeat signs are kept as ``repeat`` instead)."""
        for m21_measure in column:
            barline = getattr(m21_measure, side)
            if barline is None or _repeat(barline) is not None:
                continue
            if barline.type not in ("regular", None):
                return str(barline.type)
        return None

    def _pickup(self, measure_lists: list[list[Any]], time: str) -> tuple[Fraction, bool]:
        """Is the first column an anacrusis, and where does its content start?"""
        firsts = [ms[0] for ms in measure_lists if ms]
        starts, ends = [], []
        for m21_measure in firsts:
            for element, offset in notes_with_offsets(m21_measure):
                starts.append(offset)
                ends.append(offset + to_fraction(element.quarterLength))
        if not ends:
            return Fraction(0), False
        padded = any((m.paddingLeft or 0) > 0 for m in firsts)
        shift = min(starts)
        pickup = padded or max(ends) - shift < bar_duration(time)
        return (shift, True) if pickup else (Fraction(0), False)


def _staff_groups(m21_score: Any, m21_parts: list[Any]) -> list[list[int]]:
    """Indices of ``m21_parts`` grouped into schema parts: the PartStaffs of one brace or
    bracket group that follow each other (2 to 4 of them, as music21 reads a multi-staff
    MusicXML part) make one part; every other music21 part is a part of its own."""
    from music21 import layout, stream

    position = {id(p): i for i, p in enumerate(m21_parts)}
    joined: dict[int, list[int]] = {}
    for group in m21_score.spannerBundle.getByClass(layout.StaffGroup):
        members = group.getSpannedElements()
        found = [position.get(id(m)) for m in members]
        indices = [i for i in found if i is not None]
        if (
            2 <= len(members) <= 4
            and len(indices) == len(found)
            and all(isinstance(m, stream.PartStaff) for m in members)
            and indices == list(range(indices[0], indices[0] + len(indices)))
            and not any(i in joined for i in indices)
        ):
            joined[indices[0]] = indices
    groups: list[list[int]] = []
    skip: set[int] = set()
    for index in range(len(m21_parts)):
        if index in skip:
            continue
        group = joined.get(index, [index])
        skip.update(group)
        groups.append(group)
    return groups


def _repeat(barline: Any) -> str | None:
    direction = getattr(barline, "direction", None)
    return direction if isinstance(direction, str) else None


def _words_beside(mark: Any) -> str | None:
    """Words written with a metronome mark (music21 keeps them as a separate text
    expression at the same place): ``Andante`` in "Andante (quarter = 72)"."""
    from music21 import expressions

    site = mark.activeSite
    if site is None:
        return None
    at = site.elementOffset(mark)
    for element in site.getElementsByOffset(at, at, includeEndBoundary=True):
        if isinstance(element, expressions.TextExpression) and element.content:
            return str(element.content)[:200]
    return None


def _fitted_time(column: list[Any]) -> str | None:
    """A time signature as long as the longest content of a measure column (free meter):
    ``n/4``, else ``n/8``, ``n/16``..."""
    length = max(
        (
            offset + to_fraction(element.quarterLength)
            for m21_measure in column
            for element, offset in notes_with_offsets(m21_measure)
        ),
        default=Fraction(0),
    )
    for denominator in (4, 8, 16, 32, 64):
        beats = length * denominator / 4
        if beats.denominator == 1 and 1 <= beats <= 99:
            return f"{beats.numerator}/{denominator}"
    return None
