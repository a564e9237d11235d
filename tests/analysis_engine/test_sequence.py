"""The sequence model (analysis_engine/learned/sequence.py): its numpy GRU against a plain
reading of the GRU's equations, its windows, transposition, and incremental use."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from ae_scores import SATB_NAMES, build, satb, transpose

from analysis_engine import AnalysisContext, IncrementalAnalyzer, build_table, run_all
from analysis_engine.learned.features import CHORD_CHANNELS, CHORD_SCALARS
from analysis_engine.learned.sequence import (
    BLOCK,
    CONTEXT,
    GROUP,
    SEQUENCE_PATH,
    SequenceWeights,
    hidden_states,
    load_sequence,
    plan_windows,
    run_windows,
    window_rows,
)
from analysis_engine.settings import AnalysisSettings


def reference_states(weights: SequenceWeights, x: np.ndarray) -> np.ndarray:
    """The GRU as PyTorch documents it, one sequence, step by step, in float64:
    r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r * (W_hn h
    + b_hn)), h' = (1 - z) * n + z * h; the backward direction over the reversed input."""
    h_in = np.maximum(x @ weights.inp[0] + weights.inp[1], 0.0).astype(np.float64)
    for layer in weights.layers:
        size = layer.w_hh.shape[1]
        outs = []
        for d in (0, 1):
            seq = h_in if d == 0 else h_in[::-1]
            h = np.zeros(size)
            states = []
            for v in seq:
                gi = v @ layer.w_ih[d] + layer.b_ih[d]
                gh = h @ layer.w_hh[d] + layer.b_hh[d][0]
                r = 1 / (1 + np.exp(-(gi[:size] + gh[:size])))
                z = 1 / (1 + np.exp(-(gi[size : 2 * size] + gh[size : 2 * size])))
                n = np.tanh(gi[2 * size :] + r * gh[2 * size :])
                h = (1 - z) * n + z * h
                states.append(h)
            outs.append(np.array(states) if d == 0 else np.array(states)[::-1])
        h_in = np.concatenate(outs, axis=1)
    return h_in


def test_the_weights_ship_small_and_load() -> None:
    weights = load_sequence()
    assert SEQUENCE_PATH.stat().st_size < 2_500_000
    assert len(weights.mean) == CHORD_CHANNELS * 12 + CHORD_SCALARS
    assert weights.key[0].shape[1] == 24 and weights.chord[0].shape[1] == 12 * 32
    assert weights.shifts and weights.key_weight > 0 and weights.chord_weight > 0


def test_the_numpy_gru_follows_the_equations_on_padded_batches() -> None:
    weights = load_sequence()
    rng = np.random.default_rng(3)
    lengths = np.array([9, 30, 1, 17])
    x = np.zeros((4, 30, len(weights.mean)), np.float32)
    for b, n in enumerate(lengths):
        x[b, :n] = rng.standard_normal((n, len(weights.mean)))
    states = hidden_states(weights, x, lengths)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(states[b, :n], reference_states(weights, x[b, :n]), atol=1e-4)


def test_windows_cover_every_measure_once_with_bounded_context() -> None:
    rng = np.random.default_rng(5)
    sizes = rng.integers(0, 12, size=53).tolist()
    sizes[10:14] = [0, 0, 0, 0]
    plans = plan_windows(sizes)
    covered = [m for p in plans for m in range(p.first, p.last)]
    assert covered == list(range(53))
    features = [
        (np.full((n, CHORD_CHANNELS, 12), m, np.float32), np.zeros((n, CHORD_SCALARS)))
        for m, n in enumerate(sizes)
    ]
    for plan in plans:
        assert plan.last - plan.first <= BLOCK
        assert plan.before <= CONTEXT and plan.after <= CONTEXT
        channels, _, start, end = window_rows(plan, features)
        owners = channels[:, 0, 0].astype(int)
        assert owners[start:end].tolist() == [
            m for m in range(plan.first, plan.last) for _ in range(sizes[m])
        ]
        assert start == plan.before and len(owners) - end == plan.after
        assert all(m < plan.first for m in owners[:start])
        assert all(m >= plan.last for m in owners[end:])
        if plan.lo > 0:  # the context is full unless the score starts inside it
            assert plan.before == CONTEXT


