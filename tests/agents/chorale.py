"""A small SATB score with a soprano melody, for the agent tests."""

from __future__ import annotations

from typing import Any

from score_model.ops import ScoreEditor

MELODY = [
    ["G4", "A4", "B4", "G4"],
    ["C5", "B4", "A4", "A4"],
    ["B4", "C5", "D5", "B4"],
    ["A4", "A4", "G4"],
    ["G4", "F#4", "G4", "A4"],
    ["B4", "A4", "G4", "F#4"],
    ["G4", "B4", "A4", "A4"],
    ["G4", "G4"],
]


def write_chorale(editor: ScoreEditor, bars: int = 4) -> dict[str, list[str]]:
    """Four parts (Soprano, Alto, Tenor, Bass), ``bars`` bars of 4/4 in G major, the
    melody in the soprano and the other parts empty."""
    ids = editor.create_score(
        title="Chorale", parts=["Soprano", "Alto", "Tenor", "Bass"], measures=bars, time="4/4"
    )
    fill_melody(editor, ids, bars)
    return ids


def fill_melody(editor: ScoreEditor, ids: dict[str, Any], bars: int) -> None:
    editor.set_key(ids["measures"][0], 1, "major")
    for measure, pitches in zip(ids["measures"], MELODY[:bars], strict=False):
        onset = 0
        for pitch in pitches:
            duration = 4 // len(pitches) if len(pitches) != 3 else (2 if onset == 2 else 1)
            editor.add_note(measure, ids["parts"][0], onset, duration, [pitch])
            onset += duration
