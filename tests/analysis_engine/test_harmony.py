"""Sonorities, chord labels, Roman numerals and cadences."""

from __future__ import annotations

import numpy as np
from ae_scores import (
    DECEPTIVE_THEN_AUTHENTIC,
    FIVE,
    FOUR,
    ONE,
    ONE6,
    SATB_NAMES,
    TWO6,
    NoteSpec,
    build,
    satb,
)

from analysis_engine.chords import QUALITY_INDEX, QUALITY_NAMES, classify, label_chords
from analysis_engine.harmony import following_chords
from analysis_engine.roman import figure
from analysis_engine.units import TPQ
from score_model.schema import KeySignature


def test_i_iv_v_i_in_c_with_a_perfect_authentic_cadence() -> None:
    b = build(
        SATB_NAMES, 2, satb([(0, 0, 2, ONE), (0, 2, 2, FOUR), (1, 0, 2, FIVE), (1, 2, 2, ONE)])
    )
    result = b.result("harmony")
    slices = result["slices"]
    assert [s["figure"] for s in slices] == ["I", "IV", "V", "I"]
    assert [s["root"] for s in slices] == ["C", "F", "G", "C"]
    assert {s["quality"] for s in slices} == {"major"}
    assert [s["onset"] for s in slices] == ["0", "2", "0", "2"]
    assert [s["measure"] for s in slices] == [b.measures[0]] * 2 + [b.measures[1]] * 2
    assert slices[0]["pitches"] == ["C3", "G3", "E4", "C5"] and slices[0]["bass"] == "C3"
    assert slices[0]["key"] == "C major" and slices[0]["duration"] == "2"
    assert result["cadences"] == [
        {
            "type": "authentic",
            "measure": b.measures[1],
            "number": 2,
            "onset": "2",
            "key": "C major",
            "figures": ["V", "I"],
            "perfect": True,
            "label": "perfect authentic cadence",
            "key_label": "C major",
        }
    ]


def test_half_plagal_and_deceptive_cadences() -> None:
    half = build(
        SATB_NAMES,
        2,
        satb([(0, 0, 1, ONE), (0, 1, 1, FOUR), (0, 2, 1, ONE6), (0, 3, 1, TWO6), (1, 0, 2, FIVE)]),
    ).result("harmony")
    assert [(c["type"], c["figures"]) for c in half["cadences"]] == [("half", ["ii6", "V"])]
    plagal = build(
        SATB_NAMES, 2, satb([(0, 0, 1, ONE), (0, 1, 1, ONE6), (0, 2, 2, FOUR), (1, 0, 4, ONE)])
    ).result("harmony")
    assert [c["type"] for c in plagal["cadences"]] == ["plagal"]
    b = build(SATB_NAMES, 3, satb(DECEPTIVE_THEN_AUTHENTIC))
    cadences = b.result("harmony")["cadences"]
    assert [(c["type"], c["measure"], c["onset"]) for c in cadences] == [
        ("deceptive", b.measures[1], "0"),
        ("authentic", b.measures[2], "0"),
    ]
    assert cadences[1]["figures"] == ["V7", "I"] and cadences[1]["perfect"] is True


def test_passing_notes_weigh_less_than_chord_tones() -> None:
    # C major triad held, the soprano passes E-F-G in eighths: F is a non-chord tone
    b = build(
        ["S", "A", "T", "B"],
        1,
        [
            (0, 0, 0, "1/2", ["E5"]),
            (0, 0, "1/2", "1/2", ["F5"]),
            (0, 0, 1, 1, ["G5"]),
            (0, 1, 0, 2, ["C5"]),
            (0, 2, 0, 2, ["G4"]),
            (0, 3, 0, 2, ["C3"]),
        ],
    )
    slices = b.result("harmony", learned=False)["slices"]  # the rules' template weights
    assert [s["onset"] for s in slices] == ["0", "1/2", "1"]
    assert [(s["root"], s["quality"], s["figure"]) for s in slices] == [("C", "major", "I")] * 3
    assert slices[1]["pitches"] == ["C3", "G4", "C5", "F5"]


def test_slices_start_at_attacks_releases_and_bar_lines_and_skip_silence() -> None:
    b = build(
        ["A", "B"],
        2,
        [
            (0, 0, 0, 3, ["C4"], {"ties": ["start"]}),
            (1, 0, 0, 1, ["C4"], {"ties": ["stop"]}),
            (0, 1, 1, 1, ["E3"]),
            (0, 1, 3, 1, ["G3"]),  # overfull: starts where the next bar does
        ],
        time="3/4",
    )
    ctx = b.context()
    first, second = ctx.slices.measures
    assert first.start.tolist() == [0, TPQ, 2 * TPQ]
    assert first.end.tolist() == [TPQ, 2 * TPQ, 3 * TPQ]
    assert first.attack.tolist() == [True, True, False]
    assert second.start.tolist() == [0] and second.end.tolist() == [TPQ]
    assert second.member_midi.tolist() == [55, 60]  # G3 attacked, the held C4 across the bar


