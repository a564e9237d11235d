"""Explanations in two registers, with measure references, from the engine's results."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
from conftest import chorale_doc

from agents.music.explain import analyse, explain
from agents.music.view import ScoreView, extract_view
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor


@lru_cache(maxsize=1)
def _chorale() -> tuple[ScoreView, dict[str, Any]]:
    score = chorale_doc("bwv177.4")
    return extract_view(score), analyse(score.read())


def test_analyst_names_key_phrases_cadences_with_bar_numbers() -> None:
    view, results = _chorale()
    e = explain(results, register="analyst", view=view)
    assert e.text.startswith("Key: G major")
    cadences = results["harmony"]["result"]["cadences"]
    assert cadences
    for cadence in cadences:
        assert f"{cadence['number']}" in e.text
    assert "authentic cadence" in e.text and "Voice leading:" in e.text
    numbers = [r["number"] for r in e.references]
    assert numbers == sorted(numbers) and e.references[0]["measure"] in {
        m.id for m in view.measures
    }


def test_teacher_is_plain_and_warm() -> None:
    view, results = _chorale()
    e = explain(results, register="teacher", view=view)
    assert "home note is G" in e.text
    assert "phrases" in e.text and "Listen to bar" in e.text
    assert "parallel" in e.text or "Lovely work" in e.text or "One thing" in e.text
    assert len(e.paragraphs) >= 3


def test_parallel_fifths_are_reported_with_their_bar_in_both_registers() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Soprano", "Alto", "Tenor", "Bass"], measures=2)
    (s, a, t, b), (m1, m2) = ids["parts"], ids["measures"]
    for part, pitches in (
        (s, ["E5", "D5", "C5", "B4"]),
        (a, ["C5", "B4", "A4", "G4"]),
        (t, ["G4", "G4", "E4", "D4"]),
        (b, ["C3", "G3", "A3", "G3"]),
    ):
        for onset, pitch in enumerate(pitches):
            editor.add_note(m1, part, onset, 1, pitch)
        editor.add_note(m2, part, 0, 4, pitches[0] if part != b else "C3")
    results = analyse(score.read())
    parallels = [
        i for i in results["voice_leading"]["result"]["issues"] if i["type"].startswith("parallel")
    ]
    assert parallels
    view = extract_view(score)
    analyst = explain(results, register="analyst", view=view)
    teacher = explain(results, register="teacher", view=view)
    assert "parallel" in analyst.text and "bar 1" in analyst.text
    assert "parallel" in teacher.text and "bar 1" in teacher.text
    assert "blend" in teacher.text or "doubled" in teacher.text


def test_unknown_register() -> None:
    with pytest.raises(ValueError):
        explain({}, register="poet")


def test_a_view_of_some_measures_only() -> None:
    view, results = _chorale()
    part_view = extract_view(chorale_doc("bwv177.4"), measures=[m.id for m in view.measures[:3]])
    e = explain(results, register="analyst", view=part_view)
    assert "Form by phrase melody" not in e.text and e.text.startswith("Key:")


def test_a_modulation_inside_a_bar_is_named_with_its_beat() -> None:
    """C major, then the new dominant on beat 3 of bar 3, then G major: the analyst says
    where the new key starts."""
    doc = ScoreDoc()
    editor = ScoreEditor(doc)
    ids = editor.create_score(parts=["S", "A", "T", "B"], measures=6, time="4/4")
    chords = [  # (bar, beat - 1, beats, bass to soprano)
        (0, 0, 2, ["C3", "G3", "E4", "C5"]),
        (0, 2, 2, ["F3", "A3", "F4", "C5"]),
        (1, 0, 2, ["G2", "F3", "B3", "D5"]),
        (1, 2, 2, ["C3", "G3", "E4", "C5"]),
        (2, 0, 2, ["C3", "G3", "E4", "C5"]),
        (2, 2, 2, ["D3", "F#3", "C4", "A4"]),
        (3, 0, 2, ["G2", "D4", "B4", "G5"]),
        (3, 2, 2, ["C3", "G3", "E4", "G4"]),
        (4, 0, 2, ["D3", "F#3", "A3", "D5"]),
        (4, 2, 2, ["D3", "F#3", "C4", "A4"]),
        (5, 0, 4, ["G2", "D4", "B4", "G5"]),
    ]
    with editor.batch():
        for bar, onset, duration, pitches in chords:
            for voice, pitch in enumerate(reversed(pitches)):
                editor.add_note(ids["measures"][bar], ids["parts"][voice], onset, duration, [pitch])
    e = explain(analyse(doc.read()), register="analyst", view=extract_view(doc))
    assert "Modulates to G major at bar 3 beat 3 (from C major)." in e.text
