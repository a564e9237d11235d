"""Build music21 objects from decoded score values, one measure of one part at a time.

Everything that decides how a measure of one part is drawn, apart from its notes, is
gathered in a :class:`CellContext`; two cells with equal contexts and equal notes build
equal measures. The incremental projection relies on this to know what to rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from music21 import (
    articulations,
    bar,
    chord,
    clef,
    duration,
    dynamics,
    expressions,
    instrument,
    key,
    layout,
    metadata,
    meter,
    note,
    stream,
    tie,
)
from music21 import tempo as m21tempo

from score_model.document import MeasureSlot, ScoreData
from score_model.schema import Measure, Meta, Note, Part, Tempo, bar_duration
from score_model.tuplets import note_value

log = logging.getLogger(__name__)

CLEFS: dict[str, type[clef.Clef]] = {
    "treble": clef.TrebleClef,
    "bass": clef.BassClef,
    "alto": clef.AltoClef,
    "tenor": clef.TenorClef,
    "treble8vb": clef.Treble8vbClef,
    "treble8va": clef.Treble8vaClef,
    "bass8vb": clef.Bass8vbClef,
    "percussion": clef.PercussionClef,
    "soprano": clef.SopranoClef,
    "mezzo-soprano": clef.MezzoSopranoClef,
    "baritone": clef.FBaritoneClef,
}

ARTICULATIONS: dict[str, type[articulations.Articulation]] = {
    "staccato": articulations.Staccato,
    "staccatissimo": articulations.Staccatissimo,
    "accent": articulations.Accent,
    "strong-accent": articulations.StrongAccent,
    "tenuto": articulations.Tenuto,
    "detached-legato": articulations.DetachedLegato,
    "spiccato": articulations.Spiccato,
    "stress": articulations.Stress,
    "unstress": articulations.Unstress,
}

ORNAMENTS: dict[str, type[expressions.Expression]] = {
    "trill": expressions.Trill,
    "mordent": expressions.Mordent,
    "inverted-mordent": expressions.InvertedMordent,
    "turn": expressions.Turn,
    "inverted-turn": expressions.InvertedTurn,
}
SPAN_MARKS = "orpheus_spans"  # editorial key: (voice, slurs, hairpins) of a built note
CHORD_SYMBOLS = "orpheus_chord_symbols"  # editorial key: a built measure's column's symbols
TUPLETS_UNWRITTEN = "orpheus_tuplets_unwritten"  # editorial key: groups not written as stored

GRACE_DEFAULT = Fraction(1, 2)  # a grace note stored with duration 0 is drawn as an eighth


def ql(value: Fraction) -> float | Fraction:
    """A quarter length as music21 keeps it: a float when exact in binary, else a Fraction
    (what ``opFrac`` would return, without its cost on every note)."""
    denominator = value.denominator
    if denominator & (denominator - 1) == 0:
        return value.numerator / denominator
    return value


@dataclass(frozen=True, slots=True)
class CellContext:
    """What a built measure of one part depends on, besides its notes and number.

    Only what shows is kept: the time signature in force matters in the first measure,
    the measure's length only for an empty cell's rest and a pickup's padding. So a time
    signature change re-places later measures without rebuilding them.
    """

    measure: Measure
    first: bool
    time: str | None = None
    rest: Fraction | None = None
    padding: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0))
    clef: str | None = None
    default_tempo: Tempo | None = None

    @classmethod
    def of(cls, slot: MeasureSlot, part: Part, meta: Meta, empty: bool) -> CellContext:
        """The context of ``part`` in ``slot``; ``empty`` when the cell has no notes."""
        first = slot.index == 0
        column = slot.measure
        padding = (Fraction(0), Fraction(0))
        if column.pickup:
            short = bar_duration(slot.time) - slot.bar
            if short > 0:
                padding = (short, Fraction(0)) if first else (Fraction(0), short)
        return cls(
            measure=column,
            first=first,
            time=column.time or (slot.time if first else None),
            rest=slot.bar if empty else None,
            padding=padding,
            clef=part.clef if first else None,
            default_tempo=meta.tempo if first and column.tempo is None else None,
        )


def build_measure(ctx: CellContext, notes: Sequence[Note], number: int) -> stream.Measure:
    """One measure of one part: markers, barlines and the notes (sorted by ``note_order``)."""
    measure = stream.Measure(number=number)
    measure.id = ctx.measure.id
    column = ctx.measure
    if ctx.padding[0]:
        measure.paddingLeft = ctx.padding[0]
    if ctx.padding[1]:
        measure.paddingRight = ctx.padding[1]
    if ctx.clef is not None:
        measure.coreInsert(0, CLEFS[ctx.clef]())
    if column.key is not None:
        signature = key.KeySignature(column.key.fifths)
        measure.coreInsert(
            0, signature if column.key.mode is None else signature.asKey(column.key.mode)
        )
    if ctx.time is not None:
        measure.coreInsert(0, meter.TimeSignature(ctx.time))
    mark = column.tempo or ctx.default_tempo
    if mark is not None:
        measure.coreInsert(0, metronome_mark(mark))
    if column.repeat in ("start", "both"):
        measure.leftBarline = bar.Repeat(direction="start")
    if column.repeat in ("end", "both"):
        measure.rightBarline = bar.Repeat(direction="end")
    elif column.barline is not None:
        measure.rightBarline = bar.Barline(column.barline)
    if column.chord_symbols:  # drawn on export only (notation.add_chord_symbols)
        measure.editorial[CHORD_SYMBOLS] = column.chord_symbols
    _fill(measure, ctx, notes)
    measure.coreElementsChanged()
    return measure


def _fill(measure: stream.Measure, ctx: CellContext, notes: Sequence[Note]) -> None:
    voices = sorted({n.voice for n in notes})
    built: list[tuple[Note, Any]] = []
    if len(voices) > 1:
        by_voice: dict[int, stream.Voice] = {}
        for number in voices:
            voice = stream.Voice()
            voice.id = str(number)
            by_voice[number] = voice
        for item in notes:
            built.append((item, _insert_note(by_voice[item.voice], item)))
        for voice in by_voice.values():
            voice.coreElementsChanged()
            measure.coreInsert(0, voice)
        mark_tuplet_groups(built)
        return
    for item in notes:
        built.append((item, _insert_note(measure, item)))
    mark_tuplet_groups(built)
    if ctx.rest is not None:
        rest = note.Rest(quarterLength=ql(ctx.rest))
        rest.fullMeasure = True
        measure.coreInsert(0, rest)


def _insert_note(container: stream.Stream, item: Note) -> Any:
    """Insert one note and its dynamic, and return it; a note music21 rejects is logged
    and skipped (None)."""
    try:
        element = build_note(item)
    except Exception:  # music21 raises many types; never let document content crash us
        log.warning("note %s could not be projected; skipped", item.id, exc_info=True)
        return None
    onset = ql(item.onset)
    if item.clef is not None:
        container.coreInsert(onset, CLEFS[item.clef]())
    container.coreInsert(onset, element)
    if item.dynamic is not None:
        container.coreInsert(onset, dynamics.Dynamic(item.dynamic))
    return element


def build_note(item: Note) -> Any:
    """A music21 Note, Chord or Rest for one stored note (grace, ties, lyric, marks)."""
    length = ql(item.duration if item.duration > 0 or not item.grace else GRACE_DEFAULT)
    element: Any
    if not item.pitches:
        element = note.Rest(quarterLength=length)
    elif len(item.pitches) == 1:
        element = note.Note(item.pitches[0], quarterLength=length)
    else:
        element = chord.Chord(list(item.pitches), quarterLength=length)
    if item.grace:
        element = element.getGrace()
    elif item.tuplets:
        written = tuplet_duration(item)
        if written is not None:
            element.duration = written
        else:  # reported by the export (notation.make_notation)
            element.editorial[TUPLETS_UNWRITTEN] = True
    element.id = item.id
    if item.ties:
        targets = element.notes if len(item.pitches) > 1 else (element,)
        for index, target in enumerate(targets):
            kind = item.tie_of(index)
            if kind is not None:
                target.tie = tie.Tie(kind)
    if item.lyric is not None:
        element.lyric = item.lyric
    for number, verse in enumerate(item.verses, start=2):
        if verse is not None:
            element.addLyric(verse, lyricNumber=number)
    for name in item.ornaments:
        element.expressions.append(ORNAMENTS[name]())
    for finger in item.fingerings:
        element.articulations.append(
            articulations.Fingering(int(finger) if finger.isdigit() else finger)
        )
    if item.slurs or item.hairpins:
        element.editorial[SPAN_MARKS] = (item.voice, item.slurs, item.hairpins)
    for name in item.articulations:
        if name == "fermata":
            element.expressions.append(expressions.Fermata())
        else:
            element.articulations.append(ARTICULATIONS[name]())
    return element


def tuplet_duration(item: Note) -> duration.Duration | None:
    """The note's written value with its tuplets (version 4: ratio, normal value, bracket
    and number shown), or None when that value has no single note type (music21 then
    writes the length as it would without the groups)."""
    written = duration.Duration(ql(item.written))
    if written.type in ("complex", "inexpressible", "zero") or written.tuplets:
        return None
    for group in item.tuplets:
        tuplet = duration.Tuplet(group.actual, group.normal)
        unit = duration.Duration(ql(group.unit)) if group.unit is not None else written
        if unit.type in ("complex", "inexpressible", "zero") or unit.tuplets:
            unit = written
        tuplet.setDurationType(unit.type, unit.dots)
        tuplet.bracket = group.bracket
        tuplet.tupletActualShow = None if group.number == "none" else "number"
        tuplet.tupletNormalShow = "number" if group.number == "ratio" else None
        written.appendTuplet(tuplet)
    if written.quarterLength != ql(item.duration):
        return None
    return written


def mark_tuplet_groups(built: Sequence[tuple[Note, Any]]) -> None:
    """Mark where each tuplet group of a cell starts and stops (its first and last note
    by onset; a group of one note does both), level by level."""
    runs: dict[tuple[int, str], list[tuple[Fraction, Any]]] = {}
    for item, element in built:
        if not item.tuplets or element is None or item.grace:
            continue
        tuplets = element.duration.tuplets
        if len(tuplets) != len(item.tuplets):
            continue
        for level, group in enumerate(item.tuplets):
            runs.setdefault((level, group.id), []).append((item.onset, tuplets[level]))
    for run in runs.values():
        run.sort(key=lambda entry: entry[0])
        if len(run) == 1:
            run[0][1].type = "startStop"
            continue
        run[0][1].type = "start"
        run[-1][1].type = "stop"


def metronome_mark(mark: Tempo) -> m21tempo.MetronomeMark:
    """The mark as music21 writes it; a beat no single note value writes (ABC's
    ``Q:5/4=50``) is given in quarters at the same speed (quarter = 250), as MusicXML's
    beat unit is one note value."""
    beat, bpm = mark.beat, mark.bpm
    if not note_value(beat):
        bpm, beat = round(float(bpm * beat), 2), Fraction(1)
    return m21tempo.MetronomeMark(text=mark.text, number=bpm, referent=duration.Duration(ql(beat)))


def build_instrument(part: Part) -> instrument.Instrument:
    """The part's instrument: its name and MIDI program (when set)."""
    inst = instrument.Instrument()
    if part.instrument is not None:
        inst.instrumentName = part.instrument
    inst.partId = part.id
    inst.partName = part.name
    inst.partAbbreviation = part.abbreviation
    if part.program is not None:
        inst.midiProgram = part.program
    return inst


