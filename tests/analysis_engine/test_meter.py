"""Metrical grids of time signatures."""

from __future__ import annotations

import numpy as np

from analysis_engine.meter import meter_of, strengths, strongest_inside
from analysis_engine.units import TPQ


def test_simple_quadruple_meter_has_a_half_bar_level() -> None:
    meter = meter_of("4/4")
    assert meter.beat == TPQ and meter.beats == 4
    assert [meter.strength(q * TPQ) for q in range(4)] == [0, 2, 1, 2]
    assert meter.strength(TPQ // 2) == 3


def test_compound_meter_beats_are_dotted() -> None:
    meter = meter_of("6/8")
    assert meter.beat == 3 * TPQ // 2 and meter.beats == 2
    assert meter.strength(0) == 0
    assert meter.strength(3 * TPQ // 2) == 1
    assert meter.strength(TPQ // 2) == 2
    assert meter_of("3/4").spacings[:2] == (3 * TPQ, TPQ)


def test_vectorised_strengths_and_crossings() -> None:
    spacings = np.array([meter_of("4/4").spacings + (10**12,) * 3] * 3)[:, :8]
    positions = np.array([0, TPQ, 2 * TPQ])
    assert strengths(positions, spacings).tolist() == [0, 2, 1]
    starts = np.array([TPQ // 2, TPQ, 0])
    ends = np.array([3 * TPQ // 2, 5 * TPQ, TPQ // 8])
    # held across beat 2 (level 2); across the next bar line (0); across nothing (8)
    assert strongest_inside(starts, ends, spacings).tolist() == [2, 0, 8]
