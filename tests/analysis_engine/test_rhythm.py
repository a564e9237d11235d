"""Onset density per measure and beat, and syncopation."""

from __future__ import annotations

from ae_scores import build


def test_density_per_beat_and_syncopation_scores() -> None:
    b = build(
        ["Straight", "Syncopated"],
        2,
        [
            *[(0, 0, beat, 1, ["C4"]) for beat in range(4)],
            (0, 1, "1/2", 1, ["E4"]),  # an eighth-level onset held over beat 2: 3 - 2 = 1
            (0, 1, "3/2", 1, ["F4"]),  # held over the half bar: 3 - 1 = 2
            (0, 1, 3, 1, ["G4"], {"ties": ["start"]}),  # tied over the bar line: 2 - 0 = 2
            (1, 1, 0, 1, ["G4"], {"ties": ["stop"]}),
            (1, 0, 0, 2, ["C4"]),
        ],
    )
    result = b.result("rhythm")
    assert result["parts"] == b.parts
    first, second = result["measures"]
    assert first["measure"] == b.measures[0]
    assert first["onsets"] == [4, 3]
    assert first["density"] == [1.0, 0.75]
    assert first["beats"] == [[1, 1, 1, 1], [1, 1, 0, 1]]
    assert first["syncopation"] == [0, 5]
    assert first["syncopated"] == [0, 3]
    assert second["onsets"] == [1, 0]  # the tied continuation is no attack
    assert second["syncopation"] == [0, 0]
    assert result["syncopation_per_onset"] == [0.0, round(5 / 3, 4)]


def test_compound_meter_and_pickup_positions() -> None:
    b = build(
        ["A"],
        2,
        [
            (0, 0, 0, "1/2", ["C4"]),
            (1, 0, 0, "3/2", ["D4"]),
            (1, 0, "3/2", "1/2", ["E4"]),
            (1, 0, 2, 1, ["F4"]),
        ],
        time="6/8",
    )
    b.editor.set_pickup(b.measures[0], True)
    pickup, full = b.result("rhythm")["measures"]
    assert pickup["beats"] == [[0, 1]]  # the upbeat eighth is in the second beat
    assert full["beats"] == [[1, 2]]
    assert full["syncopation"] == [0]