def apply_part_fields(target: stream.Part, part: Part) -> None:
    target.id = part.id
    target.partName = part.name
    target.partAbbreviation = part.abbreviation


def assemble_part(
    target: stream.Part, part: Part, measures: Iterable[tuple[Fraction, stream.Measure]]
) -> None:
    """Fill ``target`` (emptied first) with the part's instrument and placed measures."""
    target.clear()
    apply_part_fields(target, part)
    target.coreInsert(0, build_instrument(part))
    for offset, measure in measures:
        target.coreInsert(ql(offset), measure)
    target.coreElementsChanged()


def replace_measure(part: stream.Part, old: stream.Measure, new: stream.Measure) -> None:
    """Put ``new`` in ``part`` where ``old`` is, at the same offset.

    ``Stream.replace`` re-sorts the whole part on each call (costly sort keys on a
    thousand measures); swapping a measure for one at the same offset cannot change the
    order, so this uses music21's core calls and its element list directly (music21 10).
    """
    elements = part._elements
    index = next((i for i, element in enumerate(elements) if element is old), None)
    if index is None:
        raise ValueError(f"measure {old.number} is not in part {part.id}")
    offset = part.elementOffset(old)
    elements[index] = new
    part.coreSetElementOffset(new, offset, addElement=True)
    new.sites.add(part)
    old.sites.remove(part)
    if old.activeSite is part:
        old.activeSite = None
    part._offsetDict.pop(id(old), None)
    part.coreElementsChanged(updateIsFlat=False, clearIsSorted=False)


