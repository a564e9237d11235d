"""Convert the notes of one music21 measure into schema :class:`Note` values: chords,
rests, grace notes, voices, ties, lyrics, articulations and dynamics, counted against
the import limits.

music21 is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from typing import Any

from score_model.document import ScoreData
from score_model.ids import new_id
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_note_length,
)
from score_model.schema import (
    ARTICULATIONS,
    DYNAMICS,
    MAX_DENOMINATOR,
    MAX_TUPLET_DEPTH,
    MAX_VERSES,
    ORNAMENTS,
    Measure,
    Meta,
    Note,
    SchemaError,
    Tuplet,
    check_pitch,
)

__all__ = ["NoteConverter", "is_note", "notes_with_offsets", "to_fraction"]

_SLOPPY = Fraction(1, 32)  # a 128th note: the most a file's rounding may shift a length
_SHORTEST_REST = Fraction(1, 256)  # a 1024th note: MusicXML has no shorter note type
_ACCIDENTALS = {0: "", 1: "#", 2: "##", 3: "###", -1: "-", -2: "--", -3: "---"}


def to_fraction(value: Any) -> Fraction:
    """An exact fraction of a music21 offset or length, within the schema's denominators."""
    result = value if isinstance(value, Fraction) else Fraction(value)
    return (
        result
        if result.denominator <= MAX_DENOMINATOR
        else result.limit_denominator(MAX_DENOMINATOR)
    )


