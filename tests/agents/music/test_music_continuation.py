"""Melody continuation: metre, key, determinism, and the learned statistics' load time."""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

from conftest import chorale_doc, chorale_view

from agents.music.continuation import continue_melody, spell_in_key
from agents.music.keyplan import key_plan
from agents.music.model import STATS_PATH, load_stats
from agents.music.tonal import Key, midi_of
from agents.music.view import apply_result, extract_view


def test_continuation_fills_whole_bars_in_the_key_and_ends_on_the_tonic() -> None:
    view = chorale_view("bwv177.4")
    result = continue_melody(view, "Soprano", measures=4, seed=7)
    notes = result.parts[0].notes
    assert sorted({n.measure for n in notes}) == ["+1", "+2", "+3", "+4"]
    for measure in ("+1", "+2", "+3", "+4"):
        bar = [n for n in notes if n.measure == measure]
        assert bar[0].onset == 0
        assert all(a.onset + a.duration == b.onset for a, b in itertools.pairwise(bar))
        assert sum((n.duration for n in bar), Fraction(0)) == 4  # 4/4
    key = key_plan(view, [view.part("Soprano").voice(1)]).measures[-1]
    in_key = [key.degree_of_pc(midi_of(n.pitches[0]) % 12) is not None for n in notes]
    assert sum(in_key) >= 0.9 * len(notes)
    assert midi_of(notes[-1].pitches[0]) % 12 == key.tonic_pc
    melody = [midi_of(e.pitches[0]) for cell in view.part("Soprano").measures for e in cell]
    assert all(min(melody) - 2 <= midi_of(n.pitches[0]) <= max(melody) + 2 for n in notes)


def test_same_seed_same_melody_other_seed_other_melody() -> None:
    view = chorale_view("bwv165.6")
    first = continue_melody(view, "Soprano", measures=3, seed=1)
    assert continue_melody(view, "Soprano", measures=3, seed=1) == first
    others = {
        continue_melody(view, "Soprano", measures=3, seed=s).parts[0].notes for s in range(2, 6)
    }
    assert any(notes != first.parts[0].notes for notes in others)


def test_empty_bars_are_filled_before_bars_are_appended() -> None:
    score = chorale_doc("bwv165.6")
    view = extract_view(score)
    result = continue_melody(view, "Soprano", measures=2, seed=3)
    written = apply_result(score, result)
    assert len(written["measures"]) == 2
    after = extract_view(score)
    assert len(after.measures) == len(view.measures) + 2
    assert all(after.part("Soprano").measures[-1])


def test_statistics_load_in_milliseconds() -> None:
    started = time.perf_counter()
    stats = load_stats.__wrapped__(STATS_PATH)
    assert time.perf_counter() - started < 0.1
    assert stats.chorales > 300
    assert stats.melody["rhythm"]["4/4"] and stats.harmony["transition"]["major"]


def test_spelling_in_key() -> None:
    e_flat = Key.parse("E- major")
    assert [spell_in_key(m, e_flat) for m in (63, 65, 67, 68, 70, 72, 74, 66, 64)] == [
        "E-4",
        "F4",
        "G4",
        "A-4",
        "B-4",
        "C5",
        "D5",
        "G-4",
        "F-4",
    ]
    a_minor = Key.parse("a minor")
    assert [spell_in_key(m, a_minor) for m in (68, 66, 70)] == ["G#4", "F#4", "B-4"]