def test_averaged_transpositions_transpose_the_outputs_exactly() -> None:
    weights = replace(load_sequence(), shifts=(0, 4, 8))  # a set closed under a third
    rng = np.random.default_rng(7)
    channels = rng.random((40, CHORD_CHANNELS, 12)).astype(np.float32)
    scalars = rng.random((40, CHORD_SCALARS)).astype(np.float32)
    [(key, chord)] = run_windows(weights, [(channels, scalars, 4, 36)])
    [(key_up, chord_up)] = run_windows(weights, [(np.roll(channels, 4, axis=2), scalars, 4, 36)])
    np.testing.assert_allclose(
        key_up.reshape(-1, 2, 12), np.roll(key.reshape(-1, 2, 12), 4, axis=2), atol=1e-4
    )
    np.testing.assert_allclose(
        chord_up.reshape(-1, 12, 32), np.roll(chord.reshape(-1, 12, 32), 4, axis=1), atol=1e-4
    )


def test_the_packaged_model_nearly_commutes_with_transposition() -> None:
    """Trained on randomly transposed music: its best key and chord move with the score
    for nearly every slice of a progression, at every transposition (the sums with the
    equivariant MLPs, and the key path over measures, then move with it: test_learned)."""
    weights = load_sequence()
    ctx = AnalysisContext(build_table(long_score().data()), AnalysisSettings())
    channels = np.concatenate([c for c, _ in ctx.chord_features])
    scalars = np.concatenate([s for _, s in ctx.chord_features])
    size = len(channels)
    [(key, chord)] = run_windows(weights, [(channels, scalars, 0, size)])
    for k in range(1, 12):
        [(key_k, chord_k)] = run_windows(
            weights, [(np.roll(channels, k, axis=2), scalars, 0, size)]
        )
        best = key.argmax(1)
        moved = (best % 12 + k) % 12 + 12 * (best // 12)
        assert (key_k.argmax(1) == moved).mean() >= 0.8  # measured: 86-98%
        best = chord.argmax(1)
        moved = (best // 32 + k) % 12 * 32 + best % 32
        assert (chord_k.argmax(1) == moved).mean() >= 0.95  # measured: all of them


def long_score():
    """Forty bars of a four-part cadence, moving up a tone every eight bars."""
    progression = [
        ["C3", "G3", "E4", "C5"],
        ["F3", "A3", "C4", "F4"],
        ["G3", "B3", "D4", "G4"],
        ["C3", "G3", "E4", "C5"],
    ]
    chords = [
        (m, beat, 1, [transpose(p, (m // 8) * 2) for p in chord])
        for m in range(40)
        for beat, chord in enumerate(progression)
    ]
    return build(SATB_NAMES, 40, satb(chords))


def test_an_edit_recomputes_only_the_windows_that_read_it() -> None:
    b = long_score()
    settings = AnalysisSettings()
    analyzer = IncrementalAnalyzer(settings=settings)
    analyzer.update(b.data(), version=0)
    windows = -(-40 // BLOCK)
    assert analyzer.recomputed["learned.sequence"] == -(-windows // GROUP)  # groups
    for version, index in enumerate((5, 300, 600), start=1):
        note_id = sorted(b.data().notes)[index % len(b.data().notes)]
        b.editor.set_pitches(note_id, "B-3")
        data = b.data()
        result = analyzer.update(data, version, changed_notes=[note_id])
        fresh = run_all(build_table(data), version=version, settings=settings)
        assert json.dumps(result, sort_keys=True) == json.dumps(fresh, sort_keys=True)
        assert 1 <= analyzer.recomputed["learned.sequence"] <= 2  # its group (or two)


def test_the_sequence_model_changes_labels_only_through_its_setting() -> None:
    data = long_score().data()
    with_it = AnalysisContext(build_table(data), AnalysisSettings())
    without = AnalysisContext(build_table(data), AnalysisSettings(sequence=False))
    assert with_it.sequence is not None and without.sequence is None
    assert len(with_it.sequence.chord) == len(with_it.rule_slices.measures)
    assert "learned.sequence" not in without.memo.misses