class NoteConverter:
    """Map the notes of music21 measures onto schema notes, counting them against
    ``limits.max_notes`` and what had to be approximated in ``warnings``."""

    def __init__(
        self, limits: ImportLimits = DEFAULT_LIMITS, warnings: Counter[str] | None = None
    ) -> None:
        self.limits = limits
        self.warnings: Counter[str] = warnings if warnings is not None else Counter()
        self.note_count = 0
        self.span_marks: dict[int, tuple[list[str], list[str]]] = {}
        self._clefs: dict[tuple[str, int], str | None] = {}
        self._pending_clef: dict[tuple[str, int], str] = {}

    def read_spans(self, m21_score: Any) -> None:
        """Note the slurs and hairpins of a score as marks on their first and last notes
        (schema version 3); other spanners are counted as dropped."""
        from music21 import dynamics, spanner

        self.span_marks = {}
        for span in m21_score.spannerBundle:
            if isinstance(span, spanner.Slur):
                kind, name = "slur", "start"
            elif isinstance(span, dynamics.Crescendo | dynamics.Diminuendo):
                kind = "hairpin"
                name = "crescendo" if isinstance(span, dynamics.Crescendo) else "diminuendo"
            else:
                continue
            elements = span.getSpannedElements()
            first, last = (elements[0], elements[-1]) if elements else (None, None)
            if first is not None and _later(first, last, m21_score):
                first, last = last, first  # a stop written before its start in the file
            if first is None or first is last:
                self.warnings[f"a {kind} on fewer than two notes was dropped"] += 1
                continue
            index = 0 if kind == "slur" else 1
            self.span_marks.setdefault(id(first), ([], []))[index].append(name)
            self.span_marks.setdefault(id(last), ([], []))[index].append("stop")

    def cell(
        self,
        m21_measure: Any,
        measure_id: str,
        part_id: str,
        shift: Fraction,
        staff: int = 1,
        clef_names: dict[str, str] | None = None,
    ) -> list[Note]:
        """The notes of one music21 measure of one part, onsets moved back by ``shift``
        (a pickup's leading space), with its dynamics attached to them; on ``staff``
        (see :func:`_staff_voices`), with its clef changes on the notes that follow them (clef class
        names mapped by ``clef_names``)."""
        notes = self._cell(m21_measure, measure_id, part_id, shift)
        if staff > 1:
            numbers = _staff_voices(sorted({n.voice for n in notes}), staff)
            notes = [replace(n, staff=staff, voice=numbers[n.voice]) for n in notes]
        if clef_names is not None:
            notes = self._clef_changes(m21_measure, notes, (part_id, staff), clef_names, shift)
        return _grace_runs_in_id_order(notes)

    def start_staff(self, part_id: str, staff: int, clef_name: str | None) -> None:
        """The clef a staff opens with: later clefs that differ from the one in force are
        clef changes."""
        self._clefs[(part_id, staff)] = clef_name

    def _clef_changes(
        self,
        m21_measure: Any,
        notes: list[Note],
        staff: tuple[str, int],
        clef_names: dict[str, str],
        shift: Fraction,
    ) -> list[Note]:
        from music21 import clef

        found = sorted(
            (
                (to_fraction(c.getOffsetInHierarchy(m21_measure)) - shift, type(c).__name__)
                for c in m21_measure.recurse().getElementsByClass(clef.Clef)
            ),
            key=lambda entry: entry[0],
        )
        carried = self._pending_clef.pop(staff, None)  # a change after the last note before
        ordered = sorted(range(len(notes)), key=lambda i: (notes[i].onset, not notes[i].grace))
        if carried is not None and ordered:
            notes[ordered[0]] = replace(notes[ordered[0]], clef=carried)
        elif carried is not None:
            self._pending_clef[staff] = carried
        for offset, class_name in found:
            name = clef_names.get(class_name)
            if name is None or name == self._clefs.get(staff):
                continue
            self._clefs[staff] = name
            later = [i for i in ordered if notes[i].onset >= offset]
            if later:
                notes[later[0]] = replace(notes[later[0]], clef=name)
            else:
                self._pending_clef[staff] = name
        return notes

    def _cell(self, m21_measure: Any, measure_id: str, part_id: str, shift: Fraction) -> list[Note]:
        from music21 import dynamics, stream

        notes: list[Note] = []
        containers: list[tuple[Any, int, Fraction]] = [(m21_measure, 1, Fraction(0))]
        for index, voice in enumerate(m21_measure.getElementsByClass(stream.Voice)):
            containers.append(
                (
                    voice,
                    _voice_number(voice.id, index),
                    to_fraction(m21_measure.elementOffset(voice)),
                )
            )
        marks: list[tuple[Fraction, str, int | None]] = []
        for container, voice_number, base in containers:
            in_voice = voice_number if container is not m21_measure else None
            built: list[tuple[Note, Any]] = []
            raw_end: Fraction | None = None  # where the previous note ended, as music21 says
            fixed_end = Fraction(0)  # ... and after correcting sloppy durations
            for element in container:
                offset = base + to_fraction(container.elementOffset(element)) - shift
                if isinstance(element, dynamics.Dynamic):
                    marks.append((offset, str(element.value), in_voice))
                    continue
                if not is_note(element):
                    continue
                onset = fixed_end if offset == raw_end else offset
                if element.duration.isGrace:
                    length = None
                else:
                    length = self._notated_length(element)
                    raw_end = offset + to_fraction(element.quarterLength)
                    fixed_end = onset + (length if length is not None else raw_end - offset)
                note = self._note(element, onset, voice_number, measure_id, part_id, length)
                if note is not None:
                    built.append((note, element))
            notes.extend(tuplet_groups(built))
        for offset, value, in_voice in marks:
            self._attach_dynamic(notes, offset, value, in_voice)
        return notes

    def _notated_length(self, element: Any) -> Fraction | None:
        """The written value of a note whose file gives a slightly different length.

        Some editors write MusicXML ``<duration>`` rounded to their divisions (a triplet
        eighth as 85/256 of a quarter); music21 then keeps the written type but the
        rounded length. When the two differ by at most a 128th note, the written value
        wins and the following onsets of the voice move with it.
        """
        from music21 import duration

        written = element.duration
        if written.linked or written.type in ("complex", "inexpressible", "zero"):
            return None
        value = duration.Duration(type=written.type, dots=written.dots)
        value.tuplets = tuple(written.tuplets)
        length = to_fraction(value.quarterLength)
        if length <= 0 or abs(length - to_fraction(element.quarterLength)) > _SLOPPY:
            return None
        if length != to_fraction(element.quarterLength):
            self.warnings[
                "lengths rounded by the file's divisions were restored to their written values"
            ] += 1
        return length

    def _note(
        self,
        element: Any,
        offset: Fraction,
        voice: int,
        measure_id: str,
        part_id: str,
        length: Fraction | None = None,
    ) -> Note | None:
        from music21 import chord, note

        self.note_count += 1
        if self.note_count > self.limits.max_notes:
            raise ScoreImportError(
                ImportFailure.TOO_MANY_NOTES, f"more than {self.limits.max_notes:,} notes"
            )
        grace = bool(element.duration.isGrace)
        duration = length if length is not None else to_fraction(element.quarterLength)
        if grace:
            duration = _grace_duration(element)
        if duration <= 0:
            self.warnings["a note without duration was dropped"] += 1
            return None
        if isinstance(element, note.Rest) and duration < _SHORTEST_REST:
            self.warnings["rests shorter than a 1024th note were dropped"] += 1
            return None
        check_note_length(duration, self.limits)
        if offset < 0:
            self.warnings["a note before the start of its measure was moved to its start"] += 1
            offset = Fraction(0)
        if isinstance(element, chord.Chord):
            components = list(element.notes)
        elif isinstance(element, note.Rest):
            components = []
        else:
            components = [element]
        if len(components) > 16:
            self.warnings["chords are limited to 16 pitches; the rest were dropped"] += 1
            components = components[:16]
        pitches: list[str] = []
        ties: list[str | None] = []
        for component in components:
            name = self._pitch_name(component)
            if name is None:
                continue
            pitches.append(name)
            tie = component.tie.type if component.tie is not None else None
            ties.append(tie if tie in ("start", "stop", "continue") else None)
        if components and not pitches:
            return None
        if pitches and element.hasStyleInformation and element.style.hideObjectOnPrint:
            self.warnings["invisible notes (playback only, print-object='no') were dropped"] += 1
            return None
        lyric = _first_lyric(element) if pitches else None
        slurs, hairpins = self.span_marks.get(id(element), ((), ()))
        return Note(
            id=new_id("n"),
            measure=measure_id,
            part=part_id,
            onset=offset,
            duration=duration,
            pitches=tuple(pitches),
            voice=voice,
            ties=tuple(ties) if any(ties) else (),
            lyric=lyric[:1000] if lyric else None,
            articulations=self._articulations(element),
            grace=grace,
            slurs=tuple(slurs[:4]),
            hairpins=tuple(hairpins[:4]),
            ornaments=self._ornaments(element),
            fingerings=self._fingerings(element),
            verses=_later_verses(element) if pitches else (),
        )

    def _pitch_name(self, component: Any) -> str | None:
        """Schema pitch name; microtones and accidentals beyond triple sharps/flats are
        rounded to the nearest semitone (a half-way alteration rounds towards natural)."""
        from music21 import pitch as m21pitch

        if hasattr(component, "pitch"):
            m21 = component.pitch
        elif hasattr(component, "displayPitch"):  # unpitched percussion: its staff position
            m21 = component.displayPitch()
        else:
            return None
        octave = m21.implicitOctave
        alter = float(m21.alter)
        semitones = int(alter) if abs(alter - int(alter)) <= 0.5 else round(alter)
        if semitones != alter:
            self.warnings["microtonal pitches were rounded to the nearest semitone"] += 1
        if abs(semitones) > 3:
            self.warnings["accidentals beyond triple sharp or flat were respelled"] += 1
            respelled = m21pitch.Pitch(ps=m21.ps - alter + semitones)
            name = respelled.nameWithOctave
        else:
            name = f"{m21.step}{_ACCIDENTALS[semitones]}{octave}"
        try:
            return check_pitch(name)
        except SchemaError:
            self.warnings["pitches outside octaves -1 to 9 were dropped"] += 1
            return None

    def _articulations(self, element: Any) -> tuple[str, ...]:
        from music21 import expressions

        names: list[str] = []
        for articulation in getattr(element, "articulations", []):
            name = _kebab(type(articulation).__name__)
            if name in ARTICULATIONS and name not in names:
                names.append(name)
            elif name not in ARTICULATIONS and name != "fingering":
                self.warnings[f"articulation {name} has no schema equivalent; dropped"] += 1
        if any(isinstance(e, expressions.Fermata) for e in getattr(element, "expressions", [])):
            names.append("fermata")
        return tuple(names)

    def _ornaments(self, element: Any) -> tuple[str, ...]:
        names: list[str] = []
        for expression in getattr(element, "expressions", []):
            name = _kebab(type(expression).__name__)
            if name in ORNAMENTS and name not in names:
                names.append(name)
            elif name.endswith(("trill", "mordent", "turn")):  # half-step trills and the like
                names.append(max((o for o in ORNAMENTS if name.endswith(o)), key=len))
                self.warnings[f"ornament {name} was written as a plain one"] += 1
        return tuple(dict.fromkeys(names))

    def _fingerings(self, element: Any) -> tuple[str, ...]:
        from music21 import articulations

        found = [
            str(a.fingerNumber)[:10]
            for a in getattr(element, "articulations", [])
            if isinstance(a, articulations.Fingering) and a.fingerNumber not in (None, "")
        ]
        return tuple(found[:16])

    def clean_ties(self, measures: list[Measure], notes: list[Note]) -> list[Note]:
        """Keep only ties that join a pitch to the same pitch of the same part where the
        note ends (some files tie different pitches, meaning a slur); grace notes keep
        theirs."""
        probe = ScoreData(Meta(), [], measures, {n.id: n for n in notes})
        starts = {slot.id: slot.offset for slot in probe.layout()}
        ends: set[tuple[str, str, Fraction]] = set()  # where a tie waits for its stop
        begins: set[tuple[str, str, Fraction]] = set()  # where a tied-to note starts
        for n in notes:
            if n.grace:
                continue
            for index, pitch in enumerate(n.pitches):
                tie = n.tie_of(index)
                if tie in ("start", "continue"):
                    ends.add((n.part, pitch, starts[n.measure] + n.end))
                if tie in ("stop", "continue"):
                    begins.add((n.part, pitch, starts[n.measure] + n.onset))
        cleaned: list[Note] = []
        for n in notes:
            if not n.ties or n.grace:
                cleaned.append(n)
                continue
            ties: list[str | None] = []
            for index, pitch in enumerate(n.pitches):
                tie = n.tie_of(index)
                forward = (
                    tie in ("start", "continue")
                    and (n.part, pitch, starts[n.measure] + n.end) in begins
                )
                backward = (
                    tie in ("stop", "continue")
                    and (n.part, pitch, starts[n.measure] + n.onset) in ends
                )
                ties.append(
                    "continue"
                    if forward and backward
                    else "start"
                    if forward
                    else "stop"
                    if backward
                    else None
                )
            if tuple(ties) != n.ties[: len(ties)] + (None,) * (len(ties) - len(n.ties)):
                self.warnings["ties that join no note of the same pitch were removed"] += 1
            cleaned.append(replace(n, ties=tuple(ties) if any(ties) else ()))
        return cleaned

    def _attach_dynamic(
        self, notes: list[Note], offset: Fraction, value: str, voice: int | None
    ) -> None:
        """Attach a dynamic to the nearest following note of the same part and measure
        (else the nearest preceding one); notes of the dynamic's own voice are preferred,
        then pitched notes to rests."""
        if value not in DYNAMICS:
            self.warnings[f"dynamic {value!r} has no schema equivalent; dropped"] += 1
            return
        pool = [n for n in notes if not n.grace and (voice is None or n.voice == voice)]
        pool = pool or [n for n in notes if not n.grace]
        candidates = [n for n in pool if n.pitches] or pool
        following = [n for n in candidates if n.onset >= offset]
        if following:
            target = min(following, key=lambda n: (n.onset, n.voice))
        elif candidates:
            target = max(candidates, key=lambda n: (n.onset, -n.voice))
        else:
            self.warnings["a dynamic in an empty measure was dropped"] += 1
            return
        if target.dynamic is not None:
            self.warnings["two dynamics on one note: kept the first"] += 1
            return
        index = notes.index(target)
        notes[index] = replace(target, dynamic=value)


