"""Parse untrusted MusicXML, MIDI and ABC into music21, counting what the raw file holds
against the limits before music21 builds anything (its work grows with the number of
notes and bars). Meant to run inside :func:`score_model.limits.run_bounded`."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from typing import Any

from score_model.limits import (
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_counts,
    check_note_length,
    parse_xml,
    read_mxl,
)
from score_model.m21_kern_mei import parse_humdrum, parse_mei

__all__ = ["looks_binary", "parse_abc", "parse_midi", "parse_musicxml", "parse_score"]


def parse_score(data: bytes, fmt: str, limits: ImportLimits, warnings: Counter[str]) -> Any:
    """A music21 score (or opus) for a file in ``fmt`` (``musicxml``, ``mxl``, ``midi``,
    ``abc``, ``humdrum`` or ``mei``); what had to be approximated is counted in
    ``warnings``."""
    if fmt == "musicxml":
        return parse_musicxml(data, limits, warnings)
    if fmt == "mxl":
        return parse_musicxml(read_mxl(data, limits), limits, warnings)
    if fmt == "midi":
        return parse_midi(data, limits)
    if fmt == "humdrum":
        return parse_humdrum(data, limits)
    if fmt == "mei":
        return parse_mei(data, limits)
    return parse_abc(data, limits, warnings)


def looks_binary(data: bytes) -> bool:
    """Whether the file's head holds a NUL byte (no text format does)."""
    return b"\x00" in data[:4096]


def _music21_failure(fmt: str, exc: Exception) -> ScoreImportError:
    message = str(exc).strip() or type(exc).__name__
    return ScoreImportError(
        ImportFailure.INVALID, f"music21 cannot read this {fmt} file: {message[:300]}"
    )


def parse_musicxml(data: bytes, limits: ImportLimits, warnings: Counter[str] | None = None) -> Any:
    """A music21 score for partwise MusicXML, read safely and counted before music21
    runs. Chord symbols music21 rejects are dropped and counted in ``warnings``."""
    root = parse_xml(data)
    tag = root.tag.rsplit("}", 1)[-1]
    if tag == "score-timewise":
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT,
            "timewise MusicXML is not supported; export it as partwise",
        )
    if tag != "score-partwise":
        raise ScoreImportError(
            ImportFailure.NOT_MUSIC, f"this XML is not MusicXML (its root element is <{tag}>)"
        )
    _precheck_musicxml(root, limits)
    from music21.musicxml import xmlToM21

    _drop_rejected_harmonies(root, warnings if warnings is not None else Counter())

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
    check_counts(limits, parts=len(parts))
    check_counts(limits, measures=max(len(part.findall("measure")) for part in parts))
    check_counts(limits, notes=sum(1 for _ in root.iter("note")))
    for part in parts:
        divisions = Fraction(1)
        for measure in part.iter("measure"):
            for element in measure:
                if element.tag == "attributes":
                    text = element.findtext("divisions")
                    divisions = _positive_fraction(text) or divisions
                elif element.tag in ("note", "forward", "backup"):
                    ticks = _positive_fraction(element.findtext("duration"))
                    if ticks is not None:
                        check_note_length(ticks / divisions, limits, f"a <{element.tag}>")


def _drop_rejected_harmonies(root: Any, warnings: Counter[str]) -> None:
    """Remove the ``<harmony>`` elements music21 cannot read, so the rest imports.

    MuseScore and OpenScore write Roman numerals as ``<function>G.I</function>`` (key and
    numeral), which music21 takes for a pitch and refuses the whole file over. Each
    element is tried alone, the way music21's measure parser would read it.
    """
    from music21.musicxml.xmlToM21 import MeasureParser

    reader = MeasureParser()
    dropped: list[str] = []
    for measure in root.iter("measure"):
        for element in measure.findall("harmony"):
            try:
                reader.xmlToChordSymbol(element)
            except (Exception, RecursionError) as exc:
                measure.remove(element)
                dropped.append(
                    (
                        element.findtext("function")
                        or element.findtext("root/root-step")
                        or type(exc).__name__
                    ).strip()
                )
    if dropped:
        warnings[
            "chord symbols or Roman numerals music21 cannot read were dropped "
            f"(such as {dropped[0]!r})"
        ] += len(dropped)