def test_template_labels_and_symmetric_chord_spelling() -> None:
    def weights(pcs: list[int]) -> np.ndarray:
        row = np.zeros(12, dtype=np.int64)
        row[pcs] = TPQ
        return row

    rows = np.array(
        [
            weights([0, 4, 7]),
            weights([7, 11, 2, 5]),
            weights([7, 11, 5]),
            weights([11, 2, 5]),
            weights([9, 0, 4, 7]),
            weights([4]),
        ]
    )
    roots, qualities = label_chords(rows, np.array([0, 7, 7, 11, 9, 4]))
    names = [QUALITY_NAMES[q] if q >= 0 else None for q in qualities.tolist()]
    assert roots.tolist() == [0, 7, 7, 11, 9, 4]
    assert names == [
        "major",
        "dominant-seventh",
        "dominant-seventh",
        "diminished",
        "minor-seventh",
        None,
    ]
    b = build(["A"], 1, [(0, 0, 0, 1, ["D4", "F4", "A-4", "B4"])])  # viio7 in c, spelled on B
    s = b.context(learned=False).slices.measures[0]
    assert (s.root_name[0], QUALITY_NAMES[int(s.quality[0])], int(s.inversion[0])) == (
        "B",
        "diminished-seventh",
        1,
    )
    assert classify(7, {7, 11, 2, 5}) == "dominant-seventh"
    assert classify(0, {0, 1, 2}) == "other"


def test_figures_follow_music21_and_name_applied_chords() -> None:
    q = QUALITY_INDEX
    assert figure("G", q["dominant-seventh"], 1, "C", "major") == "V65"
    assert figure("B", q["diminished"], 1, "C", "major") == "viio6"
    assert figure("D", q["major"], 0, "C", "major") == "V/V"
    assert figure("C", q["dominant-seventh"], 0, "C", "major") == "V7/IV"
    assert figure("F#", q["diminished-seventh"], 0, "C", "major") == "viio7/V"
    assert figure("G", q["dominant-seventh"], 0, "C", "minor") == "V7"
    assert figure("A-", q["major"], 0, "C", "minor") == "VI"
    assert figure("B-", q["major"], 0, "C", "minor") == "VII"
    assert figure("D", q["diminished"], 1, "C", "minor") == "iio6"
    assert figure("C", q["major"], 0, "C", "minor") == "I"
    assert figure("E", q["major"], 0, "A", "minor") == "V"
    assert figure("A-", q["major"], 0, "C", "major") == "bVI"
    assert figure("C", -1, -1, "C", "major") is None


def test_figures_agree_with_music21_on_diatonic_triads() -> None:
    from music21 import chord, key, roman

    for tonic, mode, triads in (
        ("E-", "major", ["E-4 G4 B-4", "F4 A-4 C5", "B-3 D4 F4"]),
        ("F#", "minor", ["F#4 A4 C#5", "C#4 E#4 G#4", "B3 D4 F#4"]),
    ):
        k = key.Key(tonic if mode == "major" else tonic.lower())
        for text in triads:
            pitches = text.split()
            expected = roman.romanNumeralFromChord(chord.Chord(pitches), k).figure
            b = build(["A"], 1, [(0, 0, 0, 1, pitches)])
            s = b.context().slices.measures[0]
            assert (
                figure(s.root_name[0], int(s.quality[0]), int(s.inversion[0]), tonic, mode)
                == expected
            )


def test_broken_chords_are_labelled_from_their_beat() -> None:
    # an Alberti bass, one note at a time: C-G-E-G in sixteenths, then B-G-D-G in eighths
    # (two beats make the chord), over nothing else
    notes: list[NoteSpec] = [
        (0, 0, onset / 4, "1/4", [pitch]) for onset, pitch in enumerate(["C4", "G4", "E4", "G4"])
    ]
    notes += [
        (0, 0, 2 + onset / 2, "1/2", [pitch])
        for onset, pitch in enumerate(["B3", "G4", "D4", "G4"])
    ]
    b = build(["Piano"], 1, notes)
    slices = b.result("harmony", learned=False)["slices"]  # the rules (the model: below)
    assert [s["root"] for s in slices] == ["C"] * 4 + ["G"] * 4
    assert {s["quality"] for s in slices} == {"major"}
    assert [s["inversion"] for s in slices] == [0] * 4 + [1] * 4  # over the beat's bass
    # a four-part chord is never thin: its own notes decide
    full = build(SATB_NAMES, 1, satb([(0, 0, 2, ONE), (0, 2, 2, FIVE)])).result("harmony")
    assert [s["figure"] for s in full["slices"]] == ["I", "V"]


def test_a_passing_note_in_the_melody_does_not_make_a_broken_chord_a_seventh() -> None:
    # left hand C-G-E-G in sixteenths; right hand a dotted C5 and a passing B4 sixteenth
    notes: list[NoteSpec] = [
        (0, 1, onset / 4, "1/4", [pitch]) for onset, pitch in enumerate(["C4", "G4", "E4", "G4"])
    ]
    notes += [
        (0, 0, 0, "3/4", ["C5"]),
        (0, 0, "3/4", "1/4", ["B4"]),
        (0, 0, 1, 3, ["C5"]),
        (0, 1, 1, 3, ["C4"]),
    ]
    slices = build(["Right", "Left"], 1, notes).result("harmony", learned=False)["slices"]
    assert [(s["root"], s["quality"]) for s in slices[:4]] == [("C", "major")] * 4


