"""Key finding: global key, per-measure keys, modulations."""

from __future__ import annotations

import numpy as np
from ae_scores import build

from analysis_engine.key import correlate, viterbi

C_MAJOR = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"]
G_MAJOR = ["G4", "A4", "B4", "C5", "D5", "E5", "F#5", "G5"]
A_MINOR = ["A3", "B3", "C4", "D4", "E4", "F4", "G#4", "A4"]


def scale_measures(scales: list[list[str]]) -> list[tuple]:
    """Each scale as one measure of eighths over its tonic triad arpeggiated in quarters."""
    notes = []
    for m, scale in enumerate(scales):
        for i, pitch in enumerate(scale):
            notes.append((m, 0, f"{i}/2", "1/2", [pitch]))
        root, third, fifth = scale[0][:-1], scale[2][:-1], scale[4][:-1]
        for beat, name in enumerate((root, third, fifth, root)):
            notes.append((m, 1, beat, 1, [name + "3"]))
    return notes


def test_global_key_of_a_c_major_scale_with_alternatives() -> None:
    result = build(["Melody", "Bass"], 2, scale_measures([C_MAJOR, C_MAJOR])).result("key")
    assert result["key"] == "C major"
    assert result["tonic"] == "C" and result["mode"] == "major"
    assert result["correlation"] > 0.8
    assert result["margin"] > 0
    assert len(result["alternatives"]) == 4
    assert {"G major", "a minor", "F major"} & {a["key"] for a in result["alternatives"]}


def test_minor_key_with_flats_is_spelled_from_the_signature() -> None:
    scale = ["C4", "D4", "E-4", "F4", "G4", "A-4", "B4", "C5"]
    from score_model.schema import KeySignature

    result = build(
        ["Melody", "Bass"], 2, scale_measures([scale, scale]), key=KeySignature(-3, "minor")
    ).result("key")
    assert result["key"] == "c minor"


def test_a_modulation_from_c_to_g_is_found_where_it_happens() -> None:
    # six bars of G: the learned sequence model reads a first bar or two of G major after
    # C major as a tonicisation of V, and calls the modulation once the new key lasts
    # (with four bars of G it finds it two bars late; without the model, on time)
    plan = [C_MAJOR] * 4 + [G_MAJOR] * 6
    b = build(["Melody", "Bass"], 10, scale_measures(plan))
    result = b.result("key")
    keys = [m["key"] for m in result["measures"]]
    assert keys[:3] == ["C major"] * 3 and keys[-3:] == ["G major"] * 3
    assert len(result["modulations"]) == 1
    modulation = result["modulations"][0]
    assert (modulation["from"], modulation["to"]) == ("C major", "G major")
    assert modulation["measure"] in b.measures[3:6]
    assert [m["measure"] for m in result["measures"]] == b.measures


def test_a_short_chromatic_chord_does_not_modulate() -> None:
    plan = [C_MAJOR] * 3 + [["D4", "E4", "F#4", "G4", "A4", "C5", "D5", "C5"]] + [C_MAJOR] * 3
    result = build(["Melody", "Bass"], 7, scale_measures(plan)).result("key")
    assert {m["key"] for m in result["measures"]} == {"C major"}
    assert result["modulations"] == []


def test_correlation_rows_do_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(1)
    histograms = rng.integers(0, 50_000, size=(40, 12))
    whole = correlate(histograms)
    for start in (0, 7, 31):
        assert np.array_equal(correlate(histograms[start : start + 3]), whole[start : start + 3])
    assert np.array_equal(correlate(np.zeros((1, 12))), np.zeros((1, 24)))


def test_viterbi_pays_for_changes() -> None:
    scores = np.array([[1.0, 0.0], [0.3, 0.7], [1.0, 0.0]])
    cheap = np.array([[0.0, 0.1], [0.1, 0.0]])
    dear = np.array([[0.0, 0.5], [0.5, 0.0]])
    assert viterbi(scores, cheap).tolist() == [0, 1, 0]
    assert viterbi(scores, dear).tolist() == [0, 0, 0]
