"""Instrument ranges, exact transposition, and re-voicing a part for another instrument.

Ranges are sounding (concert) pitch, the practical ranges of orchestration manuals
(S. Adler, "The Study of Orchestration", 3rd ed., 2002; the voices are Kostka & Payne's
SATB ranges, as in :data:`analysis_engine.voice_leading.RANGES`). The score stores
sounding pitch, so a clarinet's range here is where it sounds.

Transposition is by interval name (``"M2"``, ``"-P5"``, ``"A4"``, ``"P8"``, ``"m10"``) and
spells exactly: the letter moves by the interval's number, the accidental makes up the
semitones (C4 up an augmented fourth is F#4, down a diminished fifth is F#3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.music.tonal import midi_of
from agents.music.view import MusicResult, NewNote, PartWrite, ScoreView
from analysis_engine.units import STEP_PC, STEPS, parse_pitch


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument's name, sounding range (MIDI, inclusive), clef and GM program."""

    name: str
    low: int
    high: int
    clef: str
    program: int | None = None

    def contains(self, pitch: str) -> bool:
        return self.low <= midi_of(pitch) <= self.high


def _i(name: str, low: str, high: str, clef: str, program: int | None = None) -> Instrument:
    return Instrument(name, midi_of(low), midi_of(high), clef, program)


INSTRUMENTS: dict[str, Instrument] = {
    i.name.lower(): i
    for i in (
        _i("Soprano", "C4", "G5", "treble", 52),
        _i("Alto", "G3", "C5", "treble", 52),
        _i("Tenor", "C3", "G4", "treble8vb", 52),
        _i("Bass", "E2", "C4", "bass", 52),
        _i("Violin", "G3", "E7", "treble", 40),
        _i("Viola", "C3", "E6", "alto", 41),
        _i("Cello", "C2", "A5", "bass", 42),
        _i("Double bass", "E1", "G4", "bass", 43),
        _i("Flute", "C4", "C7", "treble", 73),
        _i("Oboe", "B-3", "A6", "treble", 68),
        _i("Clarinet", "D3", "B-6", "treble", 71),
        _i("Bassoon", "B-1", "E-5", "bass", 70),
        _i("Horn", "B1", "F5", "treble", 60),
        _i("Trumpet", "F#3", "D6", "treble", 56),
        _i("Trombone", "E2", "F5", "bass", 57),
        _i("Tuba", "D1", "F4", "bass", 58),
        _i("Recorder", "C5", "D7", "treble", 74),
        _i("Guitar", "E2", "B5", "treble8vb", 24),
        _i("Piano", "A0", "C8", "treble", 0),
        _i("Organ", "C2", "C7", "treble", 19),
        _i("Harp", "C1", "G#7", "treble", 46),
    )
}
_ALIASES = {
    "contrabass": "double bass",
    "violoncello": "cello",
    "french horn": "horn",
    "soprano voice": "soprano",
    "alto voice": "alto",
    "tenor voice": "tenor",
    "bass voice": "bass",
    "keyboard": "piano",
    "vln": "violin",
    "vla": "viola",
    "vc": "cello",
    "fl": "flute",
    "ob": "oboe",
    "cl": "clarinet",
    "bsn": "bassoon",
    "tpt": "trumpet",
    "tbn": "trombone",
}
_INTERVAL = re.compile(r"^(-?)(P|M|m|A+|d+)(\d+)$")
_MAJOR_SEMITONES = (0, 2, 4, 5, 7, 9, 11)
_PERFECT = {0, 3, 4}  # unison, fourth, fifth (by steps 0-6)


def instrument(name: str) -> Instrument:
    """An instrument by name (case-insensitive; common abbreviations too)."""
    key = name.strip().lower().rstrip(".")
    key = _ALIASES.get(key, key)
    if key not in INSTRUMENTS:
        raise KeyError(f"no instrument {name!r}; known: {', '.join(sorted(INSTRUMENTS))}")
    return INSTRUMENTS[key]


