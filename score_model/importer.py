"""Import a score file (MusicXML, MXL, MIDI, ABC or the document's own JSON) into a new
:class:`ScoreDoc`.

The bytes go through the safe readers of :mod:`score_model.limits` first, then music21
parses them in a bounded worker thread and :class:`Converter` maps the music21 score onto
schema values. The document is written in one transaction with origin ``server:import``.
Every failure is a :class:`ScoreImportError` with a ``reason``; ``docs/formats.md`` says
what survives each format.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from pycrdt import Map

from score_model.document import DEFAULT_TIME, ScoreData, ScoreDoc
from score_model.ids import new_id
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_size,
    parse_xml,
    read_mxl,
    run_bounded,
)
from score_model.origin import Origin
from score_model.schema import (
    ARTICULATIONS,
    CLEFS,
    DYNAMICS,
    KEY_MODES,
    MAX_DENOMINATOR,
    SCHEMA_VERSION,
    KeySignature,
    Measure,
    Meta,
    Note,
    Part,
    SchemaError,
    Tempo,
    bar_duration,
    check_pitch,
    check_time_signature,
)

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "IMPORT_ORIGIN",
    "Converter",
    "ImportFailure",
    "ImportLimits",
    "ImportReport",
    "ScoreContent",
    "ScoreImportError",
    "detect_format",
    "import_json",
    "import_score",
    "import_score_report",
    "write_content",
]

IMPORT_ORIGIN = Origin.server("import")
FORMATS = ("musicxml", "mxl", "midi", "abc", "json")
_ALIASES = {"musicxml": "musicxml", "xml": "musicxml", "mxl": "mxl", "midi": "midi",
            "mid": "midi", "abc": "abc", "json": "json"}
_EXTENSIONS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "mxl", ".mid": "midi",
               ".midi": "midi", ".abc": "abc", ".json": "json"}
_ABC_FIELD = re.compile(rb"^[XTMLKQC]:", re.M)


@dataclass
class ScoreContent:
    """A converted score as schema values, before it is written into a document."""

    meta: dict[str, Any]
    parts: list[Part]
    measures: list[Measure]
    notes: list[Note]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """The imported document, the format it came from and what was approximated."""

    score: ScoreDoc
    format: str
    warnings: list[str]


# --- public API --------------------------------------------------------------------------------


def import_score(data: bytes, filename: str | None = None, format: str | None = None, *,
                 limits: ImportLimits = DEFAULT_LIMITS, into: ScoreDoc | None = None
                 ) -> ScoreDoc:
    """Import a score file into a new document (or into the empty document ``into``).

    ``format`` (``musicxml``, ``xml``, ``mxl``, ``midi``, ``abc``, ``json``) wins over
    content sniffing, which wins over the extension of ``filename``. Raises
    :class:`ScoreImportError`.
    """
    return import_score_report(data, filename, format, limits=limits, into=into).score


def import_score_report(data: bytes, filename: str | None = None, format: str | None = None,
                        *, limits: ImportLimits = DEFAULT_LIMITS,
                        into: ScoreDoc | None = None) -> ImportReport:
    """Like :func:`import_score`, also returning the format and conversion warnings."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("import_score takes the file's bytes")
    data = bytes(data)
    check_size(data, limits)
    fmt = detect_format(data, filename, format)
    if into is not None and (len(into.parts) or len(into.measures) or len(into.notes)):
        raise ValueError("import needs an empty document")
    if fmt == "json":
        return ImportReport(import_json(data, limits=limits, into=into), fmt, [])
    content = run_bounded(lambda: _parse_and_convert(data, fmt, limits), limits.parse_seconds,
                          f"reading this {fmt} file")
    score = write_content(content, into)
    return ImportReport(score, fmt, content.warnings)


