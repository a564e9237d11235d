"""Chord symbols (schema version 4) to and from music21's :class:`~music21.harmony.ChordSymbol`:
root, kind, bass, degrees and the kind's text as written.

MusicXML names a few kinds differently from music21 (``dominant`` is music21's
``dominant-seventh``); the schema keeps MusicXML's names. Roman numerals and other
harmony music21 reads are not chord symbols and are left out here.

music21 is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from typing import Any

from score_model.m21_notes import to_fraction
from score_model.schema import (
    CHORD_KIND_ALIASES,
    CHORD_KINDS,
    MAX_CHORD_SYMBOLS,
    ChordSymbol,
    SchemaError,
)

__all__ = ["build_chord_symbol", "chord_symbols_of"]

# music21's kind names whose MusicXML name differs (music21's CHORD_ALIASES, inverted)
_TO_MUSICXML = CHORD_KIND_ALIASES
_TO_MUSIC21 = {v: k for k, v in _TO_MUSICXML.items()}


def chord_symbols_of(
    m21_measure: Any, part_id: str, shift: Fraction, warnings: Counter[str]
) -> list[ChordSymbol]:
    """The chord symbols of one music21 measure of a part (all its voices), onsets moved
    back by ``shift`` (a pickup's leading space)."""
    from music21 import harmony, stream

    containers = [m21_measure, *m21_measure.getElementsByClass(stream.Voice)]
    if not any(isinstance(e, harmony.ChordSymbol) for c in containers for e in c._elements):
        return []  # most measures: no iterator over the measure's tree
    found: list[ChordSymbol] = []
    for element in m21_measure.recurse().getElementsByClass(harmony.ChordSymbol):
        onset = max(Fraction(0), to_fraction(element.getOffsetInHierarchy(m21_measure)) - shift)
        try:
            symbol = _symbol(element, part_id, onset, warnings)
        except Exception:  # music21 raises several types on chord symbols it half-read
            warnings["a chord symbol music21 could not read was dropped"] += 1
            continue
        if symbol is not None:
            found.append(symbol)
    if len(found) > MAX_CHORD_SYMBOLS:
        warnings[f"more than {MAX_CHORD_SYMBOLS} chord symbols in a measure; dropped"] += 1
        found = found[:MAX_CHORD_SYMBOLS]
    return sorted(found, key=lambda c: c.onset)


def _symbol(
    element: Any, part_id: str, onset: Fraction, warnings: Counter[str]
) -> ChordSymbol | None:
    from music21 import harmony

    text = element.chordKindStr if isinstance(element.chordKindStr, str) else None
    text = text[:100] if text else None
    if isinstance(element, harmony.NoChord):
        return ChordSymbol(part_id, onset, None, "none", text=text or None)
    root = element.root()
    if root is None:
        warnings["a chord symbol without a root was dropped"] += 1
        return None
    kind = _TO_MUSICXML.get(element.chordKind, element.chordKind)
    if kind not in CHORD_KINDS:
        warnings[f"chord kind {kind!r} has no schema equivalent; written as 'other'"] += 1
        kind = "other"
    bass = element.bass()
    bass_name = bass.name if bass is not None and bass.name != root.name else None
    degrees = []
    for step in element.getChordStepModifications()[:8]:
        alter = int(step.interval.semitones) if step.interval is not None else 0
        if step.modType in ("add", "alter", "subtract") and 1 <= int(step.degree) <= 13:
            degrees.append((str(step.modType), int(step.degree), max(-2, min(2, alter))))
    try:
        symbol = ChordSymbol(part_id, onset, root.name, kind, bass_name, text, tuple(degrees))
        return ChordSymbol.from_json(symbol.to_json())
    except SchemaError:
        warnings["a chord symbol on a root beyond triple sharps or flats was dropped"] += 1
        return None


def build_chord_symbol(symbol: ChordSymbol) -> Any:
    """A music21 chord symbol (no duration) for a schema one."""
    from music21 import duration, harmony

    if symbol.kind == "none" or symbol.root is None:
        element: Any = harmony.NoChord(kindStr=symbol.text or "N.C.")
    else:
        kind = _TO_MUSIC21.get(symbol.kind, symbol.kind)
        element = harmony.ChordSymbol(
            root=symbol.root,
            bass=symbol.bass,
            kind=kind if kind in harmony.CHORD_TYPES else "major",
            kindStr=symbol.text or "",
        )
        if kind not in harmony.CHORD_TYPES:
            element.chordKind = symbol.kind  # 'other', 'none': written as is
        for kind_of_step, value, alter in symbol.degrees:
            element.addChordStepModification(
                harmony.ChordStepModification(kind_of_step, value, alter), updatePitches=False
            )
    element.duration = duration.Duration(0)
    return element


def symbol_from_figure(figure: str, part_id: str) -> ChordSymbol:
    """A chord symbol from a figure as lead sheets write it (``"Cmaj7"``, ``"Bb7/D"``,
    ``"N.C."``), read by music21; raises ValueError when music21 cannot read it."""
    from music21 import harmony

    text = figure.strip()
    if not text or len(text) > 40:
        raise ValueError("a chord figure is 1 to 40 characters, like 'Cmaj7' or 'Bb7/D'")
    try:
        element = (
            harmony.NoChord()
            if text.upper().replace(" ", "") in ("N.C.", "NC", "N.C")
            else harmony.ChordSymbol(text.replace("b", "-", 1) if _flat_root(text) else text)
        )
    except Exception as exc:  # music21 raises several types on figures it cannot read
        raise ValueError(f"music21 cannot read the chord figure {figure!r}") from exc
    warnings: Counter[str] = Counter()
    symbol = _symbol(element, part_id, Fraction(0), warnings)
    if symbol is None or warnings:
        raise ValueError(f"the chord figure {figure!r} has no schema equivalent")
    if symbol.root is not None:  # the kind as written: the figure without root and bass
        written = re.sub(r"^[A-G][#b-]*", "", text.split("/")[0])
        symbol = replace(symbol, text=written[:100] or None)
    return symbol


def _flat_root(text: str) -> bool:
    """``Bb7``: a root written with a ``b`` for flat (music21 wants ``B-7``)."""
    return len(text) > 1 and text[0] in "ABCDEFG" and text[1] == "b"
