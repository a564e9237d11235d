"""The quality gate counts what the voice-leading analysis counts."""

from __future__ import annotations

from fractions import Fraction

from agents.music.quality import FAULTS, check_lines, check_result, check_score
from agents.music.view import Event, MusicResult, NewNote, PartWrite, extract_view
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor


def _two_parts() -> tuple[ScoreDoc, list[str], list[str]]:
    score = ScoreDoc()
    ids = ScoreEditor(score).create_score(parts=["Upper", "Lower"], measures=1)
    return score, ids["parts"], ids["measures"]


def test_counts_parallels_between_lines() -> None:
    score, _, _ = _two_parts()
    view = extract_view(score)
    upper = [
        (
            Event(Fraction(0), Fraction(1), ("G4",)),
            Event(Fraction(1), Fraction(1), ("A4",)),
            Event(Fraction(2), Fraction(2), ("B4",)),
        )
    ]
    lower = [
        (
            Event(Fraction(0), Fraction(1), ("C4",)),
            Event(Fraction(1), Fraction(1), ("D4",)),
            Event(Fraction(2), Fraction(2), ("G3",)),
        )
    ]
    report = check_lines(view, [("Upper", upper), ("Lower", lower)], vocal=False)
    assert set(report.counts) == set(FAULTS)
    assert report.counts["parallel_fifths"] == 1 and report.parallels == 1
    assert report.issues[0]["pitches"] == ["G4", "C4", "A4", "D4"]


def test_check_result_compares_before_and_after_without_touching_the_score() -> None:
    score, (upper, lower), (measure,) = _two_parts()
    editor = ScoreEditor(score)
    for onset, pitch in enumerate(("G4", "A4", "B4", "C5")):
        editor.add_note(measure, upper, onset, 1, pitch)
    for onset, pitch in enumerate(("C4", "D4", "E4", "F4")):
        editor.add_note(measure, lower, onset, 1, pitch)
    before_state = score.encode_state()
    fixed = MusicResult(
        (
            PartWrite(
                lower,
                tuple(
                    NewNote(measure, Fraction(onset), Fraction(1), (pitch,))
                    for onset, pitch in enumerate(("C4", "F4", "G4", "A4"))
                ),
            ),
        )
    )
    before, after = check_result(score, fixed, vocal=False)
    assert before.counts["parallel_fifths"] == 3
    assert after.parallels == 0 and before.worse_than(after) and not after.worse_than(before)
    assert score.encode_state() == before_state
    assert check_score(score, vocal=False).counts == before.counts
