"""Melody per part: contour, ambitus, intervals, leaps and their recovery."""

from __future__ import annotations

from ae_scores import build

LINE = ["C4", "D4", "E4", "A4", "G4", "F4", "E4", "C5", "C5", "G4"]


def melody_score():
    notes: list[tuple] = [(i // 4, 0, i % 4, 1, [pitch]) for i, pitch in enumerate(LINE[:-1])]
    notes.append((2, 0, 1, 1, [LINE[-1]], {"ties": ["start"]}))
    notes.append((2, 0, 2, 1, [LINE[-1]], {"ties": ["stop"]}))  # tied on: not a new note
    notes.append((0, 1, 0, 4, ["C3", "G3"]))
    return build(["Flute", "Cello"], 3, notes)


def test_contour_ambitus_intervals_and_leaps() -> None:
    b = melody_score()
    result = b.result("melody")
    flute, cello = result["parts"]
    assert flute["part"] == b.parts[0] and flute["name"] == "Flute"
    assert flute["contour"] == "UUUDDDURD"
    assert flute["notes"] == 10
    assert flute["ambitus"] == {"lowest": "C4", "highest": "C5", "semitones": 12}
    assert flute["intervals"] == {"-5": 1, "-2": 2, "-1": 1, "0": 1, "2": 2, "5": 1, "8": 1}
    assert flute["steps"] == 5
    leaps = flute["leaps"]
    assert [leap["semitones"] for leap in leaps] == [5, 8, -5]
    assert [leap["recovered"] for leap in leaps] == [True, False, None]
    assert leaps[0]["pitches"] == ["E4", "A4"]
    assert leaps[0]["notes"] == [b.notes[2], b.notes[3]]
    assert leaps[0]["measure"] == b.measures[0] and leaps[0]["onset"] == "3"
    assert flute["leap_count"] == 3 and flute["recovered"] == 1
    assert cello["ambitus"] == {"lowest": "C3", "highest": "G3", "semitones": 7}
    assert cello["contour"] == "" and cello["leaps"] == []


def test_an_empty_part_has_an_empty_melody() -> None:
    b = build(["A", "B"], 1, [(0, 0, 0, 1, ["C4"])])
    empty = b.result("melody")["parts"][1]
    assert empty["notes"] == 0 and empty["ambitus"] is None and empty["leaps"] == []
