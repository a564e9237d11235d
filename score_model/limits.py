"""Import limits, the import error, and safe reading of untrusted score files.

Everything a user uploads is hostile until proven otherwise. This module holds the
checks that run *before* music21 sees a byte:

* :func:`check_size` bounds the raw input; :func:`check_counts` and
  :func:`check_note_length` bound what a file holds (the conversion uses them too);
* :func:`parse_xml` parses XML with defusedxml (no entity declarations, no external
  references) and tells a truncated file from one that is not XML at all;
* :func:`read_mxl` inspects a compressed MusicXML archive (member count, declared and
  actual uncompressed size, compression ratio) before reading its root file, found
  through ``META-INF/container.xml``;
* :func:`run_bounded` runs a parse in a worker thread with a time limit and cancels it
  when the limit passes.
"""

from __future__ import annotations

import ctypes
import io
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, EntitiesForbidden

T = TypeVar("T")

MiB = 1 << 20


class ImportFailure(StrEnum):
    """Why an import was refused (the ``reason`` of a :class:`ScoreImportError`)."""

    NOT_MUSIC = "not_music"  # empty, random bytes, an image...
    TRUNCATED = "truncated"  # the file stops in the middle
    INVALID = "invalid"  # the right format, but broken content
    ENTITY_EXPANSION = "entity_expansion"  # XML entity declarations (billion laughs)
    EXTERNAL_ENTITY = "external_entity"  # XML entities pointing at files or URLs
    ZIP_BOMB = "zip_bomb"  # an archive that unpacks to far more than it weighs
    TOO_LARGE = "too_large"  # raw or unpacked bytes over the limit
    TOO_MANY_PARTS = "too_many_parts"
    TOO_MANY_MEASURES = "too_many_measures"
    TOO_MANY_NOTES = "too_many_notes"
    TOO_COMPLEX = "too_complex"  # parse time limit, or notes absurdly long
    UNSUPPORTED_FORMAT = "unsupported_format"


