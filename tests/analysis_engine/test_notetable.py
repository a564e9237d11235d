"""The flat note table: rows from a ScoreData, absolute times, ties, orphans, rebuilding."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from ae_scores import build

from analysis_engine import TableBuilder, build_table
from analysis_engine.units import TPQ, parse_pitch, ticks_to_str, to_ticks


def test_rows_carry_ids_times_pitches_and_ties() -> None:
    b = build(
        ["Piano", "Cello"],
        2,
        [
            (0, 0, 0, 1, ["C4", "E4"]),
            (0, 0, "1/3", "2/3", ["G4"], {"ties": ["start"]}),
            (1, 0, 0, 1, ["G4"], {"ties": ["stop"]}),
            (0, 1, 0, 4, []),  # a rest: no row
            (1, 1, 2, 2, ["B-2"], {"voice": 2}),
        ],
        time="3/4",
    )
    table = build_table(b.data())
    rows = table.rows
    assert len(table) == 5
    assert table.part_ids == tuple(b.parts)
    assert table.grid.ids == tuple(b.measures)
    assert list(table.names) == ["C4", "E4", "G4", "G4", "B-2"]
    assert list(table.note_ids) == [b.notes[0], b.notes[0], b.notes[1], b.notes[2], b.notes[4]]
    assert rows["midi"].tolist() == [60, 64, 67, 67, 46]
    assert table.onset.tolist() == [0.0, 0.0, 1 / 3, 3.0, 5.0]
    assert table.offset.tolist() == [1.0, 1.0, 1.0, 4.0, 7.0]
    assert rows["attack"].tolist() == [True, True, True, False, True]
    assert rows["tie_next"].tolist() == [False, False, True, False, False]
    assert rows["measure"].tolist() == [0, 0, 0, 1, 1]
    assert rows["part"].tolist() == [0, 0, 0, 0, 1]
    assert rows["voice"].tolist() == [1, 1, 1, 1, 2]
    assert table.measure_rows(1) == slice(3, 5)


def test_triplet_onsets_are_exact_and_comparable_across_parts() -> None:
    b = build(
        ["A", "B"],
        1,
        [
            (0, 0, "1/3", "1/3", ["C4"]),
            (0, 1, "1/3", "2/3", ["E4"]),
        ],
    )
    rows = build_table(b.data()).rows
    assert rows["start"][0] == rows["start"][1] == TPQ // 3
    assert to_ticks(Fraction(1, 3)) * 3 == TPQ
    assert ticks_to_str(TPQ * 3 // 2) == "3/2"


def test_time_signature_changes_and_pickups_place_measures() -> None:
    b = build(
        ["A"], 3, [(0, 0, 0, 1, ["C4"]), (1, 0, 0, 1, ["D4"]), (2, 0, 0, 1, ["E4"])], time="3/4"
    )
    b.editor.set_pickup(b.measures[0], True)
    b.editor.set_time_signature(b.measures[2], "6/8")
    table = build_table(b.data())
    assert table.grid.start.tolist() == [0, TPQ, 4 * TPQ, 7 * TPQ]
    assert table.grid.phase.tolist() == [2 * TPQ, 0, 0]
    assert table.onset.tolist() == [0.0, 1.0, 4.0]
    assert table.grid.numbers.tolist() == [0, 1, 2]


def test_orphan_notes_are_skipped() -> None:
    b = build(["A"], 2, [(0, 0, 0, 1, ["C4"]), (1, 0, 0, 1, ["D4"])])
    data = b.data()
    data.measures = data.measures[:1]  # the note of measure 2 now points nowhere
    table = build_table(data)
    assert list(table.names) == ["C4"]


def test_builder_rebuilds_only_touched_cells_and_matches_a_fresh_build() -> None:
    b = build(["A", "B"], 3, [(m, p, 0, 1, ["C4"]) for m in range(3) for p in range(2)])
    builder = TableBuilder()
    first = builder.build(b.data())
    stamps = first.stamps.copy()
    b.editor.set_pitches(b.notes[2], "D4")  # measure 2, part A
    second = builder.build(b.data(), changed_notes=[b.notes[2]])
    assert builder.rebuilt == {(b.measures[1], b.parts[0])}
    changed = np.argwhere(second.stamps != stamps).tolist()
    assert changed == [[1, 0]]
    fresh = build_table(b.data())
    assert np.array_equal(second.rows, fresh.rows)
    assert list(second.note_ids) == list(fresh.note_ids)
    b.editor.move_note(b.notes[0], b.measures[2], 2, part=b.parts[1])
    third = builder.build(b.data(), changed_measures=[b.measures[0], b.measures[2]])
    assert np.array_equal(third.rows, build_table(b.data()).rows)
    b.editor.delete_note(b.notes[5])
    fourth = builder.build(b.data())  # no hint: compares every cell
    assert np.array_equal(fourth.rows, build_table(b.data()).rows)
    assert builder.rebuilt == {(b.measures[2], b.parts[1])}


def test_pitch_names_parse_to_midi() -> None:
    assert parse_pitch("C4") == (60, 0, 0)
    assert parse_pitch("B#3")[0] == 60
    assert parse_pitch("C-4")[0] == 59
    assert parse_pitch("F##5")[0] == 79
    assert parse_pitch("A0")[0] == 21