def detect_format(data: bytes, filename: str | None = None, format: str | None = None) -> str:
    """Name the format of a file: the explicit ``format``, else the content, else the
    file name's extension."""
    if format is not None:
        fmt = _ALIASES.get(format.lower().lstrip("."))
        if fmt is None:
            raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                                   f"format {format!r} is not one of {', '.join(FORMATS)}")
        return fmt
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    extension = ""
    if filename and "." in filename:
        extension = "." + filename.rsplit(".", 1)[-1].lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    if extension and not _looks_binary(data):
        raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                               f"{extension} files are not supported; import MusicXML, MXL, "
                               "MIDI, ABC or Orpheus JSON")
    raise ScoreImportError(ImportFailure.NOT_MUSIC,
                           "this is not a score file (expected MusicXML, MXL, MIDI, ABC "
                           "or Orpheus JSON)")


def _sniff(data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "mxl"
    if head.startswith(b"MThd"):
        return "midi"
    if head.startswith(b"<"):
        return "musicxml"
    if head.startswith(b"{"):
        return "json"
    if not _looks_binary(head) and _ABC_FIELD.search(head) and re.search(rb"^K:", data, re.M):
        return "abc"
    return None


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:4096]


# --- parsing -----------------------------------------------------------------------------------


def _parse_and_convert(data: bytes, fmt: str, limits: ImportLimits) -> ScoreContent:
    warnings: Counter[str] = Counter()
    if fmt == "musicxml":
        m21 = _parse_musicxml(data, limits)
    elif fmt == "mxl":
        m21 = _parse_musicxml(read_mxl(data, limits), limits)
    elif fmt == "midi":
        m21 = _parse_midi(data, limits)
    else:
        m21 = _parse_abc(data, limits, warnings)
    return Converter(limits, warnings).convert(m21)


def _music21_failure(fmt: str, exc: Exception) -> ScoreImportError:
    message = str(exc).strip() or type(exc).__name__
    return ScoreImportError(ImportFailure.INVALID,
                            f"music21 cannot read this {fmt} file: {message[:300]}")


def _parse_musicxml(data: bytes, limits: ImportLimits) -> Any:
    root = parse_xml(data)
    tag = root.tag.rsplit("}", 1)[-1]
    if tag == "score-timewise":
        raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                               "timewise MusicXML is not supported; export it as partwise")
    if tag != "score-partwise":
        raise ScoreImportError(ImportFailure.NOT_MUSIC,
                               f"this XML is not MusicXML (its root element is <{tag}>)")
    _precheck_musicxml(root, limits)
    from music21.musicxml import xmlToM21

    importer = xmlToM21.MusicXMLImporter()
    importer.xmlRoot = root
    try:
        importer.xmlRootToScore(root, importer.stream)
    except Exception as exc:  # music21 raises many types on broken content
        raise _music21_failure("MusicXML", exc) from None
    return importer.stream


def _precheck_musicxml(root: Any, limits: ImportLimits) -> None:
    """Count parts, measures and notes, and bound note lengths, before music21 runs."""
    parts = root.findall("part")
    if not parts:
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this MusicXML file has no parts")
    if len(parts) > limits.max_parts:
        raise ScoreImportError(ImportFailure.TOO_MANY_PARTS,
                               f"{len(parts)} parts; the limit is {limits.max_parts}")
    measures = max(len(part.findall("measure")) for part in parts)
    if measures > limits.max_measures:
        raise ScoreImportError(ImportFailure.TOO_MANY_MEASURES,
                               f"{measures:,} measures; the limit is {limits.max_measures:,}")
    notes = sum(1 for _ in root.iter("note"))
    if notes > limits.max_notes:
        raise ScoreImportError(ImportFailure.TOO_MANY_NOTES,
                               f"{notes:,} notes; the limit is {limits.max_notes:,}")
    for part in parts:
        divisions = Fraction(1)
        for measure in part.iter("measure"):
            for element in measure:
                if element.tag == "attributes":
                    text = element.findtext("divisions")
                    divisions = _positive_fraction(text) or divisions
                elif element.tag in ("note", "forward", "backup"):
                    ticks = _positive_fraction(element.findtext("duration"))
                    if ticks is not None and ticks / divisions > limits.max_note_quarters:
                        raise ScoreImportError(
                            ImportFailure.TOO_COMPLEX,
                            f"a <{element.tag}> lasts {float(ticks / divisions):,.0f} quarter "
                            f"notes; the limit is {limits.max_note_quarters}")


