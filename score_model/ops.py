"""Typed edit operations on a score document.

:class:`ScoreEditor` is the one API that people (through the REST layer), agents and
tests use to change a score. Every public method runs as a single transaction tagged
with an :class:`~score_model.origin.Origin`; :meth:`ScoreEditor.batch` groups several
calls into one transaction. Values are validated before anything is written, so a
rejected edit leaves the document untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from fractions import Fraction
from typing import Any, TypeVar

from pycrdt import Map

from score_model.document import ScoreDoc, layout
from score_model.ids import new_id
from score_model.migrate import migrate
from score_model.origin import SERVER, Origin
from score_model.schema import (
    ARTICULATIONS,
    BARLINE_TYPES,
    CHORD_KIND_ALIASES,
    DYNAMICS,
    HAIRPIN_MARKS,
    MAX_TUPLET_DEPTH,
    MAX_VERSES,
    ORNAMENTS,
    REPEAT_TYPES,
    SCHEMA_VERSION,
    TIE_TYPES,
    ChordSymbol,
    KeySignature,
    Measure,
    Note,
    Part,
    SchemaError,
    Tempo,
    Tuplet,
    check_pitch,
    check_time_signature,
    parse_fraction,
)
from score_model.suggestions import Suggestion, applied_note_id, measure_base
from score_model.text import clean_text
from score_model.tuplets import TupletError, check_group

FractionLike = Fraction | int | str
T = TypeVar("T")


class EditError(ValueError):
    """An edit that cannot be applied (unknown id, invalid value); nothing was written."""


class ScoreEditor:
    """Apply typed edits to a :class:`ScoreDoc` with a given origin."""

    def __init__(self, score: ScoreDoc, origin: Origin = SERVER) -> None:
        self.score = score
        self.origin = origin

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[ScoreEditor]:
        """Group several edits into one transaction (one update, one undo step)."""
        with self.score.doc.transaction(origin=self.origin):
            yield self

    def _tx(self) -> Any:
        return self.score.doc.transaction(origin=self.origin)

    # --- score ---------------------------------------------------------------------------------

    def create_score(
        self,
        *,
        title: str = "",
        composer: str = "",
        parts: Sequence[str | dict[str, Any]] = ("Piano",),
        measures: int = 4,
        time: str = "4/4",
        key: KeySignature | None = None,
        tempo: Tempo | None = None,
    ) -> dict[str, list[str]]:
        """Fill an empty document: metadata, parts and empty measures. Returns the new ids."""
        if len(self.score.measures) or len(self.score.parts):
            raise EditError("create_score needs an empty document")
        _checked(check_time_signature, time)
        with self._tx():
            self.score.meta.update(
                {
                    "title": clean_text(title),
                    "composer": clean_text(composer),
                    "schema_version": SCHEMA_VERSION,
                    "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
            )
            if tempo is not None:
                self.score.meta["tempo"] = tempo.to_json()
            part_ids = [self.add_part(**(p if isinstance(p, dict) else {"name": p})) for p in parts]
            measure_ids = [self.insert_measure() for _ in range(measures)]
            if measure_ids:
                self.set_time_signature(measure_ids[0], time)
                if key is not None:
                    self.set_key(measure_ids[0], key.fifths, key.mode)
                if tempo is not None:
                    self.set_tempo(measure_ids[0], tempo.bpm, tempo.beat, tempo.text)
        return {"parts": part_ids, "measures": measure_ids}

    def set_metadata(self, **fields: Any) -> None:
        """Set title, composer, tempo (a :class:`Tempo`) or any other JSON metadata."""
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name in ("title", "composer"):
                if not isinstance(value, str):
                    raise EditError(f"{name} must be a string")
                value = clean_text(value)
            if name == "schema_version":
                raise EditError("schema_version is managed by the server")
            values[name] = value.to_json() if isinstance(value, Tempo) else value
        with self._tx():
            for name, value in values.items():
                if value is None:
                    self.score.meta.pop(name, None)
                else:
                    self.score.meta[name] = value

    # --- parts ---------------------------------------------------------------------------------

    def add_part(self, name: str = "", *, index: int | None = None, **fields: Any) -> str:
        """Add a part (``abbreviation``, ``instrument``, ``program``, ``clef``, ``staves``)."""
        part = self._checked_part({"id": new_id("p"), "name": name, **fields})
        with self._tx():
            parts = self.score.parts
            position = len(parts) if index is None else self._clamp(index, parts)
            self.score.parts.insert(position, Map(part.to_json()))
        return part.id

    def update_part(self, part_id: str, **fields: Any) -> None:
        """Change a part's name, abbreviation, instrument, program, clef, staves or clefs."""
        index, current = self._find_part(part_id)
        part = self._checked_part({**current, **fields, "id": part_id})
        with self._tx():
            part_map = self.score.parts[index]
            for key, value in part.to_json().items():
                if current.get(key) != value:
                    part_map[key] = value
            for key in set(current) - set(part.to_json()):
                del part_map[key]

    def remove_part(self, part_id: str) -> None:
        """Remove a part and all its notes."""
        index, _ = self._find_part(part_id)
        with self._tx():
            del self.score.parts[index]
            for note_id in self._note_ids_where(lambda raw: raw.get("part") == part_id):
                del self.score.notes[note_id]

    def move_part(self, part_id: str, new_index: int) -> None:
        """Move a part to ``new_index`` (its id and fields are kept)."""
        index, current = self._find_part(part_id)
        with self._tx():
            del self.score.parts[index]
            self.score.parts.insert(self._clamp(new_index, self.score.parts), Map(current))

    # --- measures ------------------------------------------------------------------------------

    def insert_measure(self, index: int | None = None, **attributes: Any) -> str:
        """Insert an empty measure column at ``index`` (default: at the end)."""
        measure = self._checked_measure({"id": new_id("m"), **attributes})
        with self._tx():
            position = (
                len(self.score.measures)
                if index is None
                else self._clamp(index, self.score.measures)
            )
            self.score.measures.insert(position, Map(measure.to_json()))
        return measure.id

    def append_measures(self, count: int) -> list[str]:
        with self._tx():
            return [self.insert_measure() for _ in range(count)]

    def delete_measure(self, measure_id: str) -> None:
        """Delete a measure column and, in the same transaction, every note in it."""
        index, _ = self._find_measure(measure_id)
        with self._tx():
            del self.score.measures[index]
            for note_id in self._note_ids_where(lambda raw: raw.get("measure") == measure_id):
                del self.score.notes[note_id]

    def move_measure(self, measure_id: str, new_index: int) -> None:
        """Move a measure column with its notes (they follow its id)."""
        index, current = self._find_measure(measure_id)
        with self._tx():
            del self.score.measures[index]
            self.score.measures.insert(self._clamp(new_index, self.score.measures), Map(current))

    def remove_duplicate_measures(self) -> int:
        """Drop later copies of a measure id (left by concurrent moves), keeping its notes.
        Returns how many copies were removed."""
        seen: set[str] = set()
        duplicates: list[int] = []
        for index, raw in enumerate(self.score.raw_measures()):
            measure_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(measure_id, str) and measure_id in seen:
                duplicates.append(index)
            elif isinstance(measure_id, str):
                seen.add(measure_id)
        with self._tx():
            for index in reversed(duplicates):
                del self.score.measures[index]
        return len(duplicates)

    def set_time_signature(self, measure_id: str, time: str | None) -> None:
        """Set (or with ``None`` clear) the time signature starting at a measure."""
        self._set_measure_attr(
            measure_id, "time", None if time is None else _checked(check_time_signature, time)
        )

    def set_key(self, measure_id: str, fifths: int | None, mode: str | None = None) -> None:
        """Set (or with ``None`` clear) the key signature starting at a measure."""
        value = (
            None
            if fifths is None
            else _checked(KeySignature.from_json, {"fifths": fifths, "mode": mode}).to_json()
        )
        self._set_measure_attr(measure_id, "key", value)

    def set_tempo(
        self, measure_id: str, bpm: float | None, beat: FractionLike = 1, text: str | None = None
    ) -> None:
        """Set (or with ``None`` clear) a metronome mark at the start of a measure."""
        value = (
            None
            if bpm is None
            else _checked(Tempo.from_json, {"bpm": bpm, "beat": str(beat), "text": text}).to_json()
        )
        self._set_measure_attr(measure_id, "tempo", value)

    def set_barline(self, measure_id: str, barline: str | None) -> None:
        """Set the barline at the end of a measure (``double``, ``final``, ...)."""
        if barline is not None and barline not in BARLINE_TYPES:
            raise EditError(f"barline {barline!r} is not one of {sorted(BARLINE_TYPES)}")
        self._set_measure_attr(measure_id, "barline", barline)

    def set_repeat(self, measure_id: str, repeat: str | None) -> None:
        """Mark a measure as starting, ending or both starting and ending a repeat."""
        if repeat is not None and repeat not in REPEAT_TYPES:
            raise EditError(f"repeat {repeat!r} is not start, end or both")
        self._set_measure_attr(measure_id, "repeat", repeat)

    def set_pickup(self, measure_id: str, pickup: bool) -> None:
        """Mark a measure as an anacrusis (shorter than a full bar by design)."""
        self._set_measure_attr(measure_id, "pickup", True if pickup else None)

    # --- notes ---------------------------------------------------------------------------------

    def add_note(
        self,
        measure: str,
        part: str,
        onset: FractionLike,
        duration: FractionLike,
        pitches: Sequence[str] | str = (),
        **fields: Any,
    ) -> str:
        """Add a note (one pitch), chord (several) or rest (none). Returns its id."""
        note_id = new_id("n")
        note = self._checked_note(
            note_id,
            {
                "measure": measure,
                "part": part,
                "onset": onset,
                "duration": duration,
                "pitches": [pitches] if isinstance(pitches, str) else list(pitches),
                **fields,
            },
        )
        self._require_cell(note.measure, note.part)
        with self._tx():
            self.score.notes[note_id] = note.to_json()
        return note_id

    def add_rest(
        self, measure: str, part: str, onset: FractionLike, duration: FractionLike, **fields: Any
    ) -> str:
        return self.add_note(measure, part, onset, duration, (), **fields)

    def update_note(self, note_id: str, **changes: Any) -> None:
        """Replace fields of a note (the note is written whole: last writer wins per note)."""
        current = self._raw_note(note_id)
        if "pitches" in changes and isinstance(changes["pitches"], str):
            changes["pitches"] = [changes["pitches"]]
        merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
        for key, value in changes.items():
            if value is None:
                merged.pop(key, None)
        if "pitches" in changes and "ties" not in changes:
            merged.pop("ties", None)
        note = self._checked_note(note_id, merged)
        if note.measure != current.get("measure") or note.part != current.get("part"):
            self._require_cell(note.measure, note.part)
        with self._tx():
            self.score.notes[note_id] = note.to_json()

    def delete_note(self, note_id: str) -> None:
        self._raw_note(note_id)
        with self._tx():
            del self.score.notes[note_id]

    def set_pitches(self, note_id: str, pitches: Sequence[str] | str) -> None:
        self.update_note(note_id, pitches=[pitches] if isinstance(pitches, str) else list(pitches))

    def set_duration(self, note_id: str, duration: FractionLike) -> None:
        self.update_note(note_id, duration=duration)

    def set_onset(self, note_id: str, onset: FractionLike) -> None:
        self.update_note(note_id, onset=onset)

    def move_note(
        self, note_id: str, measure: str, onset: FractionLike, part: str | None = None
    ) -> None:
        """Move a note to another measure (and optionally part) at ``onset``."""
        changes: dict[str, Any] = {"measure": measure, "onset": onset}
        if part is not None:
            changes["part"] = part
        self.update_note(note_id, **changes)

    def set_voice(self, note_id: str, voice: int) -> None:
        self.update_note(note_id, voice=voice)

    def set_tie(self, note_id: str, tie: str | None, pitch_index: int | None = None) -> None:
        """Set the tie of every pitch of a note, or of one pitch by index."""
        if tie is not None and tie not in TIE_TYPES:
            raise EditError(f"tie {tie!r} is not start, stop, continue or None")
        current = self._raw_note(note_id)
        count = len(current.get("pitches", []))
        if count == 0:
            raise EditError("a rest cannot be tied")
        ties = list(current.get("ties", [])) + [None] * count
        ties = ties[:count]
        if pitch_index is None:
            ties = [tie] * count
        elif 0 <= pitch_index < count:
            ties[pitch_index] = tie
        else:
            raise EditError(f"pitch index {pitch_index} out of range for {count} pitches")
        self.update_note(note_id, ties=ties if any(ties) else None)

    def set_lyric(self, note_id: str, lyric: str | None) -> None:
        self.update_note(note_id, lyric=lyric)

    def set_articulations(self, note_id: str, articulations: Iterable[str]) -> None:
        values = list(articulations)
        unknown = [a for a in values if a not in ARTICULATIONS]
        if unknown:
            raise EditError(f"unknown articulations {unknown}; use {sorted(ARTICULATIONS)}")
        self.update_note(note_id, articulations=values or None)

    def set_dynamic(self, note_id: str, dynamic: str | None) -> None:
        if dynamic is not None and dynamic not in DYNAMICS:
            raise EditError(f"dynamic {dynamic!r} is not one of {sorted(DYNAMICS)}")
        self.update_note(note_id, dynamic=dynamic)

    # --- notation marks (schema version 3) -----------------------------------------------------

    def add_slur(self, start_note: str, end_note: str) -> None:
        """Slur from one note to a later one of the same part and voice (one transaction)."""
        self._span(start_note, end_note, "slurs", "start", same_voice=True)

    def remove_slur(self, start_note: str, end_note: str) -> None:
        self._unspan(start_note, end_note, "slurs", "start")

    def add_hairpin(self, start_note: str, end_note: str, kind: str = "crescendo") -> None:
        """A crescendo or diminuendo wedge from one note to a later one of the same part."""
        if kind not in HAIRPIN_MARKS - {"stop"}:
            raise EditError(f"hairpin {kind!r} is not crescendo or diminuendo")
        self._span(start_note, end_note, "hairpins", kind, same_voice=False)

    def remove_hairpin(self, start_note: str, end_note: str) -> None:
        current = self._raw_note(start_note).get("hairpins", [])
        kind = next((k for k in current if k != "stop"), "crescendo")
        self._unspan(start_note, end_note, "hairpins", kind)

    def set_staff(self, note_id: str, staff: int) -> None:
        """Put a note on another staff of its part (1 is the top one)."""
        self.update_note(note_id, staff=staff)

    def set_staves(self, part_id: str, staves: int, clefs: Sequence[str] | None = None) -> None:
        """Give a part ``staves`` staves (a piano: 2, joined by a brace) with their opening
        clefs, top down; notes on staves beyond the last are drawn on the last."""
        if clefs is not None and len(clefs) != staves:
            raise EditError("give one clef per staff")
        with self._tx():
            self.update_part(part_id, staves=staves, clefs=list(clefs) if clefs else None)
            self._bump_schema()

    def set_clef_change(self, note_id: str, clef: str | None) -> None:
        """A clef change on the note's staff just before the note (None removes it)."""
        with self._tx():
            self.update_note(note_id, clef=clef)
            self._bump_schema()

    def set_ornaments(self, note_id: str, ornaments: Iterable[str]) -> None:
        """Trill, mordent, inverted-mordent, turn, inverted-turn (fermata is an articulation)."""
        values = list(dict.fromkeys(ornaments))
        unknown = [o for o in values if o not in ORNAMENTS]
        if unknown:
            raise EditError(f"unknown ornaments {unknown}; use {sorted(ORNAMENTS)}")
        with self._tx():
            self.update_note(note_id, ornaments=values or None)
            self._bump_schema()

    def set_fingerings(self, note_id: str, fingerings: Sequence[str | int]) -> None:
        """Fingerings, one per pitch from the lowest (``"1"``-``"5"``, or e.g. ``"3-4"``)."""
        values = [str(f) for f in fingerings]
        if len(values) > max(1, len(self._raw_note(note_id).get("pitches", []))):
            raise EditError("at most one fingering per pitch")
        with self._tx():
            self.update_note(note_id, fingerings=values or None)
            self._bump_schema()

    def set_verse(self, note_id: str, verse: int, text: str | None) -> None:
        """Set the lyric of verse ``verse`` (1 is ``lyric``; 2 onwards are ``verses``)."""
        if not 1 <= verse <= MAX_VERSES + 1:
            raise EditError(f"verse must be from 1 to {MAX_VERSES + 1}")
        if verse == 1:
            self.set_lyric(note_id, text)
            return
        verses: list[str | None] = list(self._raw_note(note_id).get("verses", []))
        verses += [None] * (verse - 1 - len(verses))
        verses[verse - 2] = text
        with self._tx():
            self.update_note(note_id, verses=verses if any(verses) else None)
            self._bump_schema()

    # --- tuplets and chord symbols (schema version 4) ----------------------------------------

    def set_tuplet(
        self,
        note_ids: Sequence[str],
        actual: int,
        normal: int,
        *,
        unit: FractionLike | None = None,
        bracket: bool = True,
        number: str = "number",
    ) -> str:
        """Make notes whose durations are already squeezed (a triplet of eighths: 1/3
        each) one tuplet group of ``actual`` notes in the time of ``normal`` (of ``unit``
        quarters; by default what the notes imply), inside any group they share. The
        notes must be in one measure, part and voice and follow each other, their written
        values must be note values and they must fill the group. Returns the group id."""
        notes = self._group_notes(note_ids)
        return self._write_group(notes, actual, normal, unit, bracket, number)

    def make_tuplet(
        self,
        note_ids: Sequence[str],
        actual: int,
        normal: int,
        *,
        bracket: bool = True,
        number: str = "number",
    ) -> str:
        """Turn notes into a tuplet: each keeps its written value and lasts ``normal /
        actual`` of it (three eighths become a triplet lasting a quarter), placed one after
        the other from the first note's onset. Returns the group id."""
        if not (isinstance(actual, int) and isinstance(normal, int) and actual > 0 < normal):
            raise EditError("actual and normal must be positive integers")
        notes = self._group_notes(note_ids)
        ratio = Fraction(normal, actual)
        at = notes[0].onset
        squeezed = []
        for item in notes:
            squeezed.append(replace(item, onset=at, duration=item.duration * ratio))
            at += item.duration * ratio
        return self._write_group(squeezed, actual, normal, None, bracket, number)

    def _write_group(
        self,
        notes: list[Note],
        actual: int,
        normal: int,
        unit: FractionLike | None,
        bracket: bool,
        number: str,
    ) -> str:
        """Check ``notes`` as one new innermost group and write them with it."""
        group = self._checked_tuplet(notes, actual, normal, unit, bracket, number)
        with self._tx():
            for item in notes:
                self.score.notes[item.id] = replace(item, tuplets=(*item.tuplets, group)).to_json()
            self._bump_schema()
        return group.id

    def remove_tuplet(self, note_id: str) -> None:
        """Dissolve the innermost tuplet group of a note (every note of the group leaves
        it; durations are kept, exports then bracket them as music21 sees fit)."""
        group = self._innermost_group(note_id)
        with self._tx():
            for item in self._notes_of_group(group.id):
                kept = tuple(t for t in item.tuplets if t.id != group.id)
                self.score.notes[item.id] = replace(item, tuplets=kept).to_json()

    def set_tuplet_display(
        self, note_id: str, *, bracket: bool | None = None, number: str | None = None
    ) -> None:
        """Show or hide the bracket of a note's innermost group, and show its number as
        ``number`` ("3"), ``ratio`` ("3:2") or ``none``."""
        group = self._innermost_group(note_id)
        changed = _checked(
            Tuplet.from_json,
            {
                **group.to_json(),
                **({"bracket": bracket} if bracket is not None else {}),
                **({"number": number} if number is not None else {}),
            },
        )
        with self._tx():
            for item in self._notes_of_group(group.id):
                groups = tuple(changed if t.id == group.id else t for t in item.tuplets)
                self.score.notes[item.id] = replace(item, tuplets=groups).to_json()

    def add_chord_symbol(
        self,
        measure: str,
        part: str,
        onset: FractionLike,
        root: str | None,
        kind: str = "major",
        *,
        bass: str | None = None,
        text: str | None = None,
        degrees: Sequence[tuple[str, int, int]] = (),
    ) -> None:
        """Put a chord symbol on a part at an onset of a measure (replacing the one there):
        ``root`` a step (``"C"``, ``"F#"``, ``"B-"``; None with kind ``"none"``, N.C.),
        ``kind`` a MusicXML kind (``"dominant"``, ``"minor-seventh"``...), an optional
        ``bass``, ``text`` the kind as written (``"maj7"``) and ``degrees`` as
        ``(type, value, alter)`` (``("add", 9, -1)``: an added flat ninth)."""
        symbol = _checked(
            ChordSymbol.from_json,
            ChordSymbol(
                part,
                _checked(parse_fraction, onset, "onset"),
                root,
                CHORD_KIND_ALIASES.get(kind, kind),  # MusicXML's name for music21's
                bass,
                text,
                tuple(degrees),
            ).to_json(),
        )
        index, current = self._find_measure(measure)
        self._find_part(part)
        bar = self._bar_of(index)
        if symbol.onset >= bar:
            raise EditError(f"onset {symbol.onset} is not inside the bar (it lasts {bar})")
        kept = [c for c in _symbols_of(current) if (c.part, c.onset) != (part, symbol.onset)]
        with self._tx():
            self._write_symbols(index, [*kept, symbol])
            self._bump_schema()

    def add_chord_figure(self, measure: str, part: str, onset: FractionLike, figure: str) -> None:
        """:meth:`add_chord_symbol` from a figure as a lead sheet writes it: ``"Cmaj7"``,
        ``"F#m7b5"``, ``"Bb7/D"``, ``"N.C."`` (read by music21)."""
        from score_model.m21_harmony import symbol_from_figure  # imports music21

        try:
            symbol = symbol_from_figure(figure, part)
        except ValueError as exc:
            raise EditError(str(exc)) from exc
        self.add_chord_symbol(
            measure,
            part,
            onset,
            symbol.root,
            symbol.kind,
            bass=symbol.bass,
            text=symbol.text,
            degrees=symbol.degrees,
        )

    def remove_chord_symbol(self, measure: str, part: str, onset: FractionLike) -> None:
        """Remove the chord symbol of a part at an onset of a measure."""
        at = _checked(parse_fraction, onset, "onset")
        index, current = self._find_measure(measure)
        symbols = _symbols_of(current)
        kept = [c for c in symbols if (c.part, c.onset) != (part, at)]
        if len(kept) == len(symbols):
            raise EditError(f"no chord symbol of part {part} at {at} in measure {measure}")
        with self._tx():
            self._write_symbols(index, kept)

    def _write_symbols(self, index: int, symbols: list[ChordSymbol]) -> None:
        measure_map = self.score.measures[index]
        if symbols:
            ordered = sorted(symbols, key=lambda c: (c.onset, c.part))
            measure_map["chord_symbols"] = [c.to_json() for c in ordered]
        else:
            measure_map.pop("chord_symbols", None)

    def _bar_of(self, index: int) -> Fraction:
        measures = [
            Measure.from_json({k: v for k, v in m.items() if k in ("id", "time")})
            for m in self.score.raw_measures()
            if isinstance(m, dict)
        ]
        return layout(measures)[index].bar

    def _group_notes(self, note_ids: Sequence[str]) -> list[Note]:
        if isinstance(note_ids, str) or not note_ids:
            raise EditError("give the ids of the notes of the tuplet")
        notes = [self._checked_note(i, self._raw_note(i)) for i in dict.fromkeys(note_ids)]
        notes.sort(key=lambda n: (n.onset, n.id))
        if len({n.tuplets for n in notes}) > 1:
            raise EditError("the notes are in different tuplet groups")
        if len(notes[0].tuplets) >= MAX_TUPLET_DEPTH:
            raise EditError(f"tuplets nest at most {MAX_TUPLET_DEPTH} deep")
        return notes

    @staticmethod
    def _checked_tuplet(
        notes: list[Note],
        actual: int,
        normal: int,
        unit: FractionLike | None,
        bracket: bool,
        number: str,
    ) -> Tuplet:
        raw: dict[str, Any] = {"id": new_id("u"), "actual": actual, "normal": normal}
        if unit is not None:
            raw["unit"] = str(unit)
        group = _checked(Tuplet.from_json, {**raw, "bracket": bracket, "number": number})
        try:
            found = check_group(notes, group, notes[0].tuplets)
        except TupletError as exc:
            raise EditError(str(exc)) from exc
        return replace(group, unit=found)

    def _innermost_group(self, note_id: str) -> Tuplet:
        note = self._checked_note(note_id, self._raw_note(note_id))
        if not note.tuplets:
            raise EditError(f"note {note_id} is in no tuplet")
        return note.tuplets[-1]

    def _notes_of_group(self, group_id: str) -> list[Note]:
        found = []
        for note_id, raw in self.score.raw_notes().items():
            if isinstance(raw, dict) and any(
                isinstance(t, dict) and t.get("id") == group_id for t in raw.get("tuplets", [])
            ):
                found.append(self._checked_note(note_id, raw))
        return found

    def _span(self, start: str, end: str, name: str, mark: str, *, same_voice: bool) -> None:
        first, last = self._raw_note(start), self._raw_note(end)
        if start == end:
            raise EditError(f"a {name[:-1]} needs two different notes")
        if first.get("part") != last.get("part") or (
            same_voice and first.get("voice", 1) != last.get("voice", 1)
        ):
            raise EditError(f"a {name[:-1]} joins notes of one part" + " and voice" * same_voice)
        values = {start: {**first, name: [*first.get(name, []), mark]}}
        values[end] = {**last, name: [*last.get(name, []), "stop"]}
        checked = [self._checked_note(note_id, value) for note_id, value in values.items()]
        with self._tx():
            for note in checked:
                self.score.notes[note.id] = note.to_json()
            self._bump_schema()

    def _unspan(self, start: str, end: str, name: str, mark: str) -> None:
        first, last = self._raw_note(start), self._raw_note(end)
        if mark not in first.get(name, []) or "stop" not in last.get(name, []):
            raise EditError(f"no {name[:-1]} from {start} to {end}")
        with self._tx():
            for note_id, raw, drop in ((start, first, mark), (end, last, "stop")):
                marks = list(raw[name])
                marks.remove(drop)
                self.update_note(note_id, **{name: marks or None})

    def transpose(
        self,
        interval: str,
        *,
        measures: Sequence[str] | None = None,
        parts: Sequence[str] | None = None,
    ) -> int:
        """Transpose notes in the given measures and parts (default: all) by an interval
        name such as ``"M2"``, ``"-P5"`` or ``"m3"``, spelling pitches correctly.
        Returns how many notes changed."""
        from music21 import interval as m21interval  # heavy import, only when transposing

        try:
            step = m21interval.Interval(interval)
        except Exception as exc:  # music21 raises several types for bad names
            raise EditError(
                f"interval {interval!r} is not an interval name like 'M2' or '-P5'"
            ) from exc
        measure_set = None if measures is None else set(measures)
        part_set = None if parts is None else set(parts)
        changed: dict[str, dict[str, Any]] = {}
        for note_id, raw in self.score.raw_notes().items():
            if not isinstance(raw, dict) or not raw.get("pitches"):
                continue
            if measure_set is not None and raw.get("measure") not in measure_set:
                continue
            if part_set is not None and raw.get("part") not in part_set:
                continue
            try:
                note = Note.from_json(note_id, raw)
                pitches = [step.transposePitch(_m21_pitch(p)).nameWithOctave for p in note.pitches]
                changed[note_id] = replace(
                    note, pitches=tuple(check_pitch(p) for p in pitches)
                ).to_json()
            except Exception as exc:  # music21 raises its own types for unspellable pitches
                raise EditError(f"cannot transpose note {note_id}: {exc}") from exc
        with self._tx():
            for note_id, value in changed.items():
                self.score.notes[note_id] = value
        return len(changed)

    # --- chat and comments ---------------------------------------------------------------------

    def post_chat(self, author: str, text: str, *, kind: str = "message", **extra: Any) -> str:
        """Append a chat message from a person or an agent; ``extra`` fields (for example
        ``author_kind="agent"``, ``task``) are stored with it."""
        text, author = clean_text(text, multiline=True), clean_text(author)
        if not text or len(text) > 10_000:
            raise EditError("chat text must be 1 to 10,000 characters")
        message_id = new_id("c")
        with self._tx():
            self.score.chat.append(
                {
                    **extra,
                    "id": message_id,
                    "author": author,
                    "text": text,
                    "kind": kind,
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                }
            )
        return message_id

    def add_comment(
        self,
        author: str,
        text: str,
        *,
        measure: str,
        part: str | None = None,
        onset: FractionLike | None = None,
    ) -> str:
        """Add a comment anchored to a measure (and optionally a part and onset)."""
        self._find_measure(measure)
        if part is not None:
            self._find_part(part)
        text, author = clean_text(text, multiline=True), clean_text(author)
        if not text or len(text) > 10_000:
            raise EditError("comment text must be 1 to 10,000 characters")
        comment_id = new_id("k")
        value: dict[str, Any] = {
            "author": author,
            "text": text,
            "measure": measure,
            "resolved": False,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        if part is not None:
            value["part"] = part
        if onset is not None:
            value["onset"] = str(_checked(parse_fraction, onset, "onset"))
        with self._tx():
            self.score.comments[comment_id] = value
        return comment_id

    def resolve_comment(self, comment_id: str, resolved: bool = True) -> None:
        current = self.score.comments.get(comment_id)
        if not isinstance(current, dict):
            raise EditError(f"no comment {comment_id}")
        with self._tx():
            self.score.comments[comment_id] = {**current, "resolved": resolved}

    def delete_comment(self, comment_id: str) -> None:
        if comment_id not in self.score.comments:
            raise EditError(f"no comment {comment_id}")
        with self._tx():
            del self.score.comments[comment_id]

    # --- suggestions (schema version 2) ------------------------------------------------------

    def add_suggestion(
        self,
        *,
        task: str,
        agent: str,
        measure: str,
        part: str,
        notes: Sequence[dict[str, Any]],
        base: str,
        status: str = "draft",
        reason: str = "",
        report: dict[str, Any] | None = None,
    ) -> str:
        """Propose ``notes`` (note values without measure and part) for one cell; return
        the suggestion id. ``base`` is :func:`~score_model.suggestions.measure_base` of
        the measure as the proposer read it."""
        self._require_cell(measure, part)
        suggestion_id = new_id("g")
        value = Suggestion(
            suggestion_id,
            task,
            agent,
            measure,
            part,
            tuple(notes),
            base,
            status,
            reason,
            report or {},
        ).to_json()
        _checked(Suggestion.from_json, suggestion_id, value)
        self._bump_schema()
        with self._tx():
            self.score.suggestions[suggestion_id] = value
        return suggestion_id

    def update_suggestion(self, suggestion_id: str, **changes: Any) -> None:
        """Replace fields of a suggestion (``status``, ``reason``, ``report``, ``by``)."""
        current = self._suggestion(suggestion_id)
        value = {**current.to_json(), **changes}
        _checked(Suggestion.from_json, suggestion_id, value)
        with self._tx():
            self.score.suggestions[suggestion_id] = value

    def delete_suggestion(self, suggestion_id: str) -> None:
        if suggestion_id not in self.score.suggestions:
            raise EditError(f"no suggestion {suggestion_id}")
        with self._tx():
            del self.score.suggestions[suggestion_id]

    def apply_suggestions(
        self, suggestion_ids: Sequence[str], *, by: str | None = None
    ) -> dict[str, list[str]]:
        """Apply suggestions in one transaction: for each measure whose notes still
        match the suggestions' ``base``, replace each suggested cell's notes (voices the
        suggestion writes) and mark it ``applied``; otherwise mark it ``stale`` and leave
        the measure alone. Returns ``{"applied": [...], "stale": [...]}``."""
        chosen = [self._suggestion(i) for i in suggestion_ids]
        raw_notes = self.score.raw_notes()
        bases = {s.measure: measure_base(raw_notes, s.measure) for s in chosen}
        out: dict[str, list[str]] = {"applied": [], "stale": []}
        with self._tx():
            for suggestion in chosen:
                if suggestion.status == "applied":
                    continue
                fresh = bases[suggestion.measure] == suggestion.base
                if fresh:
                    voices = {int(n.get("voice", 1)) for n in suggestion.notes} or {1}
                    for note_id, raw in raw_notes.items():
                        if (
                            isinstance(raw, dict)
                            and raw.get("measure") == suggestion.measure
                            and raw.get("part") == suggestion.part
                            and int(raw.get("voice", 1)) in voices
                            and note_id in self.score.notes
                        ):
                            del self.score.notes[note_id]
                    for index, value in enumerate(suggestion.note_values()):
                        self.score.notes[applied_note_id(suggestion.id, index)] = value
                status = "applied" if fresh else "stale"
                self.score.suggestions[suggestion.id] = {
                    **suggestion.to_json(),
                    "status": status,
                    **({"by": by} if by is not None else {}),
                }
                out[status].append(suggestion.id)
        return out

    def _suggestion(self, suggestion_id: str) -> Suggestion:
        raw = self.score.suggestions.get(suggestion_id)
        if raw is None:
            raise EditError(f"no suggestion {suggestion_id}")
        return _checked(Suggestion.from_json, suggestion_id, raw)

    def _bump_schema(self) -> None:
        """Writing a version-2 or -3 feature migrates an older document's metadata."""
        migrate(self.score, self.origin)

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _clamp(index: int, container: Any) -> int:
        return max(0, min(index, len(container)))

    def _find_measure(self, measure_id: str) -> tuple[int, dict[str, Any]]:
        for index, raw in enumerate(self.score.raw_measures()):
            if isinstance(raw, dict) and raw.get("id") == measure_id:
                return index, raw
        raise EditError(f"no measure {measure_id}")

    def _find_part(self, part_id: str) -> tuple[int, dict[str, Any]]:
        for index, raw in enumerate(self.score.raw_parts()):
            if isinstance(raw, dict) and raw.get("id") == part_id:
                return index, raw
        raise EditError(f"no part {part_id}")

    def _require_cell(self, measure_id: str, part_id: str) -> None:
        self._find_measure(measure_id)
        self._find_part(part_id)

    def _raw_note(self, note_id: str) -> dict[str, Any]:
        raw = self.score.notes.get(note_id)
        if not isinstance(raw, dict):
            raise EditError(f"no note {note_id}")
        return raw

    def _note_ids_where(self, predicate: Any) -> list[str]:
        return [
            note_id
            for note_id, raw in self.score.raw_notes().items()
            if isinstance(raw, dict) and predicate(raw)
        ]

    def _set_measure_attr(self, measure_id: str, name: str, value: Any) -> None:
        index, current = self._find_measure(measure_id)
        self._checked_measure({**current, name: value})
        with self._tx():
            measure_map = self.score.measures[index]
            if value is None:
                measure_map.pop(name, None)
            else:
                measure_map[name] = value

    @staticmethod
    def _checked_note(note_id: str, raw: dict[str, Any]) -> Note:
        values = dict(raw)
        for name in ("onset", "duration"):
            if isinstance(values.get(name), Fraction | int) and not isinstance(values[name], bool):
                values[name] = str(Fraction(values[name]))
        if "articulations" in values and not isinstance(values["articulations"], list):
            values["articulations"] = list(values["articulations"])
        try:
            return Note.from_json(note_id, values)
        except SchemaError as exc:
            raise EditError(str(exc)) from exc

    @staticmethod
    def _checked_measure(raw: dict[str, Any]) -> Measure:
        try:
            return Measure.from_json({k: v for k, v in raw.items() if v is not None})
        except SchemaError as exc:
            raise EditError(str(exc)) from exc

    @staticmethod
    def _checked_part(raw: dict[str, Any]) -> Part:
        try:
            return Part.from_json({k: v for k, v in raw.items() if v is not None})
        except SchemaError as exc:
            raise EditError(str(exc)) from exc


def _checked(check: Callable[..., T], *args: Any) -> T:
    """Run a schema check, turning its :class:`SchemaError` into an :class:`EditError`."""
    try:
        return check(*args)
    except SchemaError as exc:
        raise EditError(str(exc)) from exc


def _symbols_of(raw_measure: dict[str, Any]) -> list[ChordSymbol]:
    """The chord symbols of a stored measure (unreadable ones are dropped on rewrite)."""
    symbols = []
    for value in raw_measure.get("chord_symbols") or []:
        try:
            symbols.append(ChordSymbol.from_json(value))
        except SchemaError:
            continue
    return symbols


def _m21_pitch(name: str) -> Any:
    from music21 import pitch as m21pitch

    return m21pitch.Pitch(name)
