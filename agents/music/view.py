"""The read-only input view the music functions take, and the plain result they return.

:func:`extract_view` reads a :class:`~score_model.document.ScoreDoc` (or decoded
:class:`~score_model.document.ScoreData`) into a :class:`ScoreView`: measures with the
time and key signature in force, and each part's notes per measure (onsets and durations
as exact Fractions, pitches as music21 names). The music functions return a
:class:`MusicResult` (new notes per part and measure), which :func:`apply_result` writes
through :class:`~score_model.ops.ScoreEditor` in one transaction under the caller's origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from score_model.document import ScoreData, ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import SERVER, Origin
from score_model.schema import KeySignature, Measure, Meta, Note, Part, bar_duration

APPENDED = "+"  # NewNote.measure "+1", "+2"...: measures apply_result appends at the end


@dataclass(frozen=True, slots=True)
class Event:
    """One note, chord or rest (``pitches == ()``) of a line, inside its measure."""

    onset: Fraction
    duration: Fraction
    pitches: tuple[str, ...] = ()
    voice: int = 1
    fermata: bool = False
    ties: tuple[str | None, ...] = ()

    @property
    def end(self) -> Fraction:
        return self.onset + self.duration

    @property
    def is_rest(self) -> bool:
        return not self.pitches


@dataclass(frozen=True, slots=True)
class MeasureInfo:
    """A measure column: id, number, time and key signature in force, and its length
    (a pickup's is its content; ``bar`` is always the full bar)."""

    id: str
    number: int
    time: str
    key: KeySignature | None
    length: Fraction
    bar: Fraction
    pickup: bool = False
    barline: str | None = None

    @property
    def phase(self) -> Fraction:
        """Quarters from the notional downbeat to the measure's start (a pickup's gap)."""
        return self.bar - self.length if self.pickup else Fraction(0)


@dataclass(frozen=True, slots=True)
class PartLine:
    """One part's notes, per measure of the view (parallel to ``ScoreView.measures``)."""

    part: str
    name: str
    measures: tuple[tuple[Event, ...], ...]
    instrument: str | None = None

    def voice(self, voice: int = 1) -> tuple[tuple[Event, ...], ...]:
        """The events of one voice per measure, ignoring grace notes."""
        return tuple(tuple(e for e in cell if e.voice == voice) for cell in self.measures)


@dataclass(frozen=True)
class ScoreView:
    """Measures and parts of (a range of) a score, read-only."""

    measures: tuple[MeasureInfo, ...]
    parts: tuple[PartLine, ...]
    title: str = ""

    def part(self, part: str | int) -> PartLine:
        """A part by id, name (case-insensitive) or index."""
        if isinstance(part, int):
            return self.parts[part]
        for line in self.parts:
            if line.part == part or line.name.lower() == part.lower():
                return line
        raise KeyError(f"no part {part!r}")


@dataclass(frozen=True, slots=True)
class NewNote:
    """A note to write: measure id (or ``"+n"`` for the n-th appended measure), onset,
    duration, pitches (``()`` a rest), voice and optional ties/articulations."""

    measure: str
    onset: Fraction
    duration: Fraction
    pitches: tuple[str, ...]
    voice: int = 1
    ties: tuple[str | None, ...] = ()
    articulations: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartWrite:
    """Notes for one part: an existing part (``part`` is its id) or a new one (``part``
    is ``None``; ``name``, ``instrument`` and ``clef`` describe it). With ``replace``,
    the part's existing notes in the written measures (and voices) are removed first."""

    part: str | None
    notes: tuple[NewNote, ...]
    name: str = ""
    instrument: str | None = None
    clef: str | None = None
    replace: bool = True


@dataclass(frozen=True)
class MusicResult:
    """What a music function proposes: notes per part, a one-line summary, and details
    (chord labels, scores...) as JSON-ready data."""

    parts: tuple[PartWrite, ...]
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def measures(self) -> list[str]:
        """Measure ids written, in first-seen order."""
        seen: dict[str, None] = {}
        for write in self.parts:
            for note in write.notes:
                seen.setdefault(note.measure, None)
        return list(seen)


def extract_view(
    score: ScoreDoc | ScoreData,
    *,
    parts: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
) -> ScoreView:
    """Read a score (or some parts and measures, by id) into a :class:`ScoreView`.

    Grace notes are left out; notes are sorted by voice then onset."""
    data = score.read() if isinstance(score, ScoreDoc) else score
    wanted_measures = None if measures is None else set(measures)
    slots = [s for s in data.layout() if wanted_measures is None or s.id in wanted_measures]
    infos = tuple(
        MeasureInfo(
            s.id,
            s.number,
            s.time,
            s.key,
            s.length,
            bar_duration(s.time),
            s.measure.pickup,
            s.measure.barline,
        )
        for s in slots
    )
    part_list = [p for p in data.parts if parts is None or p.id in parts or p.name in parts]
    cells = data.notes_by_cell()
    lines = []
    for p in part_list:
        per_measure = []
        for info in infos:
            per_measure.append(
                tuple(
                    Event(
                        n.onset,
                        n.duration,
                        n.pitches,
                        n.voice,
                        "fermata" in n.articulations,
                        n.ties,
                    )
                    for n in cells.get((info.id, p.id), [])
                    if not n.grace
                )
            )
        lines.append(PartLine(p.id, p.name, tuple(per_measure), p.instrument))
    return ScoreView(infos, tuple(lines), data.meta.title)


def apply_result(
    score: ScoreDoc, result: MusicResult, origin: Origin = SERVER
) -> dict[str, list[str]]:
    """Write a result through :class:`ScoreEditor` in one transaction tagged ``origin``.

    Appends the measures named ``"+n"``, creates new parts, clears replaced cells, then
    adds the notes. Returns the ids: ``{"parts": [...], "measures": [...], "notes": [...],
    "removed": [...]}``."""
    editor = ScoreEditor(score, origin)
    out: dict[str, list[str]] = {"parts": [], "measures": [], "notes": [], "removed": []}
    appended = sorted(
        {
            int(n.measure[1:])
            for w in result.parts
            for n in w.notes
            if n.measure.startswith(APPENDED)
        }
    )
    with editor.batch():
        new_ids = {f"{APPENDED}{i}": editor.insert_measure() for i in appended}
        out["measures"] = list(new_ids.values())
        for write in result.parts:
            part_id = write.part
            if part_id is None:
                fields: dict[str, Any] = {}
                if write.instrument:
                    fields["instrument"] = write.instrument
                if write.clef:
                    fields["clef"] = write.clef
                part_id = editor.add_part(write.name, **fields)
                out["parts"].append(part_id)
            if write.replace and write.part is not None:
                cells = {(new_ids.get(n.measure, n.measure), n.voice) for n in write.notes}
                for note_id, raw in score.raw_notes().items():
                    if (
                        isinstance(raw, dict)
                        and raw.get("part") == part_id
                        and (raw.get("measure"), raw.get("voice", 1)) in cells
                    ):
                        editor.delete_note(note_id)
                        out["removed"].append(note_id)
            for note in write.notes:
                fields = {}
                if note.voice != 1:
                    fields["voice"] = note.voice
                if any(note.ties):
                    fields["ties"] = list(note.ties)
                if note.articulations:
                    fields["articulations"] = list(note.articulations)
                out["notes"].append(
                    editor.add_note(
                        new_ids.get(note.measure, note.measure),
                        part_id,
                        note.onset,
                        note.duration,
                        list(note.pitches),
                        **fields,
                    )
                )
    return out


Line = tuple[str, Sequence[Sequence[Event]]]  # (part name, events per measure of the view)


def to_score_data(view: ScoreView, lines: Sequence[Line]) -> ScoreData:
    """An in-memory :class:`ScoreData` of the view's measures with the given lines as
    parts (ids ``p_0``, ``p_1``...), for the analyses to read."""
    measures = []
    previous: tuple[str, KeySignature | None] | None = None
    for info in view.measures:
        changed = previous is None or previous != (info.time, info.key)
        measures.append(
            Measure(
                info.id,
                time=info.time if changed else None,
                key=info.key if changed else None,
                barline=info.barline,
                pickup=info.pickup,
            )
        )
        previous = (info.time, info.key)
    parts = [Part(f"p_{index}", name) for index, (name, _) in enumerate(lines)]
    notes: dict[str, Note] = {}
    for index, (_, cells) in enumerate(lines):
        for info, cell in zip(view.measures, cells, strict=True):
            for event in cell:
                note_id = f"n_{len(notes)}"
                notes[note_id] = Note(
                    note_id,
                    info.id,
                    f"p_{index}",
                    event.onset,
                    event.duration,
                    event.pitches,
                    event.voice,
                    ties=event.ties,
                    articulations=("fermata",) if event.fermata else (),
                )
    return ScoreData(Meta(title=view.title), parts, measures, notes)
