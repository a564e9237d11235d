"""Words a musician reads for the codes the analyses return.

Results keep their codes for machines (``"type": "authentic", "perfect": false``,
``"key": "e- major"``, ``"parallel_fifths"``); beside them each carries a ``label`` made
here: "imperfect authentic cadence", "E♭ major", "parallel fifths".
"""

from __future__ import annotations

import re

CADENCES = {
    "authentic": "authentic cadence",
    "plagal": "plagal cadence",
    "deceptive": "deceptive cadence",
    "half": "half cadence",
}

ISSUES = {
    "parallel_fifths": "parallel fifths",
    "parallel_octaves": "parallel octaves",
    "hidden_fifths": "hidden fifths",
    "hidden_octaves": "hidden octaves",
    "crossing": "voice crossing",
    "overlap": "voice overlap",
    "spacing": "wide spacing",
    "range": "out of range",
}

_ACCIDENTALS = {"-": "♭", "#": "♯"}
_DIMINISHED = re.compile(r"(?<=[iIvV])o")


def cadence_label(kind: str, perfect: bool | None = None) -> str:
    """``("authentic", False)`` -> ``"imperfect authentic cadence"``."""
    words = CADENCES.get(kind, f"{kind.replace('_', ' ')} cadence")
    if kind == "authentic" and perfect is not None:
        return ("perfect " if perfect else "imperfect ") + words
    return words


def figure_label(figure: str) -> str:
    """A Roman-numeral figure as printed: RomanText's ``o`` for diminished becomes ``°``
    (``"viio7/ii"`` -> ``"vii°7/ii"``, ``"io"`` -> ``"i°"``); the rest is kept."""
    return _DIMINISHED.sub("°", figure)


def note_label(name: str) -> str:
    """A spelled pitch or tonic with real accidentals: ``"E-"`` -> ``"E♭"``,
    ``"f#"`` -> ``"F♯"``, ``"B--4"`` -> ``"B𝄫4"``."""
    if not name:
        return name
    letter, rest = name[0].upper(), name[1:]
    accidentals = rest.rstrip("0123456789")
    octave = rest[len(accidentals) :]
    if accidentals == "--":
        return f"{letter}𝄫{octave}"
    if accidentals == "##":
        return f"{letter}𝄪{octave}"
    return letter + "".join(_ACCIDENTALS.get(a, a) for a in accidentals) + octave


def key_label(name: str) -> str:
    """``"e- major"`` / ``"c# minor"`` (music21 style) -> ``"E♭ major"`` / ``"C♯ minor"``."""
    tonic, _, mode = name.partition(" ")
    return f"{note_label(tonic)} {mode}".strip()


def issue_label(kind: str) -> str:
    """``"parallel_fifths"`` -> ``"parallel fifths"``."""
    return ISSUES.get(kind, kind.replace("_", " "))