def _positive_fraction(text: str | None) -> Fraction | None:
    try:
        value = Fraction((text or "").strip())
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _parse_midi(data: bytes, limits: ImportLimits) -> Any:
    from music21 import midi
    from music21.midi import translate

    if not data.startswith(b"MThd"):
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not a MIDI file (no MThd "
                               "header)")
    if len(data) >= 14 and data[12] & 0x80:
        raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                               "SMPTE-timed MIDI files are not supported")
    midi_file = midi.MidiFile()
    try:
        midi_file.readstr(data)
    except Exception as exc:
        truncated = isinstance(exc, IndexError) or "MTrk" in str(exc)
        raise ScoreImportError(ImportFailure.TRUNCATED if truncated else ImportFailure.INVALID,
                               f"this MIDI file cannot be read: {exc}") from None
    if midi_file.ticksPerSecond:
        raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                               "SMPTE-timed MIDI files are not supported")
    if not midi_file.ticksPerQuarterNote:
        raise ScoreImportError(ImportFailure.INVALID, "this MIDI file has no time division")
    _precheck_midi(midi_file, limits)
    try:
        return translate.midiFileToStream(midi_file)
    except Exception as exc:
        raise _music21_failure("MIDI", exc) from None


def _precheck_midi(midi_file: Any, limits: ImportLimits) -> None:
    """Count notes and bound the piece's length from the raw events, before music21
    builds a stream (its work grows with the number of notes and bars)."""
    per_quarter = midi_file.ticksPerQuarterNote
    notes, end = 0, 0
    for track in midi_file.tracks:
        tick = 0
        for event in track.events:
            if event.isDeltaTime():
                tick += event.time
            elif event.isNoteOn():
                notes += 1
        end = max(end, tick)
    if notes > limits.max_notes:
        raise ScoreImportError(ImportFailure.TOO_MANY_NOTES,
                               f"{notes:,} notes; the limit is {limits.max_notes:,}")
    if end / per_quarter > 4 * limits.max_measures:
        raise ScoreImportError(ImportFailure.TOO_MANY_MEASURES,
                               f"the piece lasts {end / per_quarter:,.0f} quarter notes, over "
                               f"{limits.max_measures:,} bars of 4/4")


def _parse_abc(data: bytes, limits: ImportLimits, warnings: Counter[str]) -> Any:
    from music21 import abcFormat, stream
    from music21.abcFormat import translate

    if _looks_binary(data) or not re.search(rb"^K:", data, re.M):
        raise ScoreImportError(ImportFailure.NOT_MUSIC,
                               "this is not ABC notation (no K: header field)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    handler = abcFormat.ABCHandler()
    try:
        handler.process(text)
        if handler.tokens and handler.definesReferenceNumbers():
            tunes = handler.splitByReferenceNumber()
            number = next(iter(tunes))
            warnings[f"the ABC file holds {len(tunes)} tunes; imported the first "
                     f"(X:{number})"] += 1
            handler = tunes[number]
    except Exception as exc:
        raise ScoreImportError(ImportFailure.INVALID,
                               f"this ABC file cannot be read: {exc}") from None
    _precheck_abc(handler, limits)
    score = stream.Score()
    try:
        translate.abcToStreamScore(handler, score)
    except Exception as exc:
        raise _music21_failure("ABC", exc) from None
    return score


def _precheck_abc(handler: Any, limits: ImportLimits) -> None:
    from music21 import abcFormat

    notes, total, longest = 0, 0.0, 0.0
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCNote):  # chords too
            notes += 1
            length = float(token.quarterLength or 0)
            total += length
            longest = max(longest, length)
    if notes == 0:
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this ABC file holds no notes")
    if notes > limits.max_notes:
        raise ScoreImportError(ImportFailure.TOO_MANY_NOTES,
                               f"{notes:,} notes; the limit is {limits.max_notes:,}")
    if longest > limits.max_note_quarters:
        raise ScoreImportError(ImportFailure.TOO_COMPLEX,
                               f"a note lasts {longest:,.0f} quarter notes; the limit is "
                               f"{limits.max_note_quarters}")
    if total > 4 * limits.max_measures:
        raise ScoreImportError(ImportFailure.TOO_MANY_MEASURES,
                               f"the tune lasts {total:,.0f} quarter notes, over "
                               f"{limits.max_measures:,} bars of 4/4")