def apply_meta(score: stream.Score, meta: Meta) -> None:
    info = metadata.Metadata()
    info.title = meta.title
    info.composer = meta.composer
    score.metadata = info


def project_score(data: ScoreData, *, staves: bool = False) -> stream.Score:
    """The whole score as a music21 :class:`~music21.stream.Score` (never raises on content).

    Notes pointing at a measure or part that does not exist are left out (validation
    reports them); an empty cell gets a full-measure rest. With ``staves`` (for export),
    a part of several staves becomes one :class:`~music21.stream.PartStaff` per staff,
    joined by a brace; otherwise (analysis, the incremental projection) it stays one part.
    """
    slots = data.layout()
    cells = data.notes_by_cell()
    score = stream.Score()
    apply_meta(score, data.meta)
    for part in data.parts:
        if staves and part.staves > 1:
            _insert_staves(score, data, part, slots, cells)
            continue
        target = stream.Part()
        placed = []
        for slot in slots:
            notes = cells.get((slot.id, part.id), [])
            context = CellContext.of(slot, part, data.meta, not notes)
            placed.append((slot.offset, build_measure(context, notes, slot.number)))
        assemble_part(target, part, placed)
        score.coreInsert(0, target)
    score.coreElementsChanged()
    return score


def _insert_staves(
    score: stream.Score,
    data: ScoreData,
    part: Part,
    slots: list[MeasureSlot],
    cells: dict[tuple[str, str], list[Note]],
) -> None:
    """One staff of ``part`` per PartStaff (notes of a staff beyond the last go on the
    last), each with its own opening clef; tempo marks on the top staff only."""
    staff_parts: list[stream.PartStaff] = []
    for staff in range(1, part.staves + 1):
        target = stream.PartStaff()
        placed = []
        for slot in slots:
            notes = [
                n for n in cells.get((slot.id, part.id), []) if min(n.staff, part.staves) == staff
            ]
            context = CellContext.of(slot, part, data.meta, not notes)
            if context.first:
                context = replace(context, clef=part.clef_of(staff))
            if staff > 1:
                context = replace(
                    context, measure=replace(context.measure, tempo=None), default_tempo=None
                )
            placed.append((slot.offset, build_measure(context, notes, slot.number)))
        assemble_part(target, part, placed)
        if staff > 1:
            target.id = f"{part.id}-staff{staff}"
        score.coreInsert(0, target)
        staff_parts.append(target)
    score.coreInsert(0, layout.StaffGroup(staff_parts, symbol="brace", barTogether=True))
