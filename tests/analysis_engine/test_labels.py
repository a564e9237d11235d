"""Words a musician reads: labels beside the codes in results and in ``orpheus analyze``."""

from __future__ import annotations

import re
from pathlib import Path

from ae_scores import (
    DECEPTIVE_THEN_AUTHENTIC,
    FIVE,
    FOUR,
    ONE,
    ONE6,
    SATB_NAMES,
    TWO6,
    build,
    satb,
)
from click.testing import CliRunner

from analysis_engine.labels import (
    cadence_label,
    figure_label,
    issue_label,
    key_label,
    note_label,
)
from collab_server.cli.analysis import analyze, summary_text
from score_model.schema import KeySignature


def test_cadence_key_note_and_issue_words() -> None:
    assert cadence_label("authentic", True) == "perfect authentic cadence"
    assert cadence_label("authentic", False) == "imperfect authentic cadence"
    assert cadence_label("half") == "half cadence"
    assert cadence_label("plagal") == "plagal cadence"
    assert cadence_label("deceptive") == "deceptive cadence"
    assert key_label("e- major") == "E♭ major"
    assert key_label("c# minor") == "C♯ minor"
    assert key_label("C major") == "C major"
    assert note_label("F#3") == "F♯3" and note_label("B--") == "B𝄫"
    assert issue_label("parallel_fifths") == "parallel fifths"
    assert issue_label("overlap") == "voice overlap"
    assert figure_label("viio7/ii") == "vii°7/ii" and figure_label("io") == "i°"
    assert figure_label("viiø7") == "viiø7" and figure_label("Ger65") == "Ger65"


def test_cadences_carry_a_label_beside_their_codes() -> None:
    half = build(
        SATB_NAMES,
        2,
        satb([(0, 0, 1, ONE), (0, 1, 1, FOUR), (0, 2, 1, ONE6), (0, 3, 1, TWO6), (1, 0, 2, FIVE)]),
    ).result("harmony")
    assert [(c["type"], c["label"]) for c in half["cadences"]] == [("half", "half cadence")]
    cadences = build(SATB_NAMES, 3, satb(DECEPTIVE_THEN_AUTHENTIC)).result("harmony")["cadences"]
    assert [c["label"] for c in cadences] == ["deceptive cadence", "perfect authentic cadence"]
    assert {c["key_label"] for c in cadences} == {"C major"}
    # the soprano ends on the third: an imperfect authentic cadence
    imperfect = build(
        SATB_NAMES,
        2,
        satb(
            [(0, 0, 2, ONE), (0, 2, 2, FOUR), (1, 0, 2, FIVE), (1, 2, 2, ["C3", "G3", "C4", "E5"])]
        ),
    )
    [cadence] = imperfect.result("harmony")["cadences"]
    assert (cadence["type"], cadence["perfect"]) == ("authentic", False)
    assert cadence["label"] == "imperfect authentic cadence"


def test_key_and_voice_leading_results_carry_labels() -> None:
    # E-flat major: I IV V I with parallel fifths between bass and tenor (Eb-Bb, Ab-Eb)
    b = build(
        SATB_NAMES,
        1,
        satb(
            [
                (0, 0, 1, ["E-3", "B-3", "G4", "E-5"]),
                (0, 1, 1, ["A-3", "E-4", "A-4", "C5"]),
                (0, 2, 1, ["B-2", "F4", "B-4", "D5"]),
                (0, 3, 1, ["E-3", "G4", "B-4", "E-5"]),
            ]
        ),
        key=KeySignature(-3, "major"),
    )
    key = b.result("key")
    assert key["key"].lower() == "e- major" and key["label"] == "E♭ major"
    assert key["measures"][0]["label"] == "E♭ major"
    issues = b.result("voice_leading")["issues"]
    assert {(i["type"], i["label"]) for i in issues} >= {("parallel_fifths", "parallel fifths")}


def test_orpheus_analyze_prints_words_not_codes(tmp_path: Path) -> None:
    b = build(SATB_NAMES, 3, satb(DECEPTIVE_THEN_AUTHENTIC))
    from score_model.exporter import export_score

    path = tmp_path / "cadences.json"
    path.write_bytes(export_score(b.doc, "json").data)
    result = CliRunner().invoke(analyze, [str(path)])
    assert result.exit_code == 0, result.output
    assert "deceptive cadence in C major (V-vi)" in result.output
    assert "perfect authentic cadence in C major (V7-I)" in result.output
    assert "authentic (" not in result.output


def test_orpheus_analyze_prints_diminished_figures_with_a_degree_sign() -> None:
    result = CliRunner().invoke(analyze, ["examples/chorale.mxl"])
    assert result.exit_code == 0, result.output
    figures = re.findall(r"cadence in [^(]+\(([^)]*)\)", result.output)
    assert figures and not any(re.search(r"[iIvV]o", f) for f in figures), figures


def test_summary_text_falls_back_to_codes_for_older_results() -> None:
    text = summary_text(
        "old",
        {
            "harmony": {
                "result": {
                    "slices": [],
                    "cadences": [
                        {"number": 4, "type": "half", "figures": ["I", "V"], "key": "g minor"}
                    ],
                }
            }
        },
    )
    assert "m. 4: half in g minor (I-V)" in text
