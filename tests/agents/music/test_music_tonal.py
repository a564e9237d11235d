"""Keys, spelled scale degrees and chords."""

from __future__ import annotations

from agents.music.tonal import Chord, Key, spell, spell_pc
from agents.music.vocabulary import candidates, from_id


def test_keys_from_names_and_signatures() -> None:
    assert Key.parse("E- major").name == "E- major"
    assert Key.parse("c# minor").tonic == (0, 1)
    assert Key.from_signature(-3, "minor").name == "c minor"
    assert Key.from_signature(4).name == "E major"


def test_scale_degrees_are_spelled_by_letter() -> None:
    c_sharp = Key.parse("C# major")
    assert [spell_pc(c_sharp.degree(d)) for d in range(7)] == [
        "C#",
        "D#",
        "E#",
        "F#",
        "G#",
        "A#",
        "B#",
    ]
    f_minor = Key.parse("f minor")
    assert spell_pc(f_minor.degree(6, 1)) == "E"  # raised leading tone
    assert spell(61, (1, -1)) == "D-4" and spell(60, (6, 1)) == "B#3"


def test_chords_of_a_key() -> None:
    g_minor = Key.parse("g minor")
    labels = {c.chord.label: c for c in candidates(g_minor)}
    assert [spell_pc(m) for m in labels["V7"].chord.members] == ["D", "F#", "A", "C"]
    assert [spell_pc(m) for m in labels["viio7"].chord.members] == ["F#", "A", "C", "E-"]
    dominant = from_id(Key.parse("B- major"), "7:dominant-seventh")
    assert dominant is not None and dominant.function == "dominant"
    assert Chord(dominant.chord.root, "major", "V").pcs == (5, 9, 0)


def test_every_vocabulary_chord_is_spelled_as_labelled() -> None:
    for name, expected in (
        ("c minor", {"V/V": "D", "V/iv": "C", "IV": "F", "viio": "B", "VII": "B-", "III": "E-"}),
        ("C major", {"viio/V": "F#", "V/V": "D", "V/vi": "E"}),
    ):
        labels = {c.chord.label: spell_pc(c.chord.root) for c in candidates(Key.parse(name))}
        assert {label: labels[label] for label in expected} == expected
        ids = [c.id for c in candidates(Key.parse(name))]
        assert len(ids) == len(set(ids))
