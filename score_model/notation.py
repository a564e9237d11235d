"""Notation added to a projected music21 score before it is written as MusicXML.

What music21's ``makeNotation`` does (accidentals, tuplet brackets, beams, stems, notes of
complex lengths split and tied) except re-barring: an overfull measure of the document
stays one measure, and voices are not padded with rests. Beams are set measure by measure
with the time signature and clef already known, instead of music21's search for them
(which rebuilds a tree of the whole part for every measure and beam group: about 60% of
the export time of a quartet movement).
"""

from __future__ import annotations

import contextlib
import copy
from fractions import Fraction
from typing import Any

from music21 import beam, chord, clef, duration, dynamics, meter, note, spanner, stream
from music21.common.numberTools import opFrac
from music21.stream import makeNotation

from score_model.m21_harmony import build_chord_symbol
from score_model.projection.build import CHORD_SYMBOLS, SPAN_MARKS, TUPLETS_UNWRITTEN, ql

__all__ = ["add_chord_symbols", "indexed_spanners", "link_spans", "make_beams", "make_notation"]


QUANTUM = Fraction(1, 384)  # a triplet 1024th: lengths no notation can write snap to it


def make_notation(m21_score: stream.Score) -> list[str]:
    """Add accidentals, tuplet brackets, beams and stems; split complex durations; give
    each chord's id to its first note. Lengths no notation can write ("inexpressible")
    are rounded first; the approximations made are returned."""
    warnings: list[str] = []
    staves: dict[str, list[stream.Part]] = {}
    for part in m21_score.parts:  # the PartStaffs of one part: "<part id>-staff<n>"
        staves.setdefault(str(part.id).split("-staff")[0], []).append(part)
    for group in staves.values():
        warnings.extend(link_spans(group))
    for part in m21_score.parts:
        rounded, dropped, ungrouped = _round_inexpressible(part)
        if ungrouped:
            warnings.append(
                f"{ungrouped} notes of tuplet groups no note value writes were written "
                "with the tuplets music21 infers from their lengths"
            )
        if rounded:
            warnings.append(
                f"{rounded} note lengths no notation can write were rounded "
                f"(to 1/{QUANTUM.denominator} of a quarter or coarser)"
            )
        if dropped:
            warnings.append(f"{dropped} rests too short for any notation were left out")
        measures = list(part.getElementsByClass(stream.Measure))
        makeNotation.makeAccidentalsInMeasureStream(part)
        tupleted = [
            container
            for m in measures
            if _has_tuplets(m)
            for container in (m, *m.voices)
            if not _grouped(container)
        ]
        for container in tupleted:
            makeNotation.splitElementsToCompleteTuplets(container, addTies=True)
            makeNotation.consolidateCompletedTuplets(container, onlyIfTied=True)
        make_beams(measures)  # and full-measure rests
        for container in tupleted:
            makeNotation.makeTupletBrackets(container, inPlace=True)
        part.splitAtDurations(recurse=True)
        _chord_ids(part)
        if failed := add_chord_symbols(part):
            warnings.append(f"{failed} chord symbols music21 cannot write were left out")
    return warnings


def add_chord_symbols(part: stream.Part) -> int:
    """Put the chord symbols (schema version 4) of the part's measure columns into its
    measures, as music21 chord symbols without duration. Done last, so that beams and
    tuplet brackets never see them (music21 counts a chord symbol among the notes).
    Returns how many music21 could not build (left out)."""
    part_id = str(part.id)
    if "-staff" in part_id:  # a lower staff of a grand staff: the symbols go on the top one
        return 0
    failed = 0
    for measure in part.getElementsByClass(stream.Measure):
        if not measure.hasEditorialInformation or CHORD_SYMBOLS not in measure.editorial:
            continue
        for symbol in measure.editorial[CHORD_SYMBOLS]:
            if symbol.part != part_id:
                continue
            try:
                element = build_chord_symbol(symbol)
            except Exception:  # music21 raises several types on kinds it cannot spell
                failed += 1
                continue
            measure.coreInsert(ql(symbol.onset), element)
        measure.coreElementsChanged()
    return failed


def indexed_spanners(score: stream.Score) -> spanner.SpannerBundle:
    """Answer music21's writer's ``getBySpannedElement`` from an index: it asks the
    score's bundle of every element, scanning every spanner each time (with the slurs of
    a quartet movement, 5 million checks: more than the rest of the export)."""
    bundle = spanner.SpannerBundle(list(score.recurse().getElementsByClass(spanner.Spanner)))
    if len(bundle) < 8:
        return bundle
    index: dict[int, list[spanner.Spanner]] = {}
    for span in bundle:
        for element in span.getSpannedElements():
            index.setdefault(id(element), []).append(span)
    cache = bundle._cache  # music21 10: the key getBySpannedElement caches its answer under
    empty = spanner.SpannerBundle()
    for element in (score, *score.recurse()):
        found = index.get(id(element))
        cache[f"getBySpannedElement-{id(element)}"] = (
            spanner.SpannerBundle(found) if found else empty
        )
    return bundle


