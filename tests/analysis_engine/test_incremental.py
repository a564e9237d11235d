"""Incremental analysis equals a from-scratch analysis after any sequence of edits."""

from __future__ import annotations

import json
from typing import Any

from ae_scores import SATB_NAMES, build, satb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_engine import (
    AnalysisSettings,
    IncrementalAnalyzer,
    apply_note_changes,
    build_table,
    changed_notes,
    refresh_structure,
    run_all,
)
from score_model.document import ScoreDoc
from score_model.ops import EditError, ScoreEditor
from score_model.schema import KeySignature

PITCHES = ["C3", "G3", "B-3", "C4", "E4", "F#4", "G4", "A4", "C5", "D5", "E-5", "G5"]
ONSETS = ["0", "1/2", "1", "4/3", "3/2", "2", "3", "7/2"]
DURATIONS = ["1/3", "1/2", "1", "3/2", "2", "3", "5"]  # "5" overflows the bar on purpose

note_edit = st.one_of(
    st.tuples(
        st.just("add"),
        st.integers(0, 9),
        st.integers(0, 2),
        st.sampled_from(ONSETS),
        st.sampled_from(DURATIONS),
        st.lists(st.sampled_from(PITCHES), max_size=3),
        st.sampled_from([None, "start", "stop"]),
        st.integers(1, 2),
    ),
    st.tuples(
        st.just("pitch"),
        st.integers(0, 99),
        st.lists(st.sampled_from(PITCHES), min_size=1, max_size=3),
    ),
    st.tuples(st.just("duration"), st.integers(0, 99), st.sampled_from(DURATIONS)),
    st.tuples(st.just("move"), st.integers(0, 99), st.integers(0, 9), st.sampled_from(ONSETS)),
    st.tuples(st.just("delete"), st.integers(0, 99)),
)
structural_edit = st.one_of(
    st.tuples(st.just("insert_measure"), st.integers(0, 9)),
    st.tuples(st.just("delete_measure"), st.integers(0, 9)),
    st.tuples(st.just("move_measure"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("time"), st.integers(0, 9), st.sampled_from(["3/4", "6/8", "2/2", None])),
    st.tuples(st.just("key"), st.integers(0, 9), st.integers(-4, 4)),
    st.tuples(st.just("pickup"), st.booleans()),
    st.tuples(
        st.just("rename_part"),
        st.integers(0, 2),
        st.sampled_from(["Soprano", "Alto", "Violin", "Bass"]),
    ),
)
hint = st.sampled_from(["notes", "measures", "none"])


LINES = (
    ["C5", "D5", "E5", "F5", "G5", "A5", "G5", "F5"],  # parallel fifths and octaves
    ["F4", "G4", "A4", "B-4", "C5", "D5", "C5", "B-4"],  # across every bar line
    ["C3", "D3", "E3", "F3", "G3", "A3", "G3", "F3"],
)


def start_score():
    notes = [
        (i // 2, p, 2 * (i % 2), 2, [pitch])
        for p, line in enumerate(LINES)
        for i, pitch in enumerate(line)
    ]
    return build(["Soprano", "Alto", "Bass"], 4, notes)


def apply(editor: ScoreEditor, doc: ScoreDoc, edit: tuple[Any, ...]) -> None:
    data = doc.read()
    measures = [m.id for m in data.measures]
    parts = [p.id for p in data.parts]
    notes = sorted(data.notes)
    kind = edit[0]
    try:
        if kind == "add" and measures:
            _, m, p, onset, duration, pitches, tie, voice = edit
            fields: dict[str, Any] = {"voice": voice}
            if tie and pitches:
                fields["ties"] = [tie] * len(pitches)
            editor.add_note(
                measures[m % len(measures)],
                parts[p % len(parts)],
                onset,
                duration,
                pitches,
                **fields,
            )
        elif kind in ("pitch", "duration", "move", "delete") and notes:
            note_id = notes[edit[1] % len(notes)]
            if kind == "pitch":
                editor.set_pitches(note_id, edit[2])
            elif kind == "duration":
                editor.set_duration(note_id, edit[2])
            elif kind == "move" and measures:
                editor.move_note(
                    note_id,
                    measures[edit[2] % len(measures)],
                    edit[3],
                    part=data.notes[note_id].part,
                )
            elif kind == "delete":
                editor.delete_note(note_id)
        elif kind == "insert_measure":
            editor.insert_measure(edit[1])
        elif kind == "delete_measure" and len(measures) > 1:
            editor.delete_measure(measures[edit[1] % len(measures)])
        elif kind == "move_measure" and measures:
            editor.move_measure(measures[edit[1] % len(measures)], edit[2])
        elif kind == "time" and measures:
            editor.set_time_signature(measures[edit[1] % len(measures)], edit[2])
        elif kind == "key" and measures:
            editor.set_key(measures[edit[1] % len(measures)], edit[2])
        elif kind == "pickup" and measures:
            editor.set_pickup(measures[0], edit[1])
        elif kind == "rename_part":
            editor.update_part(parts[edit[1] % len(parts)], name=edit[2])
    except EditError:
        pass  # an edit the document refuses changes nothing


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.one_of(note_edit, note_edit, structural_edit), hint), min_size=1, max_size=7
    )
)
def test_incremental_equals_full_after_random_edits(steps: list[tuple[Any, str]]) -> None:
    b = start_score()
    analyzer = IncrementalAnalyzer()
    data = b.data()
    analyzer.update(data, version=0)
    for version, (edit, how) in enumerate(steps, start=1):
        apply(b.editor, b.doc, edit)
        new = b.data()
        if how == "notes":
            result = analyzer.update(new, version, changed_notes=_changed(data, new))
        elif how == "measures":
            touched = {n.measure for n in data.notes.values()} | {
                n.measure for n in new.notes.values()
            }
            result = analyzer.update(new, version, changed_measures=touched)
        else:
            result = analyzer.update(new, version)
        assert same(result, run_all(build_table(new), version=version)), (version, edit)
        data = new