def test_a_unison_is_labelled_from_its_beat() -> None:
    # four parts in octaves on C, then the full chord, within one beat
    notes = satb([(0, 0, "1/2", ["C3", "C4", "C4", "C5"]), (0, "1/2", "1/2", ONE), (0, 1, 1, FIVE)])
    slices = build(SATB_NAMES, 1, notes).result("harmony")["slices"]
    assert [(s["root"], s["quality"]) for s in slices] == [
        ("C", "major"),
        ("C", "major"),
        ("G", "major"),
    ]


def test_a_melody_note_outside_its_beats_chord_keeps_the_chords_spelling() -> None:
    # a lone melody in G major: the passing A is labelled from its measure's G major
    # chord, and its root is spelled G (not A double flat, from the A's letter)
    melody = ["G4", "A4", "B4", "G4", "C5", "B4", "A4", "A4"]
    notes: list[NoteSpec] = [(i // 4, 0, i % 4, 1, [p]) for i, p in enumerate(melody)]
    built = build(["Soprano"], 2, notes, key=KeySignature(1, "major"))
    slices = built.result("harmony", learned=False)["slices"]  # the rules' spelling
    roots = [s["root"] for s in slices]
    assert not any("--" in r or r in ("C-", "F-", "B#", "E#") for r in roots), roots
    assert (slices[1]["pitches"], slices[1]["root"], slices[1]["figure"]) == (["A4"], "G", "I")
    assert all(s["figure"] is None or "bb" not in s["figure"] for s in slices)


def test_augmented_sixths_are_named_as_analysts_name_them() -> None:
    seventh = QUALITY_INDEX["dominant-seventh"]
    for mode in ("major", "minor"):
        # A-flat, C, E-flat, F-sharp over each of its notes: a German sixth
        assert [figure("A-", seventh, i, "C", mode) for i in range(4)] == [
            "Ger65",
            "Ger43",
            "Ger42",
            "Ger7",
        ]
        # without its fifth, an Italian sixth
        assert figure("A-", seventh, 0, "C", mode, fifth=False) == "It6"
        assert figure("A-", seventh, 3, "C", mode, fifth=False) == "It53"
    # an A-flat major triad stays the sixth degree; a seventh elsewhere is not an augmented sixth
    assert figure("A-", QUALITY_INDEX["major"], 0, "C", "major") == "bVI"
    assert not str(figure("E-", seventh, 0, "F", "major")).startswith(("Ger", "It"))


def test_figures_named_by_the_chord_that_follows_in_minor() -> None:
    q = QUALITY_INDEX
    # the subtonic going to the relative major is its dominant
    assert figure("B-", q["major"], 0, "C", "minor", then=("E-", q["major"])) == "V/III"
    assert figure("B-", q["dominant-seventh"], 1, "C", "minor", then=("E-", q["major"])) == (
        "V65/III"
    )
    assert figure("B-", q["major"], 0, "C", "minor", then=("F", q["minor"])) == "VII"
    # a half-diminished seventh on the raised sixth goes to V: vi-half-diminished, not
    # the leading chord of VII (which it stays when VII follows)
    assert figure("A", q["half-diminished"], 0, "C", "minor", then=("G", q["major"])) == "viø7"
    assert figure("A", q["half-diminished"], 0, "C", "minor", then=("B-", q["major"])) == (
        "viiø7/VII"
    )
    assert figure("A", q["half-diminished"], 0, "C", "minor") == "viiø7/VII"
    # major keys keep their context-free names
    assert figure("D", q["major"], 0, "C", "major", then=("C", q["major"])) == "V/V"


def test_a_chord_is_named_by_the_next_chord_across_the_bar_line() -> None:
    # c minor: i V | i VII | III V | i, the subtonic at the end of a measure going to the
    # relative major on the next downbeat
    tonic = ["C3", "G3", "E-4", "C5"]
    dominant = ["G2", "D3", "B3", "G4"]
    subtonic = ["B-2", "F3", "D4", "B-4"]
    relative = ["E-3", "G3", "E-4", "B-4"]
    chords = [(0, 0, 2, tonic), (0, 2, 2, dominant), (1, 0, 2, tonic), (1, 2, 2, subtonic)]
    chords += [(2, 0, 2, relative), (2, 2, 2, dominant), (3, 0, 4, tonic)]
    built = build(SATB_NAMES, 4, satb(chords), key=KeySignature(-3, "minor"))
    for learned in (False, True):
        slices = built.result("harmony", learned=learned)["slices"]
        assert {s["key"] for s in slices} == {"c minor"}
        assert [s["figure"] for s in slices] == ["i", "V", "i", "V/III", "III", "V", "i"]
    measures = built.context(learned=False).slices.measures
    major = QUALITY_INDEX["major"]
    assert following_chords(measures[1], measures[2]) == [("B-", major), ("E-", major)]
    assert following_chords(measures[1]) == [("B-", major), None]
