"""Parallel and hidden perfect intervals, crossing, overlap, spacing and range."""

from __future__ import annotations

from ae_scores import SATB_NAMES, build, satb

from analysis_engine.voice_leading import vocal_roles


def issues_of(b, kind: str) -> list[dict]:
    return [i for i in b.result("voice_leading")["issues"] if i["type"] == kind]


def test_parallel_fifths_and_octaves_name_parts_notes_and_place() -> None:
    b = build(
        ["Upper", "Lower"],
        1,
        [
            (0, 0, 0, 1, ["G4"]),
            (0, 0, 1, 1, ["A4"]),
            (0, 0, 2, 1, ["D5"]),
            (0, 0, 3, 1, ["E5"]),
            (0, 1, 0, 1, ["C4"]),
            (0, 1, 1, 1, ["D4"]),
            (0, 1, 2, 1, ["D4"]),
            (0, 1, 3, 1, ["E4"]),
        ],
        time="4/4",
    )
    fifths = issues_of(b, "parallel_fifths")
    assert len(fifths) == 1
    assert fifths[0]["measure"] == b.measures[0] and fifths[0]["onset"] == "1"
    assert fifths[0]["parts"] == b.parts
    assert fifths[0]["notes"] == [b.notes[0], b.notes[4], b.notes[1], b.notes[5]]
    assert fifths[0]["pitches"] == ["G4", "C4", "A4", "D4"]
    octaves = issues_of(b, "parallel_octaves")
    assert [(i["onset"], i["pitches"]) for i in octaves] == [("3", ["D5", "D4", "E5", "E4"])]


def test_contrary_and_oblique_motion_are_not_parallels() -> None:
    b = build(
        ["Upper", "Lower"],
        1,
        [
            (0, 0, 0, 1, ["G4"]),
            (0, 0, 1, 1, ["C5"]),
            (0, 0, 2, 2, ["C5"]),
            (0, 1, 0, 1, ["C4"]),
            (0, 1, 1, 1, ["F3"]),
            (0, 1, 2, 2, ["C4"]),
        ],
    )
    result = b.result("voice_leading")
    assert result["issues"] == [] and result["counts"] == {}


def test_hidden_fifths_across_a_bar_line_in_outer_voices() -> None:
    b = build(
        SATB_NAMES,
        2,
        satb([(0, 0, 4, ["F3", "C4", "A4", "G4"]), (1, 0, 4, ["G3", "B3", "B4", "D5"])]),
    )
    hidden = issues_of(b, "hidden_fifths")
    assert len(hidden) == 1
    assert hidden[0]["measure"] == b.measures[1] and hidden[0]["onset"] == "0"
    assert hidden[0]["parts"] == [b.parts[0], b.parts[3]]


def test_crossing_overlap_spacing_and_range_in_vocal_parts() -> None:
    b = build(
        SATB_NAMES,
        1,
        satb(
            [
                (0, 0, 1, ["C3", "G3", "E4", "C5"]),
                (0, 1, 1, ["C3", "E4", "C5", "B4"]),  # alto above soprano: crossing
                (0, 2, 1, ["C3", "G3", "E4", "C5"]),
                (0, 3, 1, ["C3", "F4", "G4", "A5"]),  # tenor above the alto's last note: overlap;
            ]
        ),
    )  # 14 semitones soprano-alto; soprano too high
    crossing = issues_of(b, "crossing")
    assert [(i["onset"], i["parts"]) for i in crossing] == [("1", [b.parts[0], b.parts[1]])]
    overlap = issues_of(b, "overlap")
    assert [(i["onset"], i["parts"]) for i in overlap] == [("3", [b.parts[1], b.parts[2]])]
    spacing = issues_of(b, "spacing")
    assert [(i["onset"], i["semitones"]) for i in spacing] == [("3", 14)]
    ranges = issues_of(b, "range")
    assert [(i["pitches"], i["role"], i["direction"]) for i in ranges] == [
        (["A5"], "soprano", "high")
    ]
    result = b.result("voice_leading")
    assert result["vocal"] is True
    assert result["roles"] == dict(zip(b.parts, ["soprano", "alto", "tenor", "bass"], strict=True))
    assert result["counts"] == {"crossing": 1, "overlap": 1, "range": 1, "spacing": 1}


def test_vocal_roles_from_names_or_four_plain_parts() -> None:
    assert vocal_roles(("Soprano", "Alto", "Tenor", "Bass")) == ("soprano", "alto", "tenor", "bass")
    assert vocal_roles(("S.", "A.", "T.", "B.")) == ("soprano", "alto", "tenor", "bass")
    assert vocal_roles(("Part 1", "Part 2", "Part 3", "Part 4")) == (
        "soprano",
        "alto",
        "tenor",
        "bass",
    )
    quartet = ("Violin I", "Violin II", "Viola", "Violoncello")
    assert vocal_roles(quartet) == (None,) * 4
    assert vocal_roles(quartet, forced=True) == ("soprano", "alto", "tenor", "bass")
    assert vocal_roles(("Soprano", "Alto", "Tenor", "Bass"), forced=False) == (None,) * 4
    assert vocal_roles(("Bassoon", "Horn")) == (None, None)


def test_instrumental_scores_skip_spacing_and_range() -> None:
    b = build(["Violin", "Cello"], 1, [(0, 0, 0, 1, ["A6"]), (0, 1, 0, 1, ["C2"])])
    result = b.result("voice_leading")
    assert result["vocal"] is False and result["issues"] == []
