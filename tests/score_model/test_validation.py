"""Validation reports problems with their locations and never raises on any content."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Map

from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.schema import SchemaError, Tuplet, parse_fraction
from score_model.validation import validate


def make() -> tuple[ScoreDoc, ScoreEditor, str, str]:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(measures=2, time="3/4")
    return score, editor, ids["measures"][0], ids["parts"][0]


def codes(score: ScoreDoc) -> list[tuple[str, str | None]]:
    return sorted((p.code, p.note or p.measure) for p in validate(score))


def test_clean_score_has_no_problems() -> None:
    score, editor, measure, part = make()
    editor.add_note(measure, part, 0, 2, "C4")
    editor.add_rest(measure, part, 2, 1)
    assert validate(score) == []


def test_overfull_and_underfull_with_locations() -> None:
    score, editor, measure, part = make()
    editor.add_note(measure, part, 0, 2, "C4")
    problems = validate(score)
    assert [(p.code, p.measure, p.part, p.voice, p.severity) for p in problems] == [
        ("underfull", measure, part, 1, "warning")
    ]
    editor.add_note(measure, part, 2, 2, "D4")  # ends at 4 in a 3/4 bar
    problem = validate(score)[0]
    assert (problem.code, problem.measure, problem.part) == ("overfull", measure, part)
    assert "3/4" in problem.message


def test_pickup_and_second_voice_are_not_underfull() -> None:
    score, editor, measure, part = make()
    editor.set_pickup(measure, True)
    editor.add_note(measure, part, 0, 1, "G4")
    second = score.read().measures[1].id
    editor.add_note(second, part, 0, 3, "C4")
    editor.add_note(second, part, 0, 1, "E4", voice=2)
    assert validate(score) == []


def test_bad_content_from_a_misbehaving_client() -> None:
    score, _, measure, part = make()
    score.notes["orphan"] = {"measure": "m_gone", "part": part, "onset": "0", "duration": "1"}
    score.notes["pitch"] = {
        "measure": measure,
        "part": part,
        "onset": "0",
        "duration": "1",
        "pitches": ["Q9"],
    }
    score.notes["duration"] = {"measure": measure, "part": part, "onset": "0", "duration": "-1"}
    score.notes["type"] = {"measure": measure, "part": part, "onset": [], "duration": "1"}
    score.notes["junk"] = "not an object"
    score.measures[1]["time"] = 7
    score.parts.append(Map({"name": "no id"}))
    found = codes(score)
    assert ("orphan_note", "orphan") in found
    assert ("bad_pitches", "pitch") in found
    assert ("bad_duration", "duration") in found
    assert ("bad_onset", "type") in found
    assert ("bad_note", "junk") in found
    assert any(code == "bad_measure_time" for code, _ in found)
    assert any(code == "bad_part_id" for code, _ in found)
    assert score.read().measures[1].id  # the measure column survives its bad attribute


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "measure",
                    "part",
                    "onset",
                    "duration",
                    "pitches",
                    "voice",
                    "ties",
                    "id",
                    "time",
                    "key",
                    "tempo",
                    "fifths",
                    "bpm",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    notes=st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=6),
    measures=st.lists(json_values, max_size=4),
    parts=st.lists(json_values, max_size=3),
    meta=st.dictionaries(st.sampled_from(["title", "tempo", "schema_version"]), json_values),
)
def test_never_raises_on_any_content(
    notes: dict[str, Any], measures: list[Any], parts: list[Any], meta: dict[str, Any]
) -> None:
    score = ScoreDoc()
    with score.doc.transaction():
        for key, value in notes.items():
            score.notes[key] = value
        for value in measures:
            score.measures.append(Map(value) if isinstance(value, dict) else value)
        for value in parts:
            score.parts.append(Map(value) if isinstance(value, dict) else value)
        for key, value in meta.items():
            score.meta[key] = value
    problems = validate(score)
    assert all(p.code and p.message for p in problems)
    data = score.read()
    assert set(data.notes) <= set(notes)


def test_outline_read_leaves_notes_undecoded() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(title="Outline", parts=("Violin", "Cello"), measures=2)
    measure, part = ids["measures"][0], ids["parts"][0]
    editor.add_note(measure, part, "0", "1", ["C4"])
    score.notes["bad"] = {"measure": measure, "part": part, "onset": "x"}
    full, outline = score.read(), score.read(notes=False)
    assert len(full.notes) == 1 and outline.notes == {}
    assert (outline.meta, outline.parts, outline.measures) == (full.meta, full.parts, full.measures)
    assert [p.code for p in full.problems] == ["bad_onset"] and outline.problems == []


def test_fraction_reads_are_shared_and_bad_ones_still_raise() -> None:
    assert parse_fraction("3/8") == Fraction(3, 8)
    assert parse_fraction("3/8") is parse_fraction("3/8")  # read once, then shared
    for _ in range(2):  # a bad one is never remembered
        with pytest.raises(SchemaError):
            parse_fraction("1/0", "onset")
    with pytest.raises(SchemaError):  # an absent count has no valid default
        Tuplet.from_json({"id": "t", "normal": 2})
