"""Exact time in integer ticks, pitch names to numbers, and key names.

Time is kept as integer ticks, ``TPQ`` per quarter note. 20160 = 2^6 * 3^2 * 5 * 7, so
every duration down to a 64th note and every triplet, quintuplet, sextuplet, septuplet and
nonuplet of those is exact; a rarer fraction (elevenths, ...) is rounded half-to-even, the
same way every time. Integer ticks make onsets exactly comparable and every duration-weighted
sum exact, whatever order it is summed in: this is what lets the incremental analyses equal
a from-scratch run bit for bit.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

TPQ = 20160
STEPS = "CDEFGAB"
STEP_PC = (0, 2, 4, 5, 7, 9, 11)
_PITCH_RE = re.compile(r"^([A-G])(#{1,3}|-{1,3})?(-1|[0-9])$")
# Tonic spellings of the 24 keys with the fewest accidentals; ties (6 sharps or 6 flats, and
# C#/Db major's 7 against 5) take the second entry when the notated signature has flats.
_MAJOR_TONICS = ("C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
_MINOR_TONICS = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
_FLAT_TIES = {(6, "major"): "G-", (3, "minor"): "E-"}
_SHARP_TIES = {(6, "major"): "F#", (3, "minor"): "D#"}


def to_ticks(value: Fraction) -> int:
    """Quarter notes (exact) to ticks, rounding half-to-even off the tick grid."""
    scaled = value * TPQ
    if scaled.denominator == 1:
        return scaled.numerator
    return round(scaled)


@lru_cache(maxsize=8192)
def ticks_to_str(ticks: int) -> str:
    """Ticks as the schema writes quarter-note fractions: ``"3/2"``, ``"2"``."""
    value = Fraction(ticks, TPQ)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def ticks_to_quarters(ticks: int) -> float:
    return ticks / TPQ


@lru_cache(maxsize=4096)
def parse_pitch(name: str) -> tuple[int, int, int]:
    """``"F#4"`` -> (MIDI number, letter index 0-6 from C, alteration in semitones)."""
    match = _PITCH_RE.match(name)
    if match is None:
        raise ValueError(f"pitch {name!r} is not a name like 'C4', 'F#5' or 'B-3'")
    step, accidentals, octave = match.groups()
    alter = 0
    if accidentals:
        alter = len(accidentals) if accidentals[0] == "#" else -len(accidentals)
    letter = STEPS.index(step)
    return (int(octave) + 1) * 12 + STEP_PC[letter] + alter, letter, alter


@lru_cache(maxsize=4096)
def pitch_class_name(name: str) -> str:
    """``"B-3"`` -> ``"B-"``: the spelled name without its octave."""
    match = _PITCH_RE.match(name)
    if match is None:
        raise ValueError(f"pitch {name!r} is not a name like 'C4', 'F#5' or 'B-3'")
    return match.group(1) + (match.group(2) or "")


def tonic_name(pc: int, mode: str, prefer_flats: bool = False) -> str:
    """The usual spelling of a key's tonic (music21 style: ``"E-"``, ``"F#"``)."""
    ties = _FLAT_TIES if prefer_flats else _SHARP_TIES
    if (pc, mode) in ties:
        return ties[(pc, mode)]
    return (_MAJOR_TONICS if mode == "major" else _MINOR_TONICS)[pc]


def key_name(pc: int, mode: str, prefer_flats: bool = False) -> str:
    """music21-style key name: ``"E- major"``, ``"c# minor"``."""
    tonic = tonic_name(pc, mode, prefer_flats)
    return f"{tonic} major" if mode == "major" else f"{tonic.lower()} minor"