def tuplet_groups(built: list[tuple[Note, Any]]) -> list[Note]:
    """The notes of one voice with their tuplet groups (schema version 4), read from the
    music21 tuplets of the notes they were made from (in order). A group runs from a
    tuplet marked ``start`` to one marked ``stop``; where the file marks none, until its
    notes fill the group (``actual`` notes of its normal value) or the ratio changes.
    Nested tuplets make nested groups, outermost first."""
    open_groups: list[tuple[Tuplet, Fraction, Fraction | None]] = []  # group, filled, target
    out: list[Note] = []
    for note, element in built:
        if note.grace:
            out.append(note)
            continue
        m21_tuplets = [t for t in element.duration.tuplets if t.tupletMultiplier() != 1]
        groups: list[Tuplet] = []
        closed = MAX_TUPLET_DEPTH  # the outermost level this note completes
        for level, m21_tuplet in enumerate(m21_tuplets[:MAX_TUPLET_DEPTH]):
            current = open_groups[level] if level < len(open_groups) else None
            ratio = (m21_tuplet.numberNotesActual, m21_tuplet.numberNotesNormal)
            if (
                current is None
                or (current[0].actual, current[0].normal) != ratio
                or m21_tuplet.type in ("start", "startStop")
            ):
                del open_groups[level:]
                current = _new_group(m21_tuplet, [g for g, _, _ in open_groups])
                open_groups.append(current)
            group, filled, target = current
            filled += note.duration
            open_groups[level] = (group, filled, target)
            groups.append(group)
            if m21_tuplet.type in ("stop", "startStop") or (
                target is not None and filled >= target
            ):
                closed = min(closed, level)
        del open_groups[min(closed, len(groups)) :]
        out.append(replace(note, tuplets=tuple(groups)) if groups else note)
    return out


