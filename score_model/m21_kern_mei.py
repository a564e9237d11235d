"""Parse untrusted Humdrum ``**kern`` and MEI into music21, under the same guards as
MusicXML: size (checked by the caller), counts and note lengths before music21 runs, XML
through defusedxml (MEI), and the caller's time limit. Meant to run inside
:func:`score_model.limits.run_bounded`."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from score_model.limits import (
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_counts,
    check_note_length,
    parse_xml,
)

__all__ = ["MEI_NS", "looks_like_humdrum", "parse_humdrum", "parse_mei"]

MEI_NS = "{http://www.music-encoding.org/ns/mei}"
_EXCLUSIVE = re.compile(r"^\*\*[A-Za-z]", re.M)
_RECIP = re.compile(r"(\d+)(%\d+)?(\.*)")
_PITCH = re.compile(r"[A-Ga-gr]")


def looks_like_humdrum(head: bytes) -> bool:
    """Whether a file starts like Humdrum: reference records or comments, then an
    exclusive interpretation line holding ``**kern``."""
    for line in head.splitlines():
        if line.startswith(b"!") or not line.strip():
            continue
        return line.startswith(b"**") and b"**kern" in line
    return False


def _failure(fmt: str, exc: BaseException) -> ScoreImportError:
    message = str(exc).strip() or type(exc).__name__
    return ScoreImportError(
        ImportFailure.INVALID, f"music21 cannot read this {fmt} file: {message[:300]}"
    )


def parse_humdrum(data: bytes, limits: ImportLimits) -> Any:
    """A music21 score for a Humdrum file with ``**kern`` spines."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\x00" in text[:4096] or not _EXCLUSIVE.search(text) or "**kern" not in text:
        raise ScoreImportError(
            ImportFailure.NOT_MUSIC, "this is not Humdrum **kern (no **kern spine)"
        )
    _precheck_humdrum(text, limits)
    from music21.humdrum.spineParser import HumdrumDataCollection

    try:
        collection = HumdrumDataCollection(text)
        collection.parse()
        return collection.stream
    except Exception as exc:  # music21 raises many types on broken content
        raise _failure("Humdrum", exc) from None


def _precheck_humdrum(text: str, limits: ImportLimits) -> None:
    """Count spines, barlines and note tokens, and bound note lengths, from the text."""
    kern_spines = measures = notes = 0
    for line in text.splitlines():
        if not line or line.startswith("!"):
            continue
        if line.startswith("**"):
            kern_spines = max(kern_spines, line.count("**kern"))
            continue
        if line.startswith("*"):
            continue
        if line.startswith("="):
            measures += 1
            continue
        for token in line.split("\t"):
            for sub in token.split(" "):  # a chord: space-separated notes
                if sub in (".", "") or sub.startswith(("!", "*", "=")):
                    continue
                if not _PITCH.search(sub):
                    continue
                notes += 1
                check_note_length(_recip_quarters(sub), limits, "a **kern note")
    check_counts(limits, parts=kern_spines)
    check_counts(limits, measures=measures)
    check_counts(limits, notes=notes)


def _recip_quarters(token: str) -> Fraction:
    """The length of a ``**kern`` token in quarter notes (0: breve, 00: long...)."""
    found = _RECIP.search(token)
    if found is None:
        return Fraction(0)
    digits, ratio, dots = found.groups()
    if set(digits) == {"0"}:
        base = Fraction(8 * 2 ** (len(digits) - 1))
    else:
        number = Fraction(int(digits))
        if ratio:
            number /= int(ratio[1:]) or 1
        base = Fraction(4) / number if number else Fraction(0)
    return base * (2 - Fraction(1, 2 ** len(dots)))


def _positive_int(text: str | None) -> int:
    try:
        return max(0, int((text or "0").strip()))
    except ValueError:
        return 0


def parse_mei(data: bytes, limits: ImportLimits) -> Any:
    """A music21 score for an MEI document, parsed by defusedxml (no entities)."""
    root = parse_xml(data, "MEI")
    if root.tag != f"{MEI_NS}mei":
        tag = root.tag.rsplit("}", 1)[-1]
        raise ScoreImportError(
            ImportFailure.NOT_MUSIC, f"this XML is not MEI (its root element is <{tag}>)"
        )
    if root.find(f".//{MEI_NS}music//{MEI_NS}score") is None:
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this MEI file holds no <score>")
    check_counts(limits, parts=len({s.get("n") for s in root.iter(f"{MEI_NS}staffDef")}))
    rests = sum(_positive_int(e.get("num")) for e in root.iter(f"{MEI_NS}multiRest"))
    check_counts(limits, measures=sum(1 for _ in root.iter(f"{MEI_NS}measure")) + rests)
    check_counts(
        limits,
        notes=sum(
            1 for e in root.iter() if e.tag in (f"{MEI_NS}note", f"{MEI_NS}rest", f"{MEI_NS}chord")
        ),
    )
    from music21.mei.base import MeiToM21Converter

    converter = MeiToM21Converter()  # empty: music21 never parses the text itself
    converter.documentRoot = root
    try:
        return converter.run()
    except Exception as exc:
        raise _failure("MEI", exc) from None