def _changed(old, new) -> set[str]:
    """Note ids whose stored JSON differs (computed here, not with the library's helper)."""
    old_raw = {k: v.to_json() for k, v in old.notes.items()}
    new_raw = {k: v.to_json() for k, v in new.notes.items()}
    return {k for k in old_raw.keys() | new_raw.keys() if old_raw.get(k) != new_raw.get(k)}


def test_a_one_note_edit_recomputes_only_its_measure_and_part() -> None:
    b = start_score()
    analyzer = IncrementalAnalyzer()
    analyzer.update(b.data(), version=0)
    assert analyzer.recomputed["slices"] == 4
    note_id = sorted(b.data().notes)[0]
    b.editor.set_pitches(note_id, "F#4")
    data = b.data()
    analyzer.update(data, version=1, changed_notes=[note_id])
    assert analyzer.recomputed["slices"] == 1
    assert analyzer.recomputed["rhythm"] == 1
    assert analyzer.recomputed["melody"] == 1  # one of three parts
    assert analyzer.recomputed["voice_leading"] <= 2  # the measure and the next
    assert analyzer.recomputed["key.window"] <= 3  # windows overlapping the measure
    analyzer.update(data, version=2)
    assert "slices" not in analyzer.recomputed  # nothing changed, nothing recomputed


def test_apply_note_changes_matches_a_full_read() -> None:
    b = start_score()
    data = b.data()
    ids = sorted(data.notes)
    b.editor.set_pitches(ids[0], ["C4", "E4"])
    b.editor.delete_note(ids[1])
    added = b.editor.add_note(b.measures[0], b.parts[0], 1, 1, "D4")
    b.doc.notes[ids[2]] = {"measure": b.measures[0], "part": b.parts[0], "onset": "x"}
    changes = {note_id: b.doc.notes.get(note_id) for note_id in (ids[0], ids[1], added, ids[2])}
    patched = apply_note_changes(data, changes)
    full = b.data()
    assert patched.notes == full.notes
    assert [p.note for p in patched.problems] == [ids[2]]
    assert changed_notes(data, full) == {ids[0], ids[1], ids[2], added}


def test_refresh_structure_re_reads_measures_and_parts_only() -> None:
    b = start_score()
    data = b.data()
    b.editor.insert_measure(1)
    b.editor.set_time_signature(b.measures[2], "3/4")
    b.editor.update_part(b.parts[0], name="Violin")
    refreshed = refresh_structure(data, b.doc)
    full = b.data()
    assert refreshed.measures == full.measures and refreshed.parts == full.parts
    assert refreshed.notes is data.notes
    analyzer = IncrementalAnalyzer()
    analyzer.update(data, version=0)
    assert same(
        analyzer.update(refreshed, version=1, changed_notes=[]),
        run_all(build_table(full), version=1),
    )


def test_an_edit_renames_the_chord_before_it_in_the_previous_measure() -> None:
    # c minor: i V | i VII | III V | i; the subtonic is V/III while III follows it
    tonic = ["C3", "G3", "E-4", "C5"]
    dominant = ["G2", "D3", "B3", "G4"]
    chords = [(0, 0, 2, tonic), (0, 2, 2, dominant), (1, 0, 2, tonic)]
    chords += [(1, 2, 2, ["B-2", "F3", "D4", "B-4"]), (2, 0, 2, ["E-3", "G3", "E-4", "B-4"])]
    chords += [(2, 2, 2, dominant), (3, 0, 4, tonic)]
    for learned in (False, True):  # the rules keep the measure's slices: only the name moves
        b = build(SATB_NAMES, 4, satb(chords), key=KeySignature(-3, "minor"))
        analyzer = IncrementalAnalyzer(settings=AnalysisSettings(learned=learned))
        before = analyzer.update(b.data(), version=0)
        assert before["harmony"]["result"]["slices"][3]["figure"] == "V/III"
        # the next measure's III becomes iv: the subtonic is plain VII again
        changed = b.notes[16:20]
        for note_id, pitch in zip(changed, reversed(["F2", "F3", "A-3", "C5"]), strict=True):
            b.editor.set_pitches(note_id, pitch)
        data = b.data()
        after = analyzer.update(data, version=1, changed_notes=changed)
        full = run_all(build_table(data), version=1, settings=AnalysisSettings(learned=learned))
        assert same(after, full)
        assert [s["figure"] for s in after["harmony"]["result"]["slices"]][3:5] == ["VII", "iv"]