def _new_group(m21_tuplet: Any, outer: list[Tuplet]) -> tuple[Tuplet, Fraction, Fraction | None]:
    """A new group for a music21 tuplet inside ``outer`` groups: the group, the time its
    notes filled so far (none) and the time they fill when complete (None if unknown)."""
    normal = m21_tuplet.durationNormal
    unit = to_fraction(normal.quarterLength) if normal is not None else None
    shown = m21_tuplet.tupletActualShow
    number = (
        "none"
        if shown is None
        else "ratio"
        if shown in ("number", "both") and m21_tuplet.tupletNormalShow in ("number", "both")
        else "number"
    )
    group = Tuplet(
        id=new_id("u"),
        actual=min(99, max(1, int(m21_tuplet.numberNotesActual))),
        normal=min(99, max(1, int(m21_tuplet.numberNotesNormal))),
        unit=unit if unit is not None and 0 < unit <= 8 else None,
        bracket=m21_tuplet.bracket is not False,
        number=number,
    )
    target = None
    if group.unit is not None:
        target = group.normal * group.unit
        for outside in outer:
            target *= outside.ratio
    return group, Fraction(0), target


def _staff_voices(voices: list[int], staff: int) -> dict[int, int]:
    """Voices of a cell on staff 2 and below, numbered in order from 4 * (staff - 1) + 1
    (staff 2: 5, 6, ...), as MusicXML writers number them: music21's writer renumbers the
    voices of a lower staff, so their order is what survives a round trip."""
    return {v: min(16, 4 * (staff - 1) + i + 1) for i, v in enumerate(voices)}


