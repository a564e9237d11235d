"""Spelled pitches, keys and chords: the small tonal vocabulary every module shares.

Pitches are music21 names (``"F#4"``, ``"B-3"``). A spelled pitch class is a pair
``(letter, alter)`` (letter 0-6 from C, alter in semitones), so chords and scales built
here are spelled the way a musician writes them (``E#`` in C# major, not ``F``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from analysis_engine.units import STEP_PC, STEPS, parse_pitch

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor; V and vii raise the 7th
Spelled = tuple[int, int]  # (letter 0-6, alteration in semitones)
_KEY_RE = re.compile(r"^([A-Ga-g])(#{1,2}|-{1,2})? (major|minor)$")
_FIFTHS_TONIC_MAJOR = ("C", "G", "D", "A", "E", "B", "F#", "C#")
_FIFTHS_TONIC_FLAT = ("C", "F", "B-", "E-", "A-", "D-", "G-", "C-")


def midi_of(name: str) -> int:
    """MIDI number of a pitch name (``"C4"`` is 60)."""
    return parse_pitch(name)[0]


def spelled_of(name: str) -> Spelled:
    _, letter, alter = parse_pitch(name)
    return letter, alter


def pc_of(spelled: Spelled) -> int:
    return (STEP_PC[spelled[0]] + spelled[1]) % 12


@lru_cache(maxsize=8192)
def spell(midi: int, spelled: Spelled) -> str:
    """The name of MIDI pitch ``midi`` written with the letter and accidental of
    ``spelled`` (whose pitch class must match): ``spell(61, (0, 1))`` is ``"C#4"``."""
    letter, alter = spelled
    octave = (midi - STEP_PC[letter] - alter) // 12 - 1
    accidental = "#" * alter if alter > 0 else "-" * -alter
    return f"{STEPS[letter]}{accidental}{octave}"


def spell_pc(spelled: Spelled) -> str:
    """``(3, -1)`` -> ``"E-"``."""
    letter, alter = spelled
    return STEPS[letter] + ("#" * alter if alter > 0 else "-" * -alter)


@dataclass(frozen=True, slots=True)
class Key:
    """A key: spelled tonic and mode (``major`` or ``minor``)."""

    tonic: Spelled
    mode: str

    @classmethod
    def parse(cls, name: str) -> Key:
        """From a music21-style name: ``"E- major"``, ``"c# minor"``."""
        match = _KEY_RE.match(name.strip())
        if match is None:
            raise ValueError(f"key {name!r} is not like 'E- major' or 'c# minor'")
        step, accidental, mode = match.groups()
        letter = STEPS.index(step.upper())
        alter = (
            0 if not accidental else (len(accidental) if accidental[0] == "#" else -len(accidental))
        )
        return cls((letter, alter), mode)

    @classmethod
    def from_signature(cls, fifths: int, mode: str | None = None) -> Key:
        """The key of a key signature (``mode`` ``minor`` gives the relative minor)."""
        table = _FIFTHS_TONIC_MAJOR if fifths >= 0 else _FIFTHS_TONIC_FLAT
        major = cls(spelled_of(table[min(abs(fifths), 7)] + "4"), "major")
        if mode in ("minor", "aeolian"):
            return cls(major.degree(5), "minor")
        return major

    @property
    def tonic_pc(self) -> int:
        return pc_of(self.tonic)

    @property
    def name(self) -> str:
        tonic = spell_pc(self.tonic)
        return f"{tonic} major" if self.mode == "major" else f"{tonic.lower()} minor"

    @property
    def scale(self) -> tuple[int, ...]:
        return MAJOR_SCALE if self.mode == "major" else MINOR_SCALE

    def degree(self, degree: int, alter: int = 0) -> Spelled:
        """The spelled pitch class of a scale degree (0 = tonic), raised or lowered by
        ``alter`` semitones from the key's (natural) scale."""
        letter = (self.tonic[0] + degree) % 7
        pc = (self.tonic_pc + self.scale[degree % 7] + alter) % 12
        return letter, (pc - STEP_PC[letter] + 6) % 12 - 6

    def degree_of_pc(self, pc: int) -> int | None:
        """The scale degree of a pitch class (raised 6th and 7th count in minor)."""
        rel = (pc - self.tonic_pc) % 12
        if rel in self.scale:
            return self.scale.index(rel)
        if self.mode == "minor" and rel in (9, 11):
            return 5 if rel == 9 else 6
        return None

    @property
    def leading_tone_pc(self) -> int:
        return (self.tonic_pc + 11) % 12


QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    "major": (0, 4, 7),
    "minor": (0, 3, 7),
    "diminished": (0, 3, 6),
    "augmented": (0, 4, 8),
    "dominant-seventh": (0, 4, 7, 10),
    "minor-seventh": (0, 3, 7, 10),
    "major-seventh": (0, 4, 7, 11),
    "half-diminished": (0, 3, 6, 10),
    "diminished-seventh": (0, 3, 6, 9),
}


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord as its spelled root, quality (analysis_engine's names) and a figure label
    relative to the key it was chosen in (``"V7"``, ``"V/V"``, ``"ii"``)."""

    root: Spelled
    quality: str
    label: str

    @property
    def root_pc(self) -> int:
        return pc_of(self.root)

    @property
    def members(self) -> tuple[Spelled, ...]:
        """Root, third, fifth (and seventh), spelled."""
        out: list[Spelled] = []
        for index, interval in enumerate(QUALITY_INTERVALS[self.quality]):
            letter = (self.root[0] + 2 * index) % 7
            pc = (self.root_pc + interval) % 12
            out.append((letter, (pc - STEP_PC[letter] + 6) % 12 - 6))
        return tuple(out)

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root_pc + i) % 12 for i in QUALITY_INTERVALS[self.quality])

    @property
    def is_seventh(self) -> bool:
        return len(QUALITY_INTERVALS[self.quality]) == 4
