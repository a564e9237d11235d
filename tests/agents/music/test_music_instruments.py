"""Exact transposition (checked against music21) and re-voicing within instrument ranges."""

from __future__ import annotations

import pytest
from conftest import chorale_view
from music21 import interval as m21interval
from music21 import pitch as m21pitch

from agents.music.instruments import (
    instrument,
    parse_interval,
    revoice,
    transpose,
    transpose_pitch,
)
from agents.music.tonal import midi_of

PITCHES = ("C4", "F#4", "B-3", "E-5", "G#2", "C#5", "D--4", "B#3", "F4")
INTERVALS = (
    "P1",
    "m2",
    "M2",
    "A2",
    "d3",
    "m3",
    "M3",
    "P4",
    "A4",
    "d5",
    "P5",
    "A5",
    "m6",
    "M6",
    "d7",
    "m7",
    "M7",
    "P8",
    "m9",
    "M10",
    "P12",
    "-M2",
    "-P5",
    "-A4",
    "-m3",
    "-P8",
    "-m10",
)


def test_transpose_pitch_spells_like_music21() -> None:
    checked = 0
    for name in PITCHES:
        for step in INTERVALS:
            try:
                ours = transpose_pitch(name, step)
            except ValueError:
                continue  # more than three accidentals
            expected = m21interval.Interval(step).transposePitch(m21pitch.Pitch(name))
            assert ours == expected.nameWithOctave, (name, step)
            checked += 1
    assert checked > 200


def test_bad_interval_names_are_rejected() -> None:
    for bad in ("M5", "P3", "X2", "M0", "5"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_transpose_a_chorale_up_and_back_exactly() -> None:
    view = chorale_view("bwv165.6")
    up = transpose(view, "M2")
    originals = [
        (n.measure, n.onset, n.duration, n.pitches)
        for line in view.parts
        for info, cell in zip(view.measures, line.measures, strict=True)
        for n in [
            type(
                "N",
                (),
                {
                    "measure": info.id,
                    "onset": e.onset,
                    "duration": e.duration,
                    "pitches": e.pitches,
                },
            )
            for e in cell
        ]
    ]
    moved = [n for write in up.parts for n in write.notes]
    assert len(moved) == len(originals)
    for (measure, onset, duration, pitches), note in zip(originals, moved, strict=True):
        assert (note.measure, note.onset, note.duration) == (measure, onset, duration)
        assert [midi_of(p) + 2 for p in pitches] == [midi_of(p) for p in note.pitches]
        assert tuple(transpose_pitch(p, "-M2") for p in note.pitches) == pitches


def test_revoice_fits_the_instruments_range() -> None:
    view = chorale_view("bwv177.4")
    for name in ("Double bass", "Cello", "Flute", "vln", "Tuba"):
        inst = instrument(name)
        result = revoice(view, "Soprano", inst)
        notes = result.parts[0].notes
        assert notes and all(inst.low <= midi_of(p) <= inst.high for n in notes for p in n.pitches)
        assert result.parts[0].instrument == inst.name and result.parts[0].part is None
    cello = revoice(view, "Soprano", "cello")
    assert cello.details["interval"] == "-P8" and cello.details["folded"] == 0


def test_unknown_instrument() -> None:
    with pytest.raises(KeyError):
        instrument("theremin")