def _voice_number(voice_id: Any, index: int) -> int:
    try:
        number = int(voice_id)
    except (TypeError, ValueError):
        number = 0
    return number if 1 <= number <= 16 else min(index + 1, 16)


def is_note(element: Any) -> bool:
    """Notes, chords and rests; chord symbols (a kind of chord in music21) are not notes."""
    from music21 import harmony, note

    return isinstance(element, note.GeneralNote) and not isinstance(element, harmony.Harmony)


def notes_with_offsets(m21_measure: Any) -> list[tuple[Any, Fraction]]:
    """The notes, chords and rests of a measure (grace notes left out) with their offsets
    in the measure, all voices together."""
    from music21 import stream

    found: list[tuple[Any, Fraction]] = []
    containers = [(m21_measure, Fraction(0))] + [
        (v, to_fraction(m21_measure.elementOffset(v)))
        for v in m21_measure.getElementsByClass(stream.Voice)
    ]
    for container, base in containers:
        for element in container:
            if is_note(element) and not element.duration.isGrace:
                found.append((element, base + to_fraction(container.elementOffset(element))))
    return found


def _grace_duration(element: Any) -> Fraction:
    """The written value of a grace note (an eighth when music21 knows none)."""
    from music21 import duration

    kind = element.duration.type
    if kind in (None, "zero", "complex", "inexpressible"):
        return Fraction(1, 2)
    return to_fraction(duration.Duration(type=kind, dots=element.duration.dots).quarterLength)


