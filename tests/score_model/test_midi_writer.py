"""MIDI written from the document with mido: tracks, tempo, ties, repeats, velocities."""

from __future__ import annotations

import io
from fractions import Fraction

import mido

from score_model.document import ScoreDoc
from score_model.exporter import export_score
from score_model.importer import import_score
from score_model.midi_writer import TICKS_PER_QUARTER, midi_number
from score_model.ops import ScoreEditor

Q = TICKS_PER_QUARTER


def sounding(data: bytes) -> list[list[tuple[int, int, int, int]]]:
    """Per track: (start tick, end tick, key, velocity) of every note, sorted."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    tracks = []
    for track in midi.tracks:
        now, held, notes = 0, {}, []
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity:
                held[message.note] = (now, message.velocity)
            elif message.type in ("note_off", "note_on"):
                start, velocity = held.pop(message.note)
                notes.append((start, now, message.note, velocity))
        tracks.append(sorted(notes))
    return tracks


def two_part_score() -> tuple[ScoreDoc, dict]:
    score = ScoreDoc()
    edit = ScoreEditor(score)
    ids = edit.create_score(title="Test", parts=["Violin", "Cello"], measures=3, time="3/4")
    edit.update_part(ids["parts"][1], program=42)
    return score, ids


def test_pitch_names_to_keys() -> None:
    assert [midi_number(n) for n in ("C4", "F#5", "B-3", "C##4", "A0", "C-1", "G9")] == [
        60,
        78,
        58,
        62,
        21,
        23,
        127,
    ]  # "C-1" is C flat 1 (schema octaves are 0 to 9)
    assert midi_number("A9") is None


def test_tracks_programs_tempo_and_time_signature() -> None:
    score, ids = two_part_score()
    edit = ScoreEditor(score)
    m1 = ids["measures"][0]
    edit.set_tempo(m1, 90, "3/2")  # dotted quarter = 90: 135 quarters a minute
    edit.add_note(m1, ids["parts"][0], 0, 1, "A4", dynamic="pp")
    edit.add_note(m1, ids["parts"][1], "1/3", "2/3", ["C3", "G3"])
    data = export_score(score, "midi").data
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert midi.type == 1 and midi.ticks_per_beat == Q and len(midi.tracks) == 3
    conductor = {m.type: m for m in midi.tracks[0]}
    assert conductor["set_tempo"].tempo == round(60_000_000 / 135)
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (
        3,
        4,
    )
    names = [next(m.name for m in t if m.type == "track_name") for t in midi.tracks[1:]]
    assert names == ["Violin", "Cello"]
    assert [m.program for m in midi.tracks[2] if m.type == "program_change"] == [42]
    _, violin, cello = sounding(data)
    assert violin == [(0, Q, 69, 31)]
    assert cello == [(Q // 3, Q, 48, 90), (Q // 3, Q, 55, 90)]


def test_ties_sound_once_across_the_barline_and_chords_tie_per_pitch() -> None:
    score, ids = two_part_score()
    edit = ScoreEditor(score)
    violin, (m1, m2, _) = ids["parts"][0], ids["measures"]
    first = edit.add_note(m1, violin, 2, 1, ["E4", "G4"])
    edit.set_tie(first, "start", pitch_index=0)
    second = edit.add_note(m2, violin, 0, 2, ["E4", "C5"])
    edit.set_tie(second, "stop", pitch_index=0)
    _, notes, _ = sounding(export_score(score, "midi").data)
    assert notes == [(2 * Q, 3 * Q, 67, 90), (2 * Q, 5 * Q, 64, 90), (3 * Q, 5 * Q, 72, 90)]


def test_repeats_are_played_out() -> None:
    score, ids = two_part_score()
    edit = ScoreEditor(score)
    violin, (m1, m2, m3) = ids["parts"][0], ids["measures"]
    for index, measure in enumerate((m1, m2, m3)):
        edit.add_note(measure, violin, 0, 3, ["C4", "D4", "E4"][index])
    edit.set_repeat(m2, "start")
    edit.set_repeat(m2, "end")  # a one-bar repeat: m1 m2 m2 m3
    edit.set_repeat(m2, "both")
    _, notes, _ = sounding(export_score(score, "midi").data)
    assert [(start // Q, key) for start, _, key, _ in notes] == [(0, 60), (3, 62), (6, 62), (9, 64)]


def test_music21_reads_the_file_back() -> None:
    score, ids = two_part_score()
    edit = ScoreEditor(score)
    edit.add_note(ids["measures"][1], ids["parts"][0], 1, "1/2", "B-4")
    again = import_score(export_score(score, "midi").data, "x.mid").read()
    notes = [(n.pitches, n.duration) for n in again.notes.values() if n.pitches]
    assert notes == [(("B-4",), Fraction(1, 2))] or notes == [(("A#4",), Fraction(1, 2))]
