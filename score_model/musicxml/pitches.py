"""Pitches as MusicXML writes them, and which accidentals a reader needs to see.

An accidental is shown when a note's alteration differs from what is in force on its
line and octave in the measure (the key signature, then earlier accidentals of the
measure and staff), as a courtesy when another octave of the step was altered
differently earlier in the measure, and never on a note continuing a tie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["ACCIDENTALS", "Accidentals", "SpelledPitch", "key_alterations", "spell"]

STEPS = "CDEFGAB"
SHARP_ORDER = "FCGDAEB"
ACCIDENTALS = {
    -3: "triple-flat",
    -2: "flat-flat",
    -1: "flat",
    0: "natural",
    1: "sharp",
    2: "double-sharp",
    3: "triple-sharp",
}


@dataclass(frozen=True, slots=True)
class SpelledPitch:
    step: str
    alter: int
    octave: int

    @property
    def diatonic(self) -> int:
        """music21's diatonic note number (C4 is 29)."""
        return self.octave * 7 + STEPS.index(self.step) + 1


@lru_cache(maxsize=1024)
def spell(name: str) -> SpelledPitch:
    """``"F#4"`` as step F, alter 1, octave 4 (``-`` is a flat, as in music21)."""
    return SpelledPitch(name[0], name.count("#") - name.count("-"), int(name[-1]))


@lru_cache(maxsize=32)
def key_alterations(fifths: int) -> dict[str, int]:
    """The alteration of each step under a key signature of ``fifths``."""
    altered = {step: 0 for step in STEPS}
    if fifths > 0:
        for step in SHARP_ORDER[:fifths]:
            altered[step] = 1
    elif fifths < 0:
        for step in SHARP_ORDER[::-1][:-fifths]:
            altered[step] = -1
    return altered


@dataclass(slots=True)
class Accidentals:
    """The accidentals in force in one measure of one staff."""

    key: dict[str, int]
    lines: dict[tuple[str, int], int] = field(default_factory=dict)

    def shown(self, pitch: SpelledPitch, tied_over: bool) -> bool:
        """Whether ``pitch`` needs its accidental written; records it as in force."""
        line = (pitch.step, pitch.octave)
        in_force = self.lines.get(line, self.key[pitch.step])
        if tied_over:
            self.lines[line] = pitch.alter
            return False
        courtesy = pitch.alter == in_force and any(
            step == pitch.step and octave != pitch.octave and alter != pitch.alter
            for (step, octave), alter in self.lines.items()
        )
        self.lines[line] = pitch.alter
        return pitch.alter != in_force or courtesy
