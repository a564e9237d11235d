"""Import a score file (MusicXML, MXL, MIDI, ABC, Humdrum ``**kern``, MEI or the
document's own JSON) into a new :class:`ScoreDoc`: the public entry points and format
detection.

The bytes go through the safe readers of :mod:`score_model.limits` first, then music21
parses them (:mod:`score_model.m21_parse`) in a bounded worker thread and
:class:`~score_model.m21_convert.Converter` maps the music21 score onto schema values;
the document's own JSON is read by :mod:`score_model.json_codec`. The document is written
in one transaction with origin ``server:import``. Every failure is a
:class:`ScoreImportError` with a ``reason``; ``docs/formats.md`` says what survives each
format.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from score_model.content import IMPORT_ORIGIN, ScoreContent, write_content
from score_model.document import ScoreDoc
from score_model.json_codec import import_json
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_size,
    run_bounded,
)
from score_model.m21_convert import Converter
from score_model.m21_kern_mei import looks_like_humdrum
from score_model.m21_parse import looks_binary, parse_score

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

FORMATS = ("musicxml", "mxl", "midi", "abc", "humdrum", "mei", "json")
_ALIASES = {
    "musicxml": "musicxml",
    "xml": "musicxml",
    "mxl": "mxl",
    "midi": "midi",
    "mid": "midi",
    "abc": "abc",
    "humdrum": "humdrum",
    "kern": "humdrum",
    "krn": "humdrum",
    "mei": "mei",
    "json": "json",
}
_EXTENSIONS = {
    ".musicxml": "musicxml",
    ".xml": "musicxml",
    ".mxl": "mxl",
    ".mid": "midi",
    ".midi": "midi",
    ".abc": "abc",
    ".krn": "humdrum",
    ".mei": "mei",
    ".json": "json",
}
_MEI_ROOT = re.compile(rb"<mei[\s>]")
_ABC_FIELD = re.compile(rb"^[XTMLKQC]:", re.M)


@dataclass
class ImportReport:
    """The imported document, the format it came from and what was approximated."""

    score: ScoreDoc
    format: str
    warnings: list[str]


# --- public API --------------------------------------------------------------------------------


def import_score(
    data: bytes,
    filename: str | None = None,
    format: str | None = None,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    into: ScoreDoc | None = None,
) -> ScoreDoc:
    """Import a score file into a new document (or into the empty document ``into``).

    ``format`` (``musicxml``, ``xml``, ``mxl``, ``midi``, ``abc``, ``humdrum`` or ``krn``,
    ``mei``, ``json``) wins over
    content sniffing, which wins over the extension of ``filename``. Raises
    :class:`ScoreImportError`.
    """
    return import_score_report(data, filename, format, limits=limits, into=into).score


def import_score_report(
    data: bytes,
    filename: str | None = None,
    format: str | None = None,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    into: ScoreDoc | None = None,
) -> ImportReport:
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
    content = run_bounded(
        lambda: _parse_and_convert(data, fmt, limits),
        limits.parse_seconds,
        f"reading this {fmt} file",
    )
    score = write_content(content, into)
    return ImportReport(score, fmt, content.warnings)


def detect_format(data: bytes, filename: str | None = None, format: str | None = None) -> str:
    """Name the format of a file: the explicit ``format``, else the content, else the
    file name's extension."""
    if format is not None:
        fmt = _ALIASES.get(format.lower().lstrip("."))
        if fmt is None:
            raise ScoreImportError(
                ImportFailure.UNSUPPORTED_FORMAT,
                f"format {format!r} is not one of {', '.join(FORMATS)}",
            )
        return fmt
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    extension = ""
    if filename and "." in filename:
        extension = "." + filename.rsplit(".", 1)[-1].lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    if extension and not looks_binary(data):
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT,
            f"{extension} files are not supported; import MusicXML, MXL, "
            "MIDI, ABC, Humdrum, MEI or Orpheus JSON",
        )
    raise ScoreImportError(
        ImportFailure.NOT_MUSIC,
        "this is not a score file (expected MusicXML, MXL, MIDI, ABC, "
        "Humdrum, MEI or Orpheus JSON)",
    )


def _sniff(data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "mxl"
    if head.startswith(b"MThd"):
        return "midi"
    if head.startswith(b"<"):
        return "mei" if _MEI_ROOT.search(head) else "musicxml"
    if looks_like_humdrum(head):
        return "humdrum"
    if head.startswith(b"{"):
        return "json"
    if not looks_binary(head) and _ABC_FIELD.search(head) and re.search(rb"^K:", data, re.M):
        return "abc"
    return None


def _parse_and_convert(data: bytes, fmt: str, limits: ImportLimits) -> ScoreContent:
    warnings: Counter[str] = Counter()
    return Converter(limits, warnings).convert(parse_score(data, fmt, limits, warnings))