def link_spans(staves: list[stream.Part]) -> list[str]:
    """Turn the notes' slur and hairpin marks (schema version 3) into music21 spanners:
    a ``"start"`` slur pairs with the next ``"stop"`` of the same voice (nested slurs
    pair innermost first), or of another voice of the part when its own has none open (a
    slur across staves); a crescendo or diminuendo with the next hairpin ``"stop"`` of
    the part (overlapping wedges pair innermost first). ``staves`` are the music21 parts
    of one part (its PartStaffs); the spanners go in the first. Marks left unpaired are
    reported, never an error."""
    marked: list[tuple[Any, Any, Any]] = []
    measures = [m for staff in staves for m in staff.getElementsByClass(stream.Measure)]
    for measure in measures:
        start = measure.offset
        for item in measure.recurse().notesAndRests:
            if item.hasEditorialInformation and SPAN_MARKS in item.editorial:
                marked.append((start + item.getOffsetInHierarchy(measure), id(item), item))
    if not marked:
        return []
    marked.sort(key=lambda entry: entry[0])
    slurs: list[tuple[int, Any]] = []  # open slurs of the part: (voice, first note)
    hairpins: list[tuple[str, Any]] = []  # open wedges of the part: (kind, first note)
    spans: list[spanner.Spanner] = []
    unpaired = 0
    for _, _, item in marked:
        voice, slur_marks, hairpin_marks = item.editorial[SPAN_MARKS]
        for mark in hairpin_marks:
            if mark == "stop" and hairpins:
                name, first = hairpins.pop()
                kind = dynamics.Crescendo if name == "crescendo" else dynamics.Diminuendo
                spans.append(kind(first, item))
            elif mark == "stop":
                unpaired += 1
        hairpins.extend((mark, item) for mark in hairpin_marks if mark != "stop")
        for mark in slur_marks:
            if mark != "stop":
                continue
            if not slurs:
                unpaired += 1
                continue
            mine = [i for i, (v, _) in enumerate(slurs) if v == voice]
            spans.append(spanner.Slur(slurs.pop(mine[-1] if mine else -1)[1], item))
        slurs.extend((voice, item) for mark in slur_marks if mark == "start")
    unpaired += len(hairpins) + len(slurs)
    for span in spans:
        staves[0].coreInsert(0, span)
    staves[0].coreElementsChanged()
    return [f"{unpaired} slur or hairpin marks without a partner were left out"] if unpaired else []


def _writable(length: Any) -> bool:
    """Whether MusicXML can write a duration: binary lengths down to a 1024th (a 2048th
    is music21's but not MusicXML's), and tuplets of at most 16 notes whose values are
    MusicXML types (music21 would write 1483/384 as one 1536:1483 tuplet of 2048ths)."""
    quarters = length.quarterLength
    if not isinstance(quarters, Fraction):
        return float(quarters * 256).is_integer()
    if length.type == "inexpressible" or any(
        c.type in ("2048th", "inexpressible") for c in length.components
    ):
        return False
    return all(
        t.numberNotesActual <= 16
        and t.durationNormal is not None
        and t.durationNormal.type not in ("2048th", "inexpressible")
        for t in length.tuplets
    )


def _snap(length: Fraction) -> Fraction:
    """The nearest length MusicXML can write: on the finest grid that gives one (a
    triplet 1024th, a triplet 256th, a triplet 64th, then a 32nd)."""
    for grid in (QUANTUM, Fraction(1, 96), Fraction(1, 24), Fraction(1, 8)):
        snapped = Fraction(round(length / grid)) * grid
        if snapped == 0 or _writable(duration.Duration(snapped)):
            return snapped
    return Fraction(round(length * 8), 8)


def _round_inexpressible(part: stream.Part) -> tuple[int, int, int]:
    """Snap lengths MusicXML cannot write to :data:`QUANTUM` (at least one quantum for a
    note; a rest that rounds to nothing is removed). Returns (rounded, removed, and
    notes whose tuplet groups could not be written as stored)."""
    rounded = removed = ungrouped = 0
    for item in list(part.recurse().notesAndRests):
        if item.hasEditorialInformation and TUPLETS_UNWRITTEN in item.editorial:
            ungrouped += 1
        if item.duration.isGrace or _writable(item.duration):
            continue
        length = Fraction(item.duration.quarterLength)
        snapped = _snap(length)
        if snapped == 0 and isinstance(item, note.Rest) and item.activeSite is not None:
            item.activeSite.remove(item)
            removed += 1
            continue
        item.duration = duration.Duration(max(snapped, QUANTUM))  # new: drops old tuplets
        rounded += 1
    return rounded, removed, ungrouped