class ScoreImportError(ValueError):
    """A score file that cannot be imported; ``reason`` says why in one word."""

    def __init__(self, reason: ImportFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.args[0]}"


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds on what an import may cost. Defaults suit a large orchestral score."""

    max_bytes: int = 16 * MiB  # raw upload, any format
    max_unpacked_bytes: int = 64 * MiB  # all members of an MXL archive, uncompressed
    max_compression_ratio: int = 100  # per MXL member: uncompressed / compressed size
    max_archive_members: int = 64
    max_parts: int = 64
    max_measures: int = 5_000  # measure columns
    max_notes: int = 100_000  # notes, chords and rests, all parts together
    max_note_quarters: int = 256  # longest single note or rest, in quarter notes
    parse_seconds: float = 30.0  # wall-clock bound on music21's parse plus conversion


DEFAULT_LIMITS = ImportLimits()

# expat error codes that mean "the input stopped early"
_XML_NO_ELEMENTS = 3
_XML_UNCLOSED_TOKEN = 5
_XML_PARTIAL_CHAR = 6
_XML_UNCLOSED_CDATA = 20


def check_size(data: bytes, limits: ImportLimits) -> None:
    """Refuse empty input and input over ``limits.max_bytes``."""
    if len(data) > limits.max_bytes:
        raise ScoreImportError(
            ImportFailure.TOO_LARGE,
            f"the file is {len(data):,} bytes; the limit is {limits.max_bytes:,}",
        )
    if not data.strip():
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "the file is empty")


def check_counts(
    limits: ImportLimits,
    *,
    parts: int | None = None,
    measures: int | None = None,
    notes: int | None = None,
) -> None:
    """Refuse more parts, measure columns or notes than ``limits`` allow (checked in that
    order; a count left out is not checked)."""
    if parts is not None and parts > limits.max_parts:
        raise ScoreImportError(
            ImportFailure.TOO_MANY_PARTS, f"{parts} parts; the limit is {limits.max_parts}"
        )
    if measures is not None and measures > limits.max_measures:
        raise ScoreImportError(
            ImportFailure.TOO_MANY_MEASURES,
            f"{measures:,} measures; the limit is {limits.max_measures:,}",
        )
    if notes is not None and notes > limits.max_notes:
        raise ScoreImportError(
            ImportFailure.TOO_MANY_NOTES, f"{notes:,} notes; the limit is {limits.max_notes:,}"
        )


def check_note_length(
    quarters: Fraction | float, limits: ImportLimits, what: str = "a note"
) -> None:
    """Refuse a note (or the ``what`` named) longer than ``limits.max_note_quarters``."""
    if quarters > limits.max_note_quarters:
        raise ScoreImportError(
            ImportFailure.TOO_COMPLEX,
            f"{what} lasts {float(quarters):,.0f} quarter notes; the limit "
            f"is {limits.max_note_quarters}",
        )


def parse_xml(data: bytes, what: str = "MusicXML") -> Element:
    """Parse untrusted XML: DOCTYPE declarations are allowed (every MusicXML file has
    one, and expat never fetches it) but entity declarations and external references
    are refused."""
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden as exc:
        if exc.sysid or exc.pubid:
            raise ScoreImportError(
                ImportFailure.EXTERNAL_ENTITY,
                f"{what} declares an external entity {exc.name!r} ({exc.sysid or exc.pubid}); "
                "external references are never resolved",
            ) from None
        raise ScoreImportError(
            ImportFailure.ENTITY_EXPANSION,
            f"{what} declares the entity {exc.name!r}; entity declarations are refused "
            "(they allow 'billion laughs' expansion)",
        ) from None
    except DefusedXmlException as exc:  # external reference, DTD feature
        raise ScoreImportError(
            ImportFailure.EXTERNAL_ENTITY, f"{what} uses a forbidden XML feature: {exc}"
        ) from None
    except ParseError as exc:
        code = getattr(exc, "code", None)
        if data.strip() and code in (
            _XML_NO_ELEMENTS,
            _XML_UNCLOSED_TOKEN,
            _XML_PARTIAL_CHAR,
            _XML_UNCLOSED_CDATA,
        ):
            raise ScoreImportError(
                ImportFailure.TRUNCATED, f"{what} ends in the middle ({exc})"
            ) from None
        if data.lstrip()[:1] == b"<" or data.lstrip().startswith(b"\xef\xbb\xbf<"):
            raise ScoreImportError(
                ImportFailure.INVALID, f"{what} is not well-formed XML ({exc})"
            ) from None
        raise ScoreImportError(ImportFailure.NOT_MUSIC, f"this is not {what} ({exc})") from None
    except ValueError as exc:  # e.g. an unknown encoding declaration
        raise ScoreImportError(ImportFailure.INVALID, f"{what} cannot be decoded: {exc}") from None


MXL_CONTAINER = "META-INF/container.xml"  # where an MXL archive names its score


def read_mxl(data: bytes, limits: ImportLimits) -> bytes:
    """Return the root MusicXML document of a compressed ``.mxl`` archive, after checking
    that the archive cannot unpack into more than the limits allow."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        reason = ImportFailure.TRUNCATED if data[:4] == b"PK\x03\x04" else ImportFailure.NOT_MUSIC
        raise ScoreImportError(reason, f"not a readable MXL (zip) archive: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_archive_members:
            raise ScoreImportError(
                ImportFailure.ZIP_BOMB,
                f"the archive holds {len(members)} files; the limit is "
                f"{limits.max_archive_members}",
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_unpacked_bytes:
            raise ScoreImportError(
                ImportFailure.ZIP_BOMB,
                f"the archive unpacks to {total:,} bytes; the limit is "
                f"{limits.max_unpacked_bytes:,}",
            )
        for member in members:
            if member.file_size > limits.max_compression_ratio * max(member.compress_size, 1024):
                ratio = member.file_size // max(member.compress_size, 1)
                raise ScoreImportError(
                    ImportFailure.ZIP_BOMB,
                    f"{member.filename} is compressed {ratio:,} to 1; the limit is "
                    f"{limits.max_compression_ratio} to 1",
                )
        names = {m.filename: m for m in members}
        root_name = _root_file(archive, names, limits)
        if root_name not in names:
            raise ScoreImportError(
                ImportFailure.INVALID,
                f"the archive names {root_name!r} as its score, but has no such file",
            )
        return _read_member(archive, names[root_name], limits)


def _root_file(
    archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], limits: ImportLimits
) -> str:
    if MXL_CONTAINER in names:
        container = parse_xml(
            _read_member(archive, names[MXL_CONTAINER], limits), "META-INF/container.xml"
        )
        rootfiles = [el for el in container.iter() if el.tag.rsplit("}", 1)[-1] == "rootfile"]
        preferred = [el for el in rootfiles if "musicxml" in (el.get("media-type") or "musicxml")]
        for element in preferred or rootfiles:
            path = element.get("full-path")
            if path:
                return path
        raise ScoreImportError(ImportFailure.INVALID, "META-INF/container.xml names no root file")
    candidates = [
        n
        for n in names
        if not n.startswith("META-INF/") and n.lower().endswith((".xml", ".musicxml"))
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise ScoreImportError(
        ImportFailure.INVALID,
        "the archive has no META-INF/container.xml and not exactly one MusicXML file",
    )


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: ImportLimits) -> bytes:
    """Read one member, counting real output: a header may lie about the size."""
    cap = min(member.file_size, limits.max_unpacked_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > cap:
                    raise ScoreImportError(
                        ImportFailure.ZIP_BOMB,
                        f"{member.filename} unpacks to more than it declares",
                    )
                chunks.append(chunk)
    except ScoreImportError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise ScoreImportError(
            ImportFailure.TRUNCATED, f"{member.filename} cannot be unpacked: {exc}"
        ) from None
    except (NotImplementedError, RuntimeError) as exc:  # compression method, encryption
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT, f"{member.filename}: {exc}"
        ) from None
    return b"".join(chunks)


class ParseCancelled(BaseException):
    """Raised inside a worker thread whose time is up (a BaseException, so that the broad
    ``except Exception`` blocks inside music21 do not swallow it)."""


def run_bounded(task: Callable[[], T], seconds: float, what: str = "the parse") -> T:
    """Run ``task`` in a worker thread for at most ``seconds``.

    When the time is up the thread is cancelled (an asynchronous :class:`ParseCancelled`
    lands at its next Python bytecode; music21 is pure Python) and
    :class:`ScoreImportError` ``too_complex`` is raised. Exceptions from the task are
    re-raised in the caller.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = task()
        except ParseCancelled:
            outcome["cancelled"] = True
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="orpheus-import", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        assert worker.ident is not None
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident), ctypes.py_object(ParseCancelled)
        )
        worker.join(5.0)
        raise ScoreImportError(
            ImportFailure.TOO_COMPLEX, f"{what} took longer than {seconds:g} s and was stopped"
        )
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    if "cancelled" in outcome:  # the limit passed just as the task ended
        raise ScoreImportError(
            ImportFailure.TOO_COMPLEX, f"{what} took longer than {seconds:g} s and was stopped"
        )
    return outcome["value"]  # type: ignore[return-value]
