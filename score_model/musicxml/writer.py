"""MusicXML 4.0 (partwise, UTF-8) written straight from a decoded score document.

Each part is one ``<part>`` (a part of several staves writes ``<staves>`` and each note's
``<staff>``); each measure column one ``<measure>`` per part, numbered as the document's
layout numbers them, a pickup marked implicit. Within a measure the voices of each staff
are written one after the other (a voice where a slur or wedge of the measure starts
before the voice where it stops), each from the bar's start (``<backup>``), with
``<forward>`` over gaps; chord symbols come last, each at its onset. Divisions are the
least common multiple of every written length's denominator, so every length is exact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import date
from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from score_model.document import MeasureSlot, ScoreData
from score_model.musicxml.beams import stem_direction
from score_model.musicxml.events import Event, Voice, cell_voices
from score_model.musicxml.marks import (
    barline_xml,
    clef_xml,
    dynamic_xml,
    harmony_xml,
    key_xml,
    lyrics_xml,
    tempo_xml,
    time_xml,
    wedge_xml,
)
from score_model.musicxml.notes import NoteContext, note_xml
from score_model.musicxml.pitches import Accidentals, key_alterations, spell
from score_model.musicxml.spans import Spans, pair_spans, starts_first
from score_model.schema import Note, Part, bar_duration

__all__ = ["write_musicxml"]

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
    '"http://www.musicxml.org/dtds/partwise.dtd">\n'
    '<score-partwise version="4.0">\n'
)

Cells = list[list[Voice]]
# Divisions are the least common multiple of every length's denominator; onsets off
# every usual grid (a client wrote 1/4093) could make it huge: then music21's grid (a
# 128th note's tuplets of 3, 5, 7 and 9) is used and positions are rounded to it.
MAX_DIVISIONS = 1 << 20
FALLBACK_DIVISIONS = 10080


def write_musicxml(data: ScoreData) -> tuple[bytes, list[str]]:
    """The score as MusicXML, and what had to be approximated (lengths rounded, marks
    without a partner left out, tuplet groups written as their lengths say)."""
    slots = data.layout()
    cells = data.notes_by_cell()
    counts: Counter[str] = Counter()
    warnings: list[str] = []
    parts: list[tuple[Part, Cells, Spans]] = []
    for part in data.parts:
        measures: Cells = []
        marked: list[tuple[Fraction, Fraction, Fraction, Note]] = []
        for slot in slots:
            notes = cells.get((slot.id, part.id), [])
            end = slot.offset + slot.bar
            marked.extend(
                (slot.offset + n.onset, slot.offset, end, n) for n in notes if n.slurs or n.hairpins
            )
            measures.append(cell_voices(notes, part.staves, counts, _bar(slot)))
        spans = pair_spans(marked)
        measures = [starts_first(voices, spans.pairs) for voices in measures]
        if spans.unpaired:
            warnings.append(
                f"{spans.unpaired} slur or hairpin marks without a partner were left out"
            )
        parts.append((part, measures, spans))
    if counts["ungrouped"]:
        warnings.append(
            f"{counts['ungrouped']} notes of tuplet groups no note value writes were written "
            "with the tuplets music21 infers from their lengths"
        )
    if counts["rounded"]:
        warnings.append(
            f"{counts['rounded']} note lengths no notation can write were rounded "
            "(to 1/384 of a quarter or coarser)"
        )
    if counts["dropped"]:
        warnings.append(f"{counts['dropped']} rests too short for any notation were left out")
    divisions = _divisions(slots, (m for _, measures, _ in parts for m in measures))
    out = [HEADER, _header(data)]
    out.append(_part_list(data.parts))
    for part, measures, spans in parts:
        out.append(f"<part id={quoteattr(part.id)}>\n")
        _PartWriter(data, part, slots, divisions, spans).write(measures, out)
        out.append("</part>\n")
    out.append("</score-partwise>\n")
    return "".join(out).encode("utf-8"), warnings


def _bar(slot: MeasureSlot) -> tuple[str, Fraction, Fraction]:
    full = bar_duration(slot.time)
    short = full - slot.bar
    start = Fraction(0)
    if slot.measure.pickup and short > 0:
        start = short if slot.index == 0 else -short
    return slot.time, start, full


def _divisions(slots: list[MeasureSlot], cells: Iterable[list[Voice]]) -> int:
    denominators = {slot.bar.denominator for slot in slots}
    for slot in slots:
        denominators.update(c.onset.denominator for c in slot.measure.chord_symbols)
    for voices in cells:
        for voice in voices:
            for event in voice.events:
                denominators.add(event.onset.denominator)
                if not event.grace:  # a grace note takes no time
                    denominators.add(event.piece.length.denominator)
    divisions = math.lcm(*denominators) if denominators else 1
    return divisions if divisions <= MAX_DIVISIONS else FALLBACK_DIVISIONS


def _header(data: ScoreData) -> str:
    meta = data.meta
    out = ""
    if meta.title:
        title = escape(meta.title)
        out += f"<work><work-title>{title}</work-title></work>\n"
        out += f"<movement-title>{title}</movement-title>\n"
    out += "<identification>"
    if meta.composer:
        out += f'<creator type="composer">{escape(meta.composer)}</creator>'
    out += (
        f"<encoding><encoding-date>{date.today().isoformat()}</encoding-date>"
        "<software>Orpheus</software></encoding></identification>\n"
    )
    return out


def _part_list(parts: list[Part]) -> str:
    out = ["<part-list>\n"]
    for part in parts:
        ident = quoteattr(part.id)
        out.append(f"<score-part id={ident}><part-name>{escape(part.name)}</part-name>")
        if part.abbreviation is not None:
            out.append(f"<part-abbreviation>{escape(part.abbreviation)}</part-abbreviation>")
        if part.instrument is not None or part.program is not None:
            name = escape(part.instrument if part.instrument is not None else part.name)
            instrument = quoteattr(f"{part.id}-I1")
            out.append(
                f"<score-instrument id={instrument}><instrument-name>{name}"
                "</instrument-name></score-instrument>"
            )
            if part.program is not None:
                out.append(
                    f"<midi-instrument id={instrument}><midi-program>{part.program + 1}"
                    "</midi-program></midi-instrument>"
                )
        out.append("</score-part>\n")
    out.append("</part-list>\n")
    return "".join(out)


class _PartWriter:
    """Writes the measures of one part."""

    def __init__(
        self,
        data: ScoreData,
        part: Part,
        slots: list[MeasureSlot],
        divisions: int,
        spans: Spans,
    ) -> None:
        self.data = data
        self.part = part
        self.slots = slots
        self.divisions = divisions
        self.spans = spans
        self.multi = part.staves > 1
        self.clefs = {s: part.clef_of(s) for s in range(1, part.staves + 1)}

    def staff_tag(self, staff: int) -> str:
        return f"<staff>{staff}</staff>" if self.multi else ""

    def ticks(self, start: Fraction, end: Fraction) -> int:
        """Divisions from ``start`` to ``end``; each end rounded to the grid, so what is
        written adds up even when divisions are capped (:data:`MAX_DIVISIONS`)."""
        return round(end * self.divisions) - round(start * self.divisions)

    def write(self, measures: Cells, out: list[str]) -> None:
        for slot, voices in zip(self.slots, measures, strict=True):
            self.measure(slot, voices, out)

    def measure(self, slot: MeasureSlot, voices: list[Voice], out: list[str]) -> None:
        column = slot.measure
        first = slot.index == 0
        implicit = ' implicit="yes"' if column.pickup else ""
        out.append(f'<measure number="{slot.number}"{implicit} id={quoteattr(column.id)}>')
        if column.repeat in ("start", "both"):
            out.append(barline_xml("left", "heavy-light", "forward"))
        attributes = self.attributes(slot, first)
        if attributes:
            out.append(f"<attributes>{attributes}</attributes>")
        mark = column.tempo or (self.data.meta.tempo if first else None)
        if mark is not None:
            out.append(tempo_xml(mark, self.staff_tag(1)))
        cursor = self.voices(slot, voices, out)
        self.chord_symbols(slot, cursor, out)
        if column.repeat in ("end", "both"):
            out.append(barline_xml("right", "light-heavy", "backward"))
        elif column.barline is not None:
            out.append(barline_xml("right", column.barline, None))
        out.append("</measure>\n")

    def attributes(self, slot: MeasureSlot, first: bool) -> str:
        column = slot.measure
        out = f"<divisions>{self.divisions}</divisions>" if first else ""
        if column.key is not None:
            out += key_xml(column.key)
        if first or column.time is not None:
            out += time_xml(column.time or slot.time)
        if first:
            if self.multi:
                out += f"<staves>{self.part.staves}</staves>"
                out += "".join(clef_xml(c, s) for s, c in self.clefs.items() if c is not None)
            elif self.part.clef is not None:
                out += clef_xml(self.part.clef, None)
        return out

    def voices(self, slot: MeasureSlot, voices: list[Voice], out: list[str]) -> Fraction:
        """Write the voices; returns where the writing position is at the end."""
        cursor = Fraction(0)
        staves_written = {v.staff for v in voices}
        rests = [s for s in range(1, self.part.staves + 1) if s not in staves_written]
        fifths = slot.key.fifths if slot.key is not None else 0
        for staff in rests:  # an empty staff: one full-measure rest
            if cursor:
                out.append(
                    f"<backup><duration>{self.ticks(Fraction(0), cursor)}</duration></backup>"
                )
            bar = self.ticks(Fraction(0), slot.bar)
            out.append(
                f'<note><rest measure="yes"/><duration>{bar}</duration>'
                f"<voice>{4 * (staff - 1) + 1}</voice>{self.staff_tag(staff)}</note>"
            )
            cursor = slot.bar
        full = bar_duration(slot.time)
        for voice in voices:
            if cursor:
                out.append(
                    f"<backup><duration>{self.ticks(Fraction(0), cursor)}</duration></backup>"
                )
                cursor = Fraction(0)
            self.stems(voice)
            accidentals = Accidentals(key_alterations(fifths))
            ctx = NoteContext(
                self.spans,
                voice.number,
                voice.staff if self.multi else None,
                accidentals.shown,
            )
            staff_tag = self.staff_tag(voice.staff)
            for event in voice.events:
                if event.onset > cursor:
                    out.append(
                        f"<forward><duration>{self.ticks(cursor, event.onset)}</duration>"
                        f"<voice>{voice.number}</voice>{staff_tag}</forward>"
                    )
                elif event.onset < cursor:
                    out.append(
                        f"<backup><duration>{self.ticks(event.onset, cursor)}</duration></backup>"
                    )
                item = event.note
                if event.first:
                    if item.clef is not None:
                        number = voice.staff if self.multi else None
                        out.append(f"<attributes>{clef_xml(item.clef, number)}</attributes>")
                        self.clefs[voice.staff] = item.clef
                    if item.dynamic is not None:
                        out.append(dynamic_xml(item.dynamic, staff_tag))
                    for kind, number in self.spans.wedge_starts.get(item.id, ()):
                        out.append(wedge_xml(kind, number, staff_tag))
                full_rest = item.is_rest and event.piece.length == full
                lyrics = lyrics_xml(item) if event.first and item.pitches else ""
                ticks = 0 if event.grace else self.ticks(event.onset, event.end)
                out.append(note_xml(event, ctx, ticks, full_rest, lyrics))
                cursor = event.end
                if event.last:
                    for number in self.spans.wedge_stops.get(item.id, ()):
                        out.append(wedge_xml("stop", number, staff_tag))
        return cursor

    def stems(self, voice: Voice) -> None:
        """Point the stems of each beam group away from the middle line of the clef."""
        clef = self.clefs.get(voice.staff) or "treble"  # no clef written: read as treble
        group: list[Event] = []
        for event in voice.events:
            if not event.beams:
                continue
            group.append(event)
            if event.beams[0][1] in ("end", "backward hook") and event.beams[0][0] == 1:
                self._stem(group, clef)
                group = []
        if group:
            self._stem(group, clef)

    @staticmethod
    def _stem(group: list[Event], clef: str) -> None:
        diatonic = [spell(p).diatonic for e in group for p in e.note.pitches]
        if not diatonic:
            return
        direction = stem_direction(clef, diatonic)
        for event in group:
            event.stem = direction

    def chord_symbols(self, slot: MeasureSlot, cursor: Fraction, out: list[str]) -> None:
        symbols = [c for c in slot.measure.chord_symbols if c.part == self.part.id]
        staff = self.staff_tag(1)
        for symbol in sorted(symbols, key=lambda c: c.onset, reverse=True):
            if symbol.onset <= cursor:
                if symbol.onset < cursor:
                    back = self.ticks(symbol.onset, cursor)
                    out.append(f"<backup><duration>{back}</duration></backup>")
                    cursor = symbol.onset
                out.append(harmony_xml(symbol, staff))
            else:
                written = harmony_xml(symbol, staff)
                offset = f"<offset>{self.ticks(cursor, symbol.onset)}</offset>"
                out.append(written.replace(f"{staff}</harmony>", f"{offset}{staff}</harmony>"))
