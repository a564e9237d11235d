"""Changes of key placed inside the bar (analysis_engine/learned/turns.py): the slices'
keys, the harmony's figures and keys, the modulation's onset, transposition, the plain
measure keys without the model, and incremental use."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from ae_scores import FOUR, ONE, SATB_NAMES, Built, build, satb, transpose

from analysis_engine import AnalysisContext, IncrementalAnalyzer, build_table, run_all
from analysis_engine.learned.turns import TurnModel, place_changes
from analysis_engine.learned.weights import WEIGHTS_PATH, load_weights
from analysis_engine.registry import run
from analysis_engine.settings import AnalysisSettings
from collab_server.cli.analysis import summary_text

C, F = ONE, FOUR
G7 = ["G2", "F3", "B3", "D5"]
D7 = ["D3", "F#3", "C4", "A4"]  # the new key's dominant, on the third beat of bar 3
G = ["G2", "D4", "B4", "G5"]
C64 = ["C3", "G3", "E4", "G4"]
D = ["D3", "F#3", "A3", "D5"]
# C major for two bars and a half, then G major: I IV | V7 I | I V7/G | I IV | V V7 | I
C_TO_G = [
    (0, 0, 2, C),
    (0, 2, 2, F),
    (1, 0, 2, G7),
    (1, 2, 2, C),
    (2, 0, 2, C),
    (2, 2, 2, D7),
    (3, 0, 2, G),
    (3, 2, 2, C64),
    (4, 0, 2, D),
    (4, 2, 2, D7),
    (5, 0, 4, G),
]


def c_to_g(semitones: int = 0) -> Built:
    chords = [
        (m, onset, duration, [transpose(p, semitones) for p in chord])
        for m, onset, duration, chord in C_TO_G
    ]
    return build(SATB_NAMES, 6, satb(chords))


def context(b: Built, learned: bool = True) -> AnalysisContext:
    return AnalysisContext(build_table(b.data()), AnalysisSettings(learned=learned))


def test_the_change_moves_to_the_new_dominant_inside_the_bar() -> None:
    b = c_to_g()
    ctx = context(b)
    assert [int(k) for k in ctx.keys.path] == [0, 0, 0, 7, 7, 7]  # per measure: C, then G
    assert [k.tolist() for k in ctx.slice_keys] == [[0, 0], [0, 0], [0, 7], [7, 7], [7, 7], [7]]
    entries = run("harmony", ctx)["result"]["slices"]
    bar3 = [(e["onset"], e["figure"], e["key"]) for e in entries if e["measure"] == b.measures[2]]
    assert bar3 == [("0", "I", "C major"), ("2", "V7", "G major")]
    key = run("key", ctx)["result"]
    assert [m["key"] for m in key["measures"]] == ["C major"] * 3 + ["G major"] * 3
    [modulation] = key["modulations"]
    assert (
        modulation["measure"],
        modulation["number"],
        modulation["onset"],
        modulation["beat"],
    ) == (b.measures[2], 3, "2", 3)
    text = summary_text("C to G", run_all(build_table(b.data())))
    assert "modulations: m. 3 beat 3 to G major" in text
    assert (modulation["from"], modulation["to"]) == ("C major", "G major")


def test_transposing_the_score_transposes_the_slices_keys() -> None:
    base = [k.tolist() for k in context(c_to_g()).slice_keys]
    for semitones in (2, 5):
        moved = [k.tolist() for k in context(c_to_g(semitones)).slice_keys]
        assert moved == [[(k + semitones) % 12 + 12 * (k >= 12) for k in m] for m in base]


def test_without_the_model_every_slice_has_its_measures_key() -> None:
    ctx = context(c_to_g(), learned=False)
    for m, keys in enumerate(ctx.slice_keys):
        assert keys.tolist() == [int(ctx.keys.path[m])] * len(keys)


def test_with_no_evidence_either_way_a_change_stays_on_the_bar_line() -> None:
    ctx = context(c_to_g())
    flat = TurnModel(np.zeros((2, 12)), np.zeros((2, 12, 9)), cost=0.5)
    keys = place_changes(ctx.keys.path, ctx.rule_slices.measures, flat)
    assert [k.tolist() for k in keys] == [
        [int(ctx.keys.path[m])] * len(k) for m, k in enumerate(keys)
    ]


def test_a_weights_file_without_the_turns_loads_without_them(tmp_path: Path) -> None:
    with np.load(WEIGHTS_PATH) as archive:
        arrays = {n: archive[n] for n in archive.files if not n.startswith("turn_")}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    older = tmp_path / "older.npz"
    older.write_bytes(buffer.getvalue())
    assert load_weights(older).turns is None
    turns = load_weights().turns
    assert turns is not None and turns.pitch.shape == (2, 12) and turns.cost > 0


def test_incremental_equals_from_scratch_as_the_change_moves() -> None:
    """An edit in the last bar (the final G major chord's D made C) keeps the path in C
    major longer and moves the change of key out of bar 3, three bars away, whose notes
    and neighbours did not change: bar 3's entries must be relabelled all the same (their
    slices' keys are in the cache key)."""
    b = c_to_g()
    settings = AnalysisSettings()
    analyzer = IncrementalAnalyzer(settings=settings)
    analyzer.update(b.data(), version=0)
    d4 = b.notes[42]  # the tenor's D in the last bar
    assert b.data().notes[d4].pitches == ("D4",)
    bar3 = []
    for version, pitch in enumerate(["C4", "D4"], start=1):
        b.editor.set_pitches(d4, pitch)
        data = b.data()
        result = analyzer.update(data, version, changed_notes=[d4])
        fresh = run_all(build_table(data), version=version, settings=settings)
        assert json.dumps(result, sort_keys=True) == json.dumps(fresh, sort_keys=True)
        slices = result["harmony"]["result"]["slices"]
        bar3.append([(e["figure"], e["key"]) for e in slices if e["measure"] == b.measures[2]])
    assert bar3 == [
        [("I", "C major"), ("V7/V", "C major")],
        [("I", "C major"), ("V7", "G major")],
    ]