def parse_interval(name: str) -> tuple[int, int]:
    """``"-m3"`` -> (letter steps, semitones) = (-2, -3)."""
    match = _INTERVAL.match(name.strip())
    if match is None:
        raise ValueError(f"interval {name!r} is not like 'M2', '-P5', 'A4' or 'm10'")
    sign, quality, number_text = match.groups()
    number = int(number_text)
    if number < 1:
        raise ValueError("an interval's number starts at 1 (unison)")
    steps = number - 1
    simple = steps % 7
    semitones = _MAJOR_SEMITONES[simple] + 12 * (steps // 7)
    if simple in _PERFECT:
        if quality in ("M", "m"):
            raise ValueError(f"{name}: unisons, fourths, fifths and octaves are P, A or d")
        shift = 0 if quality == "P" else len(quality) if quality[0] == "A" else -len(quality)
    else:
        if quality == "P":
            raise ValueError(f"{name}: seconds, thirds, sixths and sevenths are M, m, A or d")
        shift = {"M": 0, "m": -1}.get(
            quality, len(quality) if quality[0] == "A" else -1 - len(quality)
        )
    semitones += shift
    return (-steps, -semitones) if sign else (steps, semitones)


def transpose_pitch(pitch: str, interval: str) -> str:
    """A pitch name moved by an interval name, spelled exactly."""
    steps, semitones = parse_interval(interval)
    midi, letter, _ = parse_pitch(pitch)
    octave = (midi - STEP_PC[letter] - parse_pitch(pitch)[2]) // 12 - 1
    index = octave * 7 + letter + steps
    new_letter, new_octave = index % 7, index // 7
    target = midi + semitones
    alter = target - ((new_octave + 1) * 12 + STEP_PC[new_letter])
    if abs(alter) > 3:
        raise ValueError(f"{pitch} by {interval} needs {alter:+d} accidentals")
    accidental = "#" * alter if alter > 0 else "-" * -alter
    return f"{STEPS[new_letter]}{accidental}{new_octave}"


def _events(view: ScoreView, part: str | int) -> list[NewNote]:
    line = view.part(part)
    return [
        NewNote(
            info.id,
            e.onset,
            e.duration,
            e.pitches,
            e.voice,
            e.ties,
            ("fermata",) if e.fermata else (),
        )
        for info, cell in zip(view.measures, line.measures, strict=True)
        for e in cell
    ]


def transpose(
    view: ScoreView, interval: str, parts: Sequence[str | int] | None = None
) -> MusicResult:
    """Every note of the given parts (default: all) moved by ``interval``, in place."""
    lines = [view.part(p) for p in parts] if parts is not None else list(view.parts)
    writes = []
    for line in lines:
        notes = tuple(
            NewNote(
                n.measure,
                n.onset,
                n.duration,
                tuple(transpose_pitch(p, interval) for p in n.pitches),
                n.voice,
                n.ties,
                n.articulations,
            )
            for n in _events(view, line.part)
        )
        writes.append(PartWrite(line.part, notes, name=line.name))
    return MusicResult(
        tuple(writes),
        summary=f"Transposed {len(lines)} part(s) by {interval}",
        details={"interval": interval},
    )


def revoice(
    view: ScoreView,
    part: str | int,
    to: str | Instrument,
    *,
    target: str | None = None,
    in_place: bool = False,
) -> MusicResult:
    """A part re-voiced for another instrument: the whole line moved by the octave that
    fits most notes (closest to the middle of the range on ties), then any note still
    outside folded in by octaves. Written as a new part (or into ``target``, or in place
    of the original with ``in_place``). ``details["folded"]`` counts the folded notes."""
    inst = to if isinstance(to, Instrument) else instrument(to)
    line = view.part(part)
    notes = _events(view, part)
    pitches = [midi_of(p) for n in notes for p in n.pitches]
    if not pitches:
        raise ValueError(f"part {line.name!r} has no notes to re-voice")
    centre = (inst.low + inst.high) / 2
    median = sorted(pitches)[len(pitches) // 2]

    def misfit(shift: int) -> tuple[int, float]:
        outside = sum(1 for p in pitches if not inst.low <= p + shift <= inst.high)
        return outside, abs(median + shift - centre)

    octaves = min(range(-4, 5), key=lambda k: (misfit(12 * k), abs(k)))
    interval = "P1" if octaves == 0 else f"{'-' if octaves < 0 else ''}P{7 * abs(octaves) + 1}"
    folded = 0
    out = []
    for n in notes:
        moved = []
        for p in n.pitches:
            name = transpose_pitch(p, interval)
            while midi_of(name) < inst.low:
                name, folded = transpose_pitch(name, "P8"), folded + 1
            while midi_of(name) > inst.high:
                name, folded = transpose_pitch(name, "-P8"), folded + 1
            moved.append(name)
        out.append(
            NewNote(n.measure, n.onset, n.duration, tuple(moved), n.voice, n.ties, n.articulations)
        )
    destination = line.part if in_place else target
    write = PartWrite(destination, tuple(out), name=inst.name, instrument=inst.name, clef=inst.clef)
    return MusicResult(
        (write,),
        summary=f"{line.name} re-voiced for {inst.name} ({interval}, {folded} notes folded)",
        details={"instrument": inst.name, "interval": interval, "folded": folded},
    )