def _kebab(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", class_name).lower()


def _later_verses(element: Any) -> tuple[str | None, ...]:
    """Lyrics of verses 2 onwards by their number (missing verses are None), at most
    :data:`MAX_VERSES`; a lyric without a number counts by its position."""
    verses: list[str | None] = [None] * MAX_VERSES
    for position, lyric in enumerate(getattr(element, "lyrics", None) or []):
        number = (
            lyric.number if isinstance(lyric.number, int) and lyric.number > 0 else position + 1
        )
        text = lyric.rawText
        if 2 <= number <= MAX_VERSES + 1 and isinstance(text, str) and text:
            verses[number - 2] = text[:1000]
    while verses and verses[-1] is None:
        verses.pop()
    return tuple(verses)


def _first_lyric(element: Any) -> str | None:
    """The first verse with its syllabic hyphens (``"la-"``, ``"-la-"``, ``"-la"``), as
    music21's ``rawText`` writes them and its ``lyric`` setter reads them back: without
    them a hyphen written in the text would come back as a syllable start on export."""
    lyrics = getattr(element, "lyrics", None)
    if not lyrics:
        return None
    first = lyrics[0]
    if isinstance(first.number, int) and first.number > 1:  # verse 1 is missing here
        return None
    text = first.rawText
    return text if isinstance(text, str) and text else None


def _later(first: Any, last: Any, m21_score: Any) -> bool:
    """Whether ``first`` sounds after ``last`` in the score (music21 keeps a spanner's
    notes in the order its reader met them, and a wedge's stop may come first)."""
    from music21.sites import SitesException

    if first.activeSite is not None and first.activeSite is last.activeSite:
        return bool(first.offset > last.offset)  # one measure or voice: no need to climb
    try:
        return bool(first.getOffsetInHierarchy(m21_score) > last.getOffsetInHierarchy(m21_score))
    except SitesException:  # a note music21 replaced: keep the order given
        return False


def _grace_runs_in_id_order(notes: list[Note]) -> list[Note]:
    """Grace notes before the same note (one voice, one onset) are ordered by their ids
    (:func:`score_model.document.note_order`): deal their new random ids out sorted, in
    the order the file gives them, so a run of grace notes keeps its order."""
    runs: dict[tuple[int, int, Fraction], list[int]] = {}
    for index, item in enumerate(notes):
        if item.grace:
            runs.setdefault((item.staff, item.voice, item.onset), []).append(index)
    for indexes in runs.values():
        if len(indexes) > 1:
            ids = sorted(notes[i].id for i in indexes)
            for i, note_id in zip(indexes, ids, strict=True):
                notes[i] = replace(notes[i], id=note_id)
    return notes
