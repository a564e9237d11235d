"""Species-style bass lines and countermelodies against chorale melodies."""

from __future__ import annotations

from conftest import chorale_view, harmonised

from agents.music.counterpoint import CONSONANT, counterpoint
from agents.music.keyplan import key_plan
from agents.music.quality import check_lines
from agents.music.slots import melody_slots
from agents.music.tonal import midi_of
from agents.music.view import Event, MusicResult, ScoreView


def _cells(view: ScoreView, result: MusicResult) -> list[list[Event]]:
    notes = result.parts[0].notes
    return [
        [Event(n.onset, n.duration, n.pitches) for n in notes if n.measure == m.id]
        for m in view.measures
    ]


def test_bass_is_consonant_below_the_melody_without_parallels(chorale: str) -> None:
    view = chorale_view(chorale)
    result = counterpoint(view, "Soprano", role="bass")
    melody = view.part("Soprano").voice(1)
    report = check_lines(view, [("Soprano", melody), ("Bass", _cells(view, result))], vocal=False)
    assert report.parallels == 0 and report.counts["crossing"] == 0
    slots = [s for s in melody_slots(view, melody) if s.soprano is not None]
    notes = result.parts[0].notes
    assert len(notes) == len(slots)
    for slot, note in zip(slots, notes, strict=True):
        assert note.onset == slot.onset and note.duration == slot.duration
        assert slot.soprano is not None
        assert (slot.soprano - midi_of(note.pitches[0])) % 12 in CONSONANT
        assert midi_of(note.pitches[0]) < slot.low
    tonic = key_plan(view, [melody]).key.tonic_pc
    assert midi_of(notes[0].pitches[0]) % 12 == tonic
    assert midi_of(notes[-1].pitches[0]) % 12 == tonic


def test_bass_over_given_harmony_uses_its_chord_tones(chorale: str) -> None:
    view = chorale_view(chorale)
    h = harmonised(chorale)
    result = counterpoint(view, "Soprano", role="bass", harmony=h.chords)
    for choice, note in zip(h.chords, result.parts[0].notes, strict=True):
        assert midi_of(note.pitches[0]) % 12 in {midi_of(p) % 12 for p in choice.pitches}


def test_second_species_countermelody_adds_passing_notes_but_no_faults() -> None:
    view = chorale_view("bwv177.4")
    plain = counterpoint(view, "Soprano", role="countermelody")
    florid = counterpoint(view, "Soprano", role="countermelody", species=2)
    assert len(florid.parts[0].notes) > len(plain.parts[0].notes)
    melody = view.part("Soprano").voice(1)
    for result in (plain, florid):
        report = check_lines(
            view, [("Soprano", melody), ("Tenor", _cells(view, result))], vocal=False
        )
        assert report.parallels == 0
    assert counterpoint(view, "Soprano", role="countermelody", species=2) == florid
