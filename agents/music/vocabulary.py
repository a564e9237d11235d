"""The chords a key offers a harmoniser, each with a prior cost (lower is more usual).

Diatonic triads and the dominant seventh, the supertonic seventh, the leading-tone
sevenths, and the applied dominants Bach uses most (V/V, V/vi, V/ii, V7/IV; in minor
V/iv, V/III, VII); the final chord of a minor-key piece may take a Picardy third.
Costs follow the relative frequencies of Kostka & Payne's chorale-style progressions
("Tonal Harmony", ch. 7-8): tonic and dominant cheapest, iii and applied chords dearest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from agents.music.tonal import QUALITY_INTERVALS, Chord, Key, Spelled, pc_of
from analysis_engine.units import STEP_PC


@dataclass(frozen=True, slots=True)
class Candidate:
    """A chord offered in a key: the chord, its function and prior cost."""

    chord: Chord
    function: str  # "tonic", "predominant", "dominant", "other"
    cost: float
    tonic_like: bool = False  # resolves a leading tone (I, i, vi/VI after V)
    rel: int = 0  # root in semitones above the key's tonic

    @property
    def id(self) -> str:
        """``"7:dominant-seventh"``: the key-relative name the learned statistics use."""
        return f"{self.rel}:{self.chord.quality}"


# (degree, alteration of the root from the natural scale, quality, label, function, cost)
_MAJOR = (
    (0, 0, "major", "I", "tonic", 0.0),
    (1, 0, "minor", "ii", "predominant", 0.5),
    (2, 0, "minor", "iii", "other", 1.6),
    (3, 0, "major", "IV", "predominant", 0.3),
    (4, 0, "major", "V", "dominant", 0.0),
    (5, 0, "minor", "vi", "tonic", 0.6),
    (6, 0, "diminished", "viio", "dominant", 1.2),
    (4, 0, "dominant-seventh", "V7", "dominant", 0.5),
    (1, 0, "minor-seventh", "ii7", "predominant", 1.1),
    (6, 0, "half-diminished", "viiø7", "dominant", 2.0),
    (1, 0, "major", "V/V", "predominant", 1.3),
    (1, 0, "dominant-seventh", "V7/V", "predominant", 1.6),
    (2, 0, "major", "V/vi", "other", 1.6),
    (5, 0, "major", "V/ii", "other", 2.0),
    (0, 0, "dominant-seventh", "V7/IV", "other", 2.0),
    (3, 1, "diminished", "viio/V", "predominant", 2.2),
)
_MINOR = (
    (0, 0, "minor", "i", "tonic", 0.0),
    (1, 0, "diminished", "iio", "predominant", 0.9),
    (2, 0, "major", "III", "other", 1.0),
    (3, 0, "minor", "iv", "predominant", 0.3),
    (4, 0, "major", "V", "dominant", 0.0),
    (5, 0, "major", "VI", "tonic", 0.6),
    (6, 1, "diminished", "viio", "dominant", 1.0),
    (4, 0, "dominant-seventh", "V7", "dominant", 0.5),
    (1, 0, "half-diminished", "iiø7", "predominant", 1.0),
    (6, 1, "diminished-seventh", "viio7", "dominant", 1.4),
    (6, 0, "major", "VII", "other", 1.3),
    (4, 0, "minor", "v", "other", 1.8),
    (3, 0, "major", "IV", "predominant", 1.6),
    (1, 0, "major", "V/V", "predominant", 1.5),
    (0, 0, "major", "V/iv", "other", 1.6),
    (0, 0, "dominant-seventh", "V7/iv", "other", 1.8),
)


def _chord(key: Key, degree: int, alter: int, quality: str, label: str) -> Chord:
    root: Spelled = key.degree(degree, alter)
    return Chord(root, quality, label)


@lru_cache(maxsize=256)
def candidates(key: Key) -> tuple[Candidate, ...]:
    """Every chord the harmoniser may use in ``key``."""
    table = _MAJOR if key.mode == "major" else _MINOR
    out = []
    for degree, alter, quality, label, function, cost in table:
        chord = _chord(key, degree, alter, quality, label)
        tonic_like = label in ("I", "i", "vi", "VI")
        out.append(
            Candidate(chord, function, cost, tonic_like, (chord.root_pc - key.tonic_pc) % 12)
        )
    return tuple(out)


# Spelling of a root a given number of semitones above the tonic: (degree, alteration
# from the mode's natural scale).
_REL_SPELLING = {
    "major": (
        (0, 0),
        (1, -1),
        (1, 0),
        (2, -1),
        (2, 0),
        (3, 0),
        (3, 1),
        (4, 0),
        (5, -1),
        (5, 0),
        (6, -1),
        (6, 0),
    ),
    "minor": (
        (0, 0),
        (1, -1),
        (1, 0),
        (2, 0),
        (2, 1),
        (3, 0),
        (3, 1),
        (4, 0),
        (5, 0),
        (5, 1),
        (6, 0),
        (6, 1),
    ),
}
_DOMINANT = {
    (7, "major"),
    (7, "dominant-seventh"),
    (11, "diminished"),
    (11, "diminished-seventh"),
    (11, "half-diminished"),
}
_TONIC = {(0, "major"), (0, "minor"), (9, "minor"), (8, "major")}


@lru_cache(maxsize=4096)
def from_id(key: Key, chord_id: str, cost: float = 0.0) -> Candidate | None:
    """The candidate named by a learned chord id (``"7:dominant-seventh"``) in ``key``,
    or ``None`` for a quality the harmoniser does not voice."""
    rel_text, quality = chord_id.split(":", 1)
    if quality not in QUALITY_INTERVALS:
        return None
    rel = int(rel_text)
    degree, alter = _REL_SPELLING[key.mode][rel]
    chord = Chord(key.degree(degree, alter), quality, chord_id)
    if (rel, quality) in _DOMINANT:
        function = "dominant"
    elif rel in (2, 5) or (rel == 6 and quality.startswith("dim")):
        function = "predominant"
    elif (rel, quality) in _TONIC and (key.mode == "major" or rel != 9):
        function = "tonic"
    else:
        function = "other"
    tonic_like = (
        (rel, quality) in _TONIC
        and (rel != 9 or key.mode == "major")
        and (rel != 8 or key.mode == "minor")
    )
    return Candidate(chord, function, cost, tonic_like, rel)


def picardy(key: Key) -> Candidate:
    """The major tonic that may end a minor-key piece."""
    return Candidate(Chord(key.tonic, "major", "I"), "tonic", 0.0, True, 0)


def chromatic_fallback(key: Key, pc: int, spelled: Spelled) -> tuple[Candidate, ...]:
    """Major and minor triads containing a pitch class no candidate holds (a chromatic
    melody note), built on its own spelling."""
    out = []
    for quality, intervals in (("major", (0, 4, 7)), ("minor", (0, 3, 7))):
        for position, interval in enumerate(intervals):
            letter = (spelled[0] - 2 * position) % 7
            root_pc = (pc - interval) % 12
            root = (letter, (root_pc - STEP_PC[letter] + 6) % 12 - 6)
            if pc_of(root) == root_pc:
                out.append(
                    Candidate(
                        Chord(root, quality, "chromatic"),
                        "other",
                        2.5,
                        rel=(root_pc - key.tonic_pc) % 12,
                    )
                )
    return tuple(out)
