"""Summary: counts, duration, pitch classes, texture."""

from __future__ import annotations

from ae_scores import FIVE, FOUR, ONE, SATB_NAMES, build, satb


def test_counts_duration_and_pitch_classes() -> None:
    b = build(
        ["A", "B"],
        2,
        [
            (0, 0, 0, 2, ["C4", "E4"]),
            (0, 0, 2, 2, ["G4"], {"ties": ["start"]}),
            (1, 0, 0, 2, ["G4"], {"ties": ["stop"]}),
            (1, 0, 2, 2, []),
            (0, 1, 0, 4, ["C3"]),
        ],
        time="4/4",
    )
    result = b.result("summary")
    assert result["measures"] == 2 and result["parts"] == 2
    assert result["notes"] == 4  # the rest is not a note; the tied pair is two notes
    assert result["attacks"] == 3  # ... but one attack
    assert result["pitches"] == 5
    assert result["duration"] == 8.0 and result["sounding"] == 6.0
    assert [p["notes"] for p in result["per_part"]] == [3, 1]
    durations = result["pitch_classes"]["duration"]
    assert durations[0] == 6.0 and durations[4] == 2.0 and durations[7] == 4.0
    assert sum(result["pitch_classes"]["attacks"]) == 4
    assert abs(sum(result["pitch_classes"]["share"]) - 1) < 1e-3


def test_texture_homophonic_chorale_and_polyphonic_hint() -> None:
    chorale = build(SATB_NAMES, 1, satb([(0, 0, 1, ONE), (0, 1, 1, FOUR), (0, 2, 2, FIVE)]))
    texture = chorale.result("summary")["texture"]
    assert texture == {
        "average_voices": 4.0,
        "max_voices": 4,
        "homophony": 1.0,
        "hint": "homophonic",
    }
    canon = build(
        ["A", "B"],
        1,
        [
            *[(0, 0, i, 1, [p]) for i, p in enumerate(["C4", "D4", "E4", "F4"])],
            *[(0, 1, f"{2 * i + 1}/2", 1, [p]) for i, p in enumerate(["C3", "D3", "E3"])],
        ],
    )
    texture = canon.result("summary")["texture"]
    assert texture["hint"] == "polyphonic"
    assert texture["homophony"] == 0.0  # no attack of several sounding voices together
    solo = build(["A"], 1, [(0, 0, 0, 4, ["C4"])]).result("summary")["texture"]
    assert solo["hint"] == "monophonic"
