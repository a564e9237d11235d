"""The learned key and chord model (analysis_engine/learned): its weights, determinism,
transposition equivariance, incremental use, and a real chorale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from ae_scores import DECEPTIVE_THEN_AUTHENTIC, SATB_NAMES, build, satb, transpose

from analysis_engine import AnalysisContext, IncrementalAnalyzer, build_table, run_all
from analysis_engine.learned.chord_model import chord_scores
from analysis_engine.learned.features import CHORD_CHANNELS, CHORD_SCALARS
from analysis_engine.learned.key_model import key_log_probs
from analysis_engine.learned.mlp import equivariant_forward, forward
from analysis_engine.learned.rotate import rotated
from analysis_engine.learned.weights import WEIGHTS_PATH, load_weights
from analysis_engine.registry import run
from analysis_engine.settings import AnalysisSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def cadence(semitones: int = 0):
    chords = [
        (m, onset, duration, [transpose(p, semitones) for p in chord])
        for m, onset, duration, chord in DECEPTIVE_THEN_AUTHENTIC
    ]
    return build(SATB_NAMES, 3, satb(chords))


def test_weights_load_and_are_small() -> None:
    weights = load_weights()
    assert WEIGHTS_PATH.stat().st_size < 2_000_000
    assert weights.key[-1][0].shape[1] == 2  # major and minor on the candidate tonic
    assert weights.chord[-1][0].shape[1] == 32  # quality x inversion on the candidate root
    for layers in (weights.key, weights.chord):
        for (w, b), (w_next, _) in zip(layers, layers[1:], strict=False):  # noqa: RUF007
            assert w.shape[1] == b.shape[0] == w_next.shape[0]
    assert weights.key_change_cost > 0


def test_inference_is_deterministic() -> None:
    data = cadence().data()
    first = run_all(build_table(data), version=1)
    second = run_all(build_table(data), version=1)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_the_networks_are_transposition_equivariant() -> None:
    rng = np.random.default_rng(0)
    weights = load_weights()
    pc_time = rng.integers(0, 5, size=(6, 12))
    bass = rng.integers(0, 3, size=(6, 12))
    signature = np.array([0, 0, 0, 7, 7, 7])
    rule = np.array([0, 0, 12, 7, 7, 19])
    windows = rng.standard_normal((6, 24))
    whole = rng.standard_normal(24)

    def roll(values: np.ndarray, k: int) -> np.ndarray:
        return np.concatenate(
            [np.roll(values[..., :12], k, axis=-1), np.roll(values[..., 12:], k, axis=-1)], -1
        )

    chords = rng.integers(0, 4, size=(6, 4, 12))
    base = key_log_probs(pc_time, bass, signature, rule, windows, whole, chords, weights)
    for k in (1, 5, 11):
        moved = key_log_probs(
            np.roll(pc_time, k, axis=1),
            np.roll(bass, k, axis=1),
            (signature + k) % 12,
            (rule % 12 + k) % 12 + 12 * (rule >= 12),
            roll(windows, k),
            roll(whole, k),
            np.roll(chords, k, axis=2),
            weights,
        )
        np.testing.assert_allclose(moved, roll(base, k), atol=1e-4)


def test_transposing_a_score_transposes_keys_and_roots() -> None:
    results = []
    for semitones in (0, 2, 7):
        ctx = AnalysisContext(build_table(cadence(semitones).data()), AnalysisSettings())
        keys = [int(k) for k in ctx.keys.path]
        slices = ctx.slices.flat
        results.append((semitones, keys, slices.root.tolist(), slices.quality.tolist()))
    _, keys0, roots0, qualities0 = results[0]
    assert keys0[0] == 0  # C major
    for semitones, keys, roots, qualities in results[1:]:
        assert keys == [(k % 12 + semitones) % 12 + 12 * (k >= 12) for k in keys0]
        assert roots == [(r + semitones) % 12 for r in roots0]
        assert qualities == qualities0


def test_the_chord_network_scores_every_slice() -> None:
    ctx = AnalysisContext(build_table(cadence().data()), AnalysisSettings())
    measures = ctx.rule_slices.measures
    scores = chord_scores(None, measures[0], measures[1], 20160, 0, load_weights())
    assert scores.shape == (measures[0].size, 12 * 32)
    figures = [e["figure"] for e in run("harmony", ctx)["result"]["slices"]]
    assert figures[0] == "I" and figures[-1] == "I"


def test_incremental_equals_from_scratch_with_the_model() -> None:
    settings = AnalysisSettings(learned=True)
    b = cadence()
    analyzer = IncrementalAnalyzer(settings=settings)
    analyzer.update(b.data(), version=0)
    for version, (index, pitch) in enumerate([(0, "D5"), (9, "F#3"), (30, "C#4")], start=1):
        note_id = sorted(b.data().notes)[index % len(b.data().notes)]
        b.editor.set_pitches(note_id, pitch)
        data = b.data()
        result = analyzer.update(data, version, changed_notes=[note_id])
        fresh = run_all(build_table(data), version=version, settings=settings)
        assert json.dumps(result, sort_keys=True) == json.dumps(fresh, sort_keys=True)
    assert analyzer.recomputed["learned.chords"] <= 3  # the edited measure and its neighbours


def test_a_real_chorale_gets_the_experts_keys() -> None:
    from accuracy_chorales import columns, corpus_dir, expert_labels
    from music21 import converter

    from score_model.importer import import_score

    # Riemenschneider 2 (BWV 347): in When-in-Rome's report part, so not a training piece
    path = corpus_dir() / "bach/bwv347.mxl"
    doc = import_score(path.read_bytes(), filename=path.name)
    ctx = AnalysisContext(build_table(doc.read()), AnalysisSettings())
    labels = expert_labels(
        corpus_dir() / "bach/choraleAnalyses/riemenschneider002.rntxt",
        columns(converter.parse(str(path))),
    )
    hits = sum(
        (
            int(ctx.keys.path[label.column]) % 12,
            "minor" if ctx.keys.path[label.column] >= 12 else "major",
        )
        == label.key
        for label in labels
    )
    assert len(labels) > 40 and hits / len(labels) >= 0.8


def test_the_unrolled_first_layer_equals_rotating_the_inputs() -> None:
    rng = np.random.default_rng(1)
    weights = load_weights()
    channels = rng.random((5, CHORD_CHANNELS, 12))
    scalars = rng.random((5, CHORD_SCALARS))
    direct = forward(rotated(channels, scalars), weights.chord)
    unrolled = equivariant_forward(channels, scalars, weights.chord, weights.chord_unrolled)
    np.testing.assert_allclose(unrolled, direct, rtol=1e-4, atol=1e-4)