def _chord_ids(part: stream.Part) -> None:
    """Give a chord's id to its first note: music21 writes ids of notes, not of chords,
    and engravers (Verovio) keep them, so an engraved chord can be found by its id."""
    for item in part.recurse().getElementsByClass(chord.Chord):
        if isinstance(item.id, str) and item.notes and not isinstance(item.notes[0].id, str):
            item.notes[0].id = item.id


def _has_tuplets(measure: stream.Measure) -> bool:
    """Whether a length is not a binary fraction of a quarter (music21 keeps those as
    ``Fraction``; asking for ``tuplets`` would compute every duration's components)."""
    return any(
        isinstance(n.duration.quarterLength, Fraction) for n in measure.recurse().notesAndRests
    )


def _grouped(container: stream.Stream) -> bool:
    """Whether the notes of a measure or voice carry their own tuplet groups (schema
    version 4: start and stop already marked): music21 must not regroup them."""
    return any(t.type is not None for n in container.notesAndRests for t in n.duration.tuplets)


def make_beams(measures: list[stream.Measure]) -> None:
    """Beam each measure's voices by its time signature (the last one seen) and point
    the stems of each beam group the way its clef asks, as ``makeBeams`` does; mark
    rests that fill their bar as full-measure rests."""
    time_signature: meter.TimeSignature | None = None
    current_clef: clef.Clef | None = None
    cache: dict[Any, Any] = {}
    for measure in measures:
        time_signature = measure.timeSignature or time_signature
        current_clef = measure.clef or current_clef
        if time_signature is None:
            continue
        _mark_full_measure_rests(measure, time_signature)
        groups = (
            [v.notesAndRests.stream() for v in measure.voices]
            if measure.hasVoices()
            else [measure.notesAndRests.stream()]
        )
        for notes in groups:
            with contextlib.suppress(meter.MeterException):  # odd meter: no beams
                _beam(measure, notes, time_signature, cache)
        if current_clef is not None:
            _stems(measure, current_clef)


def _mark_full_measure_rests(measure: stream.Measure, time_signature: Any) -> None:
    """Decide music21's ``fullMeasure="auto"`` here, where the bar is known: its writer
    would search the whole part for the time signature once per rest."""
    bar = time_signature.barDuration.quarterLength
    for rest in measure.recurse().getElementsByClass(note.Rest):
        if rest.fullMeasure == "auto":
            rest.fullMeasure = rest.duration.quarterLength == bar


def _beam(
    measure: stream.Measure, notes: stream.Stream, time_signature: Any, cache: dict[Any, Any]
) -> None:
    """Beam one voice; ``cache`` holds the beams of rhythms already seen (a time
    signature's beams depend only on the offsets, lengths and rests of a voice)."""
    if len(notes) <= 1:
        return
    for item in list(notes):
        if item.duration.isGrace:
            notes.remove(item)
    bar = time_signature.barDuration.quarterLength
    if opFrac(sum(n.duration.quarterLength for n in notes)) > bar:
        return  # overfull: music21 leaves it unbeamed too
    offset: Any = 0.0
    if measure.paddingLeft != 0.0:
        offset = opFrac(measure.paddingLeft)
    elif measure.paddingRight == 0.0 and notes.highestTime < bar:
        offset = bar - notes.highestTime
    key = (
        time_signature.ratioString,
        offset,
        tuple((notes.elementOffset(n), n.duration.quarterLength, n.isRest) for n in notes),
    )
    beams = cache.get(key)
    if beams is None:
        beams = cache[key] = time_signature.getBeams(notes, measureStartOffset=offset)
    for item, found in zip(notes, beams, strict=False):
        item.beams = copy.deepcopy(found) if found is not None else beam.Beams()


def _stems(measure: stream.Measure, measure_clef: clef.Clef) -> None:
    for group in makeNotation.iterateBeamGroups(measure, skipNoBeams=True, recurse=True):
        directions = {
            n.stemDirection for n in group if n.stemDirection in ("up", "down", "unspecified")
        }
        consistent = "unspecified" not in directions and len(directions) < 2
        pitches = [p for n in group for p in n.pitches]
        if not pitches:
            continue
        direction = measure_clef.getStemDirectionForPitches(pitches)
        for item in group:
            if item.stemDirection == "unspecified" or (
                item.stemDirection in ("up", "down") and not consistent
            ):
                item.stemDirection = direction