# --- music21 -> schema -------------------------------------------------------------------------

_CLEFS = {
    "TrebleClef": "treble", "BassClef": "bass", "AltoClef": "alto", "TenorClef": "tenor",
    "Treble8vbClef": "treble8vb", "Treble8vaClef": "treble8va", "Bass8vbClef": "bass8vb",
    "PercussionClef": "percussion", "SopranoClef": "soprano",
    "MezzoSopranoClef": "mezzo-soprano", "CBaritoneClef": "baritone",
    "FBaritoneClef": "baritone",
}
_SLOPPY = Fraction(1, 32)  # a 128th note: the most a file's rounding may shift a length
_SHORTEST_REST = Fraction(1, 256)  # a 1024th note: MusicXML has no shorter note type
_ACCIDENTALS = {0: "", 1: "#", 2: "##", 3: "###", -1: "-", -2: "--", -3: "---"}


def _fraction(value: Any) -> Fraction:
    result = value if isinstance(value, Fraction) else Fraction(value)
    return result if result.denominator <= MAX_DENOMINATOR else result.limit_denominator(
        MAX_DENOMINATOR)


class Converter:
    """Map a music21 :class:`~music21.stream.Score` onto schema values, counting measures
    and notes against the limits as it goes."""

    def __init__(self, limits: ImportLimits = DEFAULT_LIMITS,
                 warnings: Counter[str] | None = None) -> None:
        self.limits = limits
        self.warnings: Counter[str] = warnings if warnings is not None else Counter()
        self.note_count = 0

    def convert(self, m21_score: Any) -> ScoreContent:
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
        if len(m21_parts) > self.limits.max_parts:
            raise ScoreImportError(ImportFailure.TOO_MANY_PARTS,
                                   f"{len(m21_parts)} parts; the limit is "
                                   f"{self.limits.max_parts}")
        measure_lists = [self._measures_of(p) for p in m21_parts]
        columns = max((len(ms) for ms in measure_lists), default=0)
        if columns > self.limits.max_measures:
            raise ScoreImportError(ImportFailure.TOO_MANY_MEASURES,
                                   f"{columns:,} measures; the limit is "
                                   f"{self.limits.max_measures:,}")
        parts = [self._part(p, i) for i, p in enumerate(m21_parts)]
        measures, shift = self._measures(measure_lists, columns)
        notes: list[Note] = []
        for part, part_measures in zip(parts, measure_lists, strict=True):
            for index, m21_measure in enumerate(part_measures):
                offset_shift = shift if index == 0 else Fraction(0)
                notes.extend(self._cell(m21_measure, measures[index].id, part.id, offset_shift))
        notes = self._clean_ties(measures, notes)
        metadata = m21_score.metadata
        meta = {
            "title": ((metadata.bestTitle if metadata is not None else None) or "")[:500],
            "composer": ((metadata.composer if metadata is not None else None) or "")[:500],
            "schema_version": SCHEMA_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        warnings = [message if count == 1 else f"{message} (x{count})"
                    for message, count in self.warnings.items()]
        return ScoreContent(meta, parts, measures, notes, warnings)

    # --- parts and measure columns -------------------------------------------------------------

    @staticmethod
    def _measures_of(m21_part: Any) -> list[Any]:
        from music21 import stream

        measures = list(m21_part.getElementsByClass(stream.Measure))
        if not measures and m21_part.notesAndRests:
            measures = list(m21_part.makeMeasures().getElementsByClass(stream.Measure))
        return measures

    def _part(self, m21_part: Any, index: int) -> Part:
        from music21 import clef

        instrument = m21_part.getInstrument(returnDefault=False)
        first_clef = m21_part.recurse().getElementsByClass(clef.Clef).first()
        clef_name = _CLEFS.get(type(first_clef).__name__) if first_clef is not None else None
        if first_clef is not None and clef_name is None:
            self.warnings[f"clef {type(first_clef).__name__} has no schema equivalent"] += 1
        name = (m21_part.partName or (instrument.instrumentName if instrument else None)
                or f"Part {index + 1}")
        program = instrument.midiProgram if instrument is not None else None
        instrument_name = instrument.instrumentName if instrument is not None else None
        return Part(
            id=new_id("p"),
            name=str(name)[:200],
            abbreviation=str(m21_part.partAbbreviation)[:50] if m21_part.partAbbreviation
            else None,
            instrument=str(instrument_name)[:200] if instrument_name else None,
            program=program if isinstance(program, int) and 0 <= program <= 127 else None,
            clef=clef_name if clef_name in CLEFS else None,
        )

    def _measures(self, measure_lists: list[list[Any]], columns: int
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
            repeat = ("both" if repeat_start and repeat_end else "start" if repeat_start
                      else "end" if repeat_end else None)
            if index > 0 and measures[-1].barline is None:
                left = self._barline_of(column, "leftBarline")
                if left is not None:
                    measures[-1] = Measure(**{**_measure_fields(measures[-1]), "barline": left})
            if index == 0 and new_time is None:
                new_time = DEFAULT_TIME  # what music21 and the document assume anyway
            measures.append(Measure(
                id=new_id("m"),
                time=new_time if new_time is not None and new_time != time else None,
                key=new_key if new_key is not None and new_key != key else None,
                tempo=self._tempo_of(column),
                barline=self._barline_of(column, "rightBarline"),
                repeat=repeat,
            ))
            time = new_time or time
            key = new_key or key
        shift = Fraction(0)
        if measures:
            shift, pickup = self._pickup(measure_lists, measures[0].time or "4/4")
            if pickup:
                measures[0] = Measure(**{**_measure_fields(measures[0]), "pickup": True})
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
                beat = _fraction(mark.referent.quarterLength) if mark.referent else Fraction(1)
                if beat <= 0:
                    beat = Fraction(1)
                return Tempo(int(bpm) if bpm.is_integer() else bpm, beat,
                             text[:200] if text else None)
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
            for element, offset in _notes_with_offsets(m21_measure):
                starts.append(offset)
                ends.append(offset + _fraction(element.quarterLength))
        if not ends:
            return Fraction(0), False
        padded = any((m.paddingLeft or 0) > 0 for m in firsts)
        shift = min(starts)
        pickup = padded or max(ends) - shift < bar_duration(time)
        return (shift, True) if pickup else (Fraction(0), False)

    # --- notes ---------------------------------------------------------------------------------

    def _cell(self, m21_measure: Any, measure_id: str, part_id: str, shift: Fraction
              ) -> list[Note]:
        from music21 import dynamics, stream

        notes: list[Note] = []
        containers: list[tuple[Any, int, Fraction]] = [(m21_measure, 1, Fraction(0))]
        for index, voice in enumerate(m21_measure.getElementsByClass(stream.Voice)):
            containers.append((voice, _voice_number(voice.id, index),
                               _fraction(m21_measure.elementOffset(voice))))
        marks: list[tuple[Fraction, str, int | None]] = []
        for container, voice_number, base in containers:
            in_voice = voice_number if container is not m21_measure else None
            raw_end: Fraction | None = None  # where the previous note ended, as music21 says
            fixed_end = Fraction(0)  # ... and after correcting sloppy durations
            for element in container:
                offset = base + _fraction(container.elementOffset(element)) - shift
                if isinstance(element, dynamics.Dynamic):
                    marks.append((offset, str(element.value), in_voice))
                    continue
                if not _is_note(element):
                    continue
                onset = fixed_end if offset == raw_end else offset
                if element.duration.isGrace:
                    length = None
                else:
                    length = self._notated_length(element)
                    raw_end = offset + _fraction(element.quarterLength)
                    fixed_end = onset + (length if length is not None else raw_end - offset)
                note = self._note(element, onset, voice_number, measure_id, part_id, length)
                if note is not None:
                    notes.append(note)
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
        length = _fraction(value.quarterLength)
        if length <= 0 or abs(length - _fraction(element.quarterLength)) > _SLOPPY:
            return None
        if length != _fraction(element.quarterLength):
            self.warnings["lengths rounded by the file's divisions were restored to their "
                          "written values"] += 1
        return length

    def _note(self, element: Any, offset: Fraction, voice: int, measure_id: str,
              part_id: str, length: Fraction | None = None) -> Note | None:
        from music21 import chord, note

        self.note_count += 1
        if self.note_count > self.limits.max_notes:
            raise ScoreImportError(ImportFailure.TOO_MANY_NOTES,
                                   f"more than {self.limits.max_notes:,} notes")
        grace = bool(element.duration.isGrace)
        duration = length if length is not None else _fraction(element.quarterLength)
        if grace:
            duration = _grace_duration(element)
        if duration <= 0:
            self.warnings["a note without duration was dropped"] += 1
            return None
        if isinstance(element, note.Rest) and duration < _SHORTEST_REST:
            self.warnings["rests shorter than a 1024th note were dropped"] += 1
            return None
        if duration > self.limits.max_note_quarters:
            raise ScoreImportError(ImportFailure.TOO_COMPLEX,
                                   f"a note lasts {float(duration):,.0f} quarter notes; "
                                   f"the limit is {self.limits.max_note_quarters}")
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
        lyric = element.lyric if pitches and isinstance(element.lyric, str) else None
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
            elif name not in ARTICULATIONS:
                self.warnings[f"articulation {name} has no schema equivalent; dropped"] += 1
        if any(isinstance(e, expressions.Fermata) for e in getattr(element, "expressions", [])):
            names.append("fermata")
        return tuple(names)

    def _clean_ties(self, measures: list[Measure], notes: list[Note]) -> list[Note]:
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
                forward = tie in ("start", "continue") and (
                    n.part, pitch, starts[n.measure] + n.end) in begins
                backward = tie in ("stop", "continue") and (
                    n.part, pitch, starts[n.measure] + n.onset) in ends
                ties.append("continue" if forward and backward else "start" if forward
                            else "stop" if backward else None)
            if tuple(ties) != n.ties[:len(ties)] + (None,) * (len(ties) - len(n.ties)):
                self.warnings["ties that join no note of the same pitch were removed"] += 1
            cleaned.append(replace(n, ties=tuple(ties) if any(ties) else ()))
        return cleaned

    def _attach_dynamic(self, notes: list[Note], offset: Fraction, value: str,
                        voice: int | None) -> None:
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


def _measure_fields(measure: Measure) -> dict[str, Any]:
    return {name: getattr(measure, name) for name in measure.__slots__}


def _repeat(barline: Any) -> str | None:
    direction = getattr(barline, "direction", None)
    return direction if isinstance(direction, str) else None


def _voice_number(voice_id: Any, index: int) -> int:
    try:
        number = int(voice_id)
    except (TypeError, ValueError):
        number = 0
    return number if 1 <= number <= 16 else min(index + 1, 16)


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
    length = max((offset + _fraction(element.quarterLength) for m21_measure in column
                  for element, offset in _notes_with_offsets(m21_measure)), default=Fraction(0))
    for denominator in (4, 8, 16, 32, 64):
        beats = length * denominator / 4
        if beats.denominator == 1 and 1 <= beats <= 99:
            return f"{beats.numerator}/{denominator}"
    return None


def _is_note(element: Any) -> bool:
    """Notes, chords and rests; chord symbols (a kind of chord in music21) are not notes."""
    from music21 import harmony, note

    return isinstance(element, note.GeneralNote) and not isinstance(element, harmony.Harmony)


def _notes_with_offsets(m21_measure: Any) -> list[tuple[Any, Fraction]]:
    from music21 import stream

    found: list[tuple[Any, Fraction]] = []
    containers = [(m21_measure, Fraction(0))] + [
        (v, _fraction(m21_measure.elementOffset(v)))
        for v in m21_measure.getElementsByClass(stream.Voice)]
    for container, base in containers:
        for element in container:
            if _is_note(element) and not element.duration.isGrace:
                found.append((element, base + _fraction(container.elementOffset(element))))
    return found


def _grace_duration(element: Any) -> Fraction:
    """The written value of a grace note (an eighth when music21 knows none)."""
    from music21 import duration

    kind = element.duration.type
    if kind in (None, "zero", "complex", "inexpressible"):
        return Fraction(1, 2)
    return _fraction(duration.Duration(type=kind, dots=element.duration.dots).quarterLength)


def _kebab(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", class_name).lower()


# --- writing the document ----------------------------------------------------------------------


def write_content(content: ScoreContent, into: ScoreDoc | None = None,
                  origin: Origin = IMPORT_ORIGIN) -> ScoreDoc:
    """Write converted content into a new (or the given empty) document in one
    transaction."""
    score = into if into is not None else ScoreDoc()
    with score.doc.transaction(origin=origin):
        score.meta.update(content.meta)
        for part in content.parts:
            score.parts.append(Map(part.to_json()))
        for measure in content.measures:
            score.measures.append(Map(measure.to_json()))
        for note in content.notes:
            score.notes[note.id] = note.to_json()
    return score


# --- the document's own JSON -------------------------------------------------------------------

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def import_json(data: bytes | str, *, limits: ImportLimits = DEFAULT_LIMITS,
                into: ScoreDoc | None = None) -> ScoreDoc:
    """Load a document exported as JSON (see :func:`score_model.exporter.export_json`).

    Every part, measure and note is decoded strictly against the schema and every note
    must point at an existing part and measure; ids are kept.
    """
    raw_bytes = data.encode() if isinstance(data, str) else bytes(data)
    check_size(raw_bytes, limits)
    if raw_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not JSON")
    try:
        raw = json.loads(raw_bytes)
    except json.JSONDecodeError as exc:
        truncated = _unclosed(raw_bytes)
        raise ScoreImportError(ImportFailure.TRUNCATED if truncated else ImportFailure.INVALID,
                               f"not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not JSON (not UTF-8)") from None
    except (RecursionError, ValueError) as exc:
        raise ScoreImportError(ImportFailure.INVALID, f"not valid JSON: {exc}") from None
    content, comments, chat = _decode_json(raw, limits)
    with_ids = ScoreContent(content.meta, content.parts, content.measures, content.notes)
    score = into if into is not None else ScoreDoc()
    with score.doc.transaction(origin=IMPORT_ORIGIN):
        write_content(with_ids, score)
        for comment_id, comment in comments.items():
            score.comments[comment_id] = comment
        for message in chat:
            score.chat.append(message)
    return score


def _unclosed(text: bytes) -> bool:
    """Does JSON text stop inside a string, an object or an array?"""
    depth, in_string, escaped = 0, False, False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return in_string or depth > 0


def _decode_json(raw: Any, limits: ImportLimits
                 ) -> tuple[ScoreContent, dict[str, Any], list[Any]]:
    def invalid(message: str) -> ScoreImportError:
        return ScoreImportError(ImportFailure.INVALID, message)

    if not isinstance(raw, dict) or not {"parts", "measures", "notes"} <= set(raw):
        raise ScoreImportError(ImportFailure.NOT_MUSIC,
                               "this JSON is not an Orpheus score (it needs parts, measures "
                               "and notes)")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise ScoreImportError(ImportFailure.UNSUPPORTED_FORMAT,
                               f"schema version {version!r} is newer than this server's "
                               f"({SCHEMA_VERSION})")
    meta_raw, parts_raw, measures_raw = raw.get("meta", {}), raw["parts"], raw["measures"]
    notes_raw, comments, chat = raw["notes"], raw.get("comments", {}), raw.get("chat", [])
    if not (isinstance(meta_raw, dict) and isinstance(parts_raw, list)
            and isinstance(measures_raw, list) and isinstance(notes_raw, dict)
            and isinstance(comments, dict) and isinstance(chat, list)):
        raise invalid("meta, notes and comments must be objects; parts, measures and chat "
                      "lists")
    if len(parts_raw) > limits.max_parts:
        raise ScoreImportError(ImportFailure.TOO_MANY_PARTS,
                               f"{len(parts_raw)} parts; the limit is {limits.max_parts}")
    if len(measures_raw) > limits.max_measures:
        raise ScoreImportError(ImportFailure.TOO_MANY_MEASURES,
                               f"{len(measures_raw):,} measures; the limit is "
                               f"{limits.max_measures:,}")
    if len(notes_raw) > limits.max_notes:
        raise ScoreImportError(ImportFailure.TOO_MANY_NOTES,
                               f"{len(notes_raw):,} notes; the limit is {limits.max_notes:,}")
    try:
        meta = Meta.from_json(meta_raw)
        parts = [Part.from_json(p) for p in parts_raw]
        measures = [Measure.from_json(m) for m in measures_raw]
        notes = []
        for note_id, value in notes_raw.items():
            if not _ID.match(note_id):
                raise SchemaError(f"note id {note_id!r} is not a short id")
            try:
                notes.append(Note.from_json(note_id, value))
            except SchemaError as exc:
                raise SchemaError(f"note {note_id}: {exc}") from None
    except SchemaError as exc:
        raise invalid(f"off-schema content: {exc}") from None
    for kind, ids in (("part", [p.id for p in parts]), ("measure", [m.id for m in measures])):
        if len(set(ids)) != len(ids):
            raise invalid(f"a {kind} id appears twice")
    part_ids, measure_ids = {p.id for p in parts}, {m.id for m in measures}
    for note in notes:
        if note.part not in part_ids or note.measure not in measure_ids:
            raise invalid(f"note {note.id} points at a part or measure that does not exist")
        if note.duration > limits.max_note_quarters:
            raise ScoreImportError(ImportFailure.TOO_COMPLEX,
                                   f"note {note.id} lasts {float(note.duration):,.0f} quarter "
                                   f"notes; the limit is {limits.max_note_quarters}")
    if not all(isinstance(k, str) and _ID.match(k) and isinstance(v, dict)
               for k, v in comments.items()):
        raise invalid("comments must map short ids to objects")
    if not all(isinstance(m, dict) for m in chat):
        raise invalid("chat must be a list of objects")
    meta_json: dict[str, Any] = {**meta.extra, "title": meta.title, "composer": meta.composer,
                                 "schema_version": SCHEMA_VERSION}
    if meta.created is not None:
        meta_json["created"] = meta.created
    if meta.tempo is not None:
        meta_json["tempo"] = meta.tempo.to_json()
    return ScoreContent(meta_json, parts, measures, notes), comments, chat
