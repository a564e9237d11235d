"""Export a score document: MusicXML, compressed MXL, MIDI, engraved SVG and PDF, or the
document's own JSON.

MusicXML and MXL are written from the document directly (:mod:`score_model.musicxml`,
strings, no music21 projection), as MIDI is (:mod:`score_model.midi_writer`, with mido);
:func:`musicxml_report` keeps the earlier path (the music21 projection, our notation pass
and music21's writer) as the benchmarks' baseline. SVG and PDF are that MusicXML
engraved by Verovio (:mod:`score_model.engrave`); JSON is the document's
containers as they are (ids included), written by
:func:`score_model.json_codec.export_json` and readable back with
:func:`score_model.json_codec.import_json`. See ``docs/formats.md`` for what each format
keeps.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any, Literal

from score_model.document import ScoreData, ScoreDoc
from score_model.engrave import EngraveOptions, engrave
from score_model.export_error import ExportError
from score_model.json_codec import export_json
from score_model.limits import MXL_CONTAINER
from score_model.midi_writer import write_midi
from score_model.musicxml import write_musicxml

__all__ = [
    "CONTENT_TYPES",
    "EXPORT_FORMATS",
    "MXL_ROOT",
    "EngraveOptions",
    "ExportError",
    "ExportFormat",
    "ExportedFile",
    "export_json",
    "export_score",
    "midi_bytes",
    "musicxml_bytes",
    "musicxml_report",
    "mxl_bytes",
]

ExportFormat = Literal["musicxml", "mxl", "midi", "json", "svg", "pdf"]

CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "musicxml": ("application/vnd.recordare.musicxml+xml", "musicxml"),
    "mxl": ("application/vnd.recordare.musicxml", "mxl"),
    "midi": ("audio/midi", "mid"),
    "json": ("application/json", "json"),
    "svg": ("image/svg+xml", "svg"),
    "pdf": ("application/pdf", "pdf"),
}
EXPORT_FORMATS: tuple[str, ...] = tuple(CONTENT_TYPES)
MXL_ROOT = "score.musicxml"
_CONTAINER_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<container>\n"
    "  <rootfiles>\n"
    f'    <rootfile full-path="{MXL_ROOT}" media-type="application/vnd.recordare.musicxml+xml"/>\n'
    "  </rootfiles>\n"
    "</container>\n"
)


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """An exported file: its bytes, HTTP content type and usual file extension."""

    data: bytes
    content_type: str
    extension: str
    pages: int | None = None  # engraved formats: the number of pages of the score
    warnings: tuple[str, ...] = ()  # what had to be approximated


def export_score(
    score: ScoreDoc | ScoreData,
    fmt: ExportFormat | str,
    *,
    engraving: EngraveOptions | None = None,
    page: int = 1,
) -> ExportedFile:
    """Write a score in ``fmt`` (``musicxml``, ``mxl``, ``midi``, ``json``, ``svg`` or
    ``pdf``).

    JSON needs the :class:`ScoreDoc` (it carries comments and chat); the other formats
    accept decoded :class:`ScoreData` too. ``svg`` is page ``page`` (from 1) and ``pdf``
    every page, engraved by Verovio with ``engraving`` (page size and scale; see
    :mod:`score_model.engrave`). Raises :class:`ExportError`.
    """
    if fmt not in CONTENT_TYPES:
        raise ExportError(f"cannot export {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    content_type, extension = CONTENT_TYPES[fmt]
    if fmt == "json":
        if not isinstance(score, ScoreDoc):
            raise ExportError("JSON export needs the document, not decoded data")
        return ExportedFile(export_json(score), content_type, extension)
    data = score.read() if isinstance(score, ScoreDoc) else score
    if fmt == "midi":
        return ExportedFile(write_midi(data), content_type, extension)
    if not data.parts or not data.measures:
        raise ExportError("MusicXML needs at least one part and one measure")
    payload, warnings = write_musicxml(data)
    if fmt == "mxl":
        payload = mxl_bytes(payload)
    elif fmt in ("svg", "pdf"):
        pages = engrave(payload, engraving)
        payload = pages.svg(page).encode("utf-8") if fmt == "svg" else pages.pdf()
        return ExportedFile(payload, content_type, extension, pages.count, tuple(warnings))
    return ExportedFile(payload, content_type, extension, warnings=tuple(warnings))


def musicxml_bytes(m21_score: Any) -> bytes:
    """MusicXML (UTF-8) for a projected music21 score, through music21's exporter (the
    earlier export path; :func:`export_score` writes from the document instead).

    The score is changed in place (notation is added to it): pass a fresh projection.
    """
    return musicxml_report(m21_score)[0]


def musicxml_report(m21_score: Any) -> tuple[bytes, list[str]]:
    """:func:`musicxml_bytes` and the approximations it made (lengths rounded): the
    music21 path, for a score from ``project_score(data, staves=True)``."""
    from music21.musicxml.m21ToXml import ScoreExporter

    from score_model.notation import indexed_spanners, make_notation  # imports music21

    try:
        warnings = make_notation(m21_score)
        exporter = ScoreExporter(m21_score, makeNotation=False)
        exporter.spannerBundle = indexed_spanners(m21_score)  # what GeneralObjectExporter
        exporter.parse()  # does for a score without makeNotation, with spanners indexed
        return bytes(exporter.asBytes()), warnings
    except Exception as exc:  # music21 raises many types on odd content
        raise ExportError(f"music21 cannot write this score as MusicXML: {exc}") from exc


def mxl_bytes(musicxml: bytes) -> bytes:
    """A compressed MusicXML archive: ``mimetype``, ``META-INF/container.xml`` and the
    score, as the MusicXML 3+ specification lays it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", CONTENT_TYPES["mxl"][0], compress_type=zipfile.ZIP_STORED)
        archive.writestr(MXL_CONTAINER, _CONTAINER_XML, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(MXL_ROOT, musicxml, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def midi_bytes(m21_score: Any) -> bytes:
    """A standard MIDI file (type 1) for a music21 score through music21's own writer
    (slow on large scores; :func:`export_score` uses :mod:`score_model.midi_writer`)."""
    from music21.midi import translate

    try:
        return bytes(translate.streamToMidiFile(m21_score).writestr())
    except Exception as exc:
        raise ExportError(f"music21 cannot write this score as MIDI: {exc}") from exc