def _positive_fraction(text: str | None) -> Fraction | None:
    try:
        value = Fraction((text or "").strip())
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def parse_midi(data: bytes, limits: ImportLimits) -> Any:
    """A music21 score for a standard MIDI file (SMPTE timing is refused)."""
    from music21 import midi
    from music21.midi import translate

    if not data.startswith(b"MThd"):
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not a MIDI file (no MThd header)")
    if len(data) >= 14 and data[12] & 0x80:
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT, "SMPTE-timed MIDI files are not supported"
        )
    midi_file = midi.MidiFile()
    try:
        midi_file.readstr(data)
    except Exception as exc:
        truncated = isinstance(exc, IndexError) or "MTrk" in str(exc)
        raise ScoreImportError(
            ImportFailure.TRUNCATED if truncated else ImportFailure.INVALID,
            f"this MIDI file cannot be read: {exc}",
        ) from None
    if midi_file.ticksPerSecond:
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT, "SMPTE-timed MIDI files are not supported"
        )
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
    check_counts(limits, notes=notes)
    if end / per_quarter > 4 * limits.max_measures:
        raise ScoreImportError(
            ImportFailure.TOO_MANY_MEASURES,
            f"the piece lasts {end / per_quarter:,.0f} quarter notes, over "
            f"{limits.max_measures:,} bars of 4/4",
        )


def parse_abc(data: bytes, limits: ImportLimits, warnings: Counter[str]) -> Any:
    """A music21 score for ABC notation: the first tune of a file that holds several."""
    from music21 import abcFormat, stream
    from music21.abcFormat import translate

    if looks_binary(data) or not re.search(rb"^K:", data, re.M):
        raise ScoreImportError(
            ImportFailure.NOT_MUSIC, "this is not ABC notation (no K: header field)"
        )
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
            warnings[f"the ABC file holds {len(tunes)} tunes; imported the first (X:{number})"] += 1
            handler = tunes[number]
    except Exception as exc:
        raise ScoreImportError(
            ImportFailure.INVALID, f"this ABC file cannot be read: {exc}"
        ) from None
    _close_spans_around_tuplets(handler)
    _precheck_abc(handler, limits)
    score = stream.Score()
    try:
        translate.abcToStreamScore(handler, score)
    except Exception as exc:
        raise _music21_failure("ABC", exc) from None
    return score


def _close_spans_around_tuplets(handler: Any) -> None:
    """Give each note the slurs and hairpins it lies in, counting only their own brackets.

    music21's ABC reader opens a bracket for a tuplet (``(3``, which ABC never closes), so
    the ``)`` of a slur around a triplet, ``((3gfg)``, closes the tuplet instead and the
    slur runs on to the end of the tune.
    """
    from music21 import abcFormat

    open_spans: list[Any] = []
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCMetadata) and token.isReferenceNumber():
            open_spans = []
        elif isinstance(token, abcFormat.ABCSlurStart):
            open_spans.append(token.slurObj)
        elif isinstance(token, abcFormat.ABCCrescStart):
            open_spans.append(token.crescObj)
        elif isinstance(token, abcFormat.ABCDimStart):
            open_spans.append(token.dimObj)
        elif isinstance(token, abcFormat.ABCParenStop):
            if open_spans:
                open_spans.pop()
        elif isinstance(token, abcFormat.ABCNote):  # chords too
            token.applicableSpanners = [span for span in open_spans if span is not None]


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
    check_counts(limits, notes=notes)
    check_note_length(longest, limits)
    if total > 4 * limits.max_measures:
        raise ScoreImportError(
            ImportFailure.TOO_MANY_MEASURES,
            f"the tune lasts {total:,.0f} quarter notes, over {limits.max_measures:,} bars of 4/4",
        )
