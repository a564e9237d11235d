"""Reading a score into a view, and writing a result back through ScoreEditor."""

from __future__ import annotations

from fractions import Fraction

from conftest import chorale_doc, chorale_view

from agents.music.view import (
    Event,
    MusicResult,
    NewNote,
    PartWrite,
    apply_result,
    extract_view,
    to_score_data,
)
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin


def test_view_of_a_chorale_has_measures_keys_and_fermatas() -> None:
    view = chorale_view("bwv177.4")
    assert [p.name for p in view.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    key = view.measures[0].key
    assert key is not None and key.fifths == 1
    assert all(m.time == "4/4" for m in view.measures)
    soprano = view.part("soprano").voice(1)
    fermatas = [e for cell in soprano for e in cell if e.fermata]
    assert len(fermatas) >= 3
    assert all(isinstance(e.onset, Fraction) for cell in soprano for e in cell)


def test_to_score_data_round_trips_the_lines() -> None:
    view = chorale_view("bwv165.6")
    data = to_score_data(view, [(line.name, line.measures) for line in view.parts])
    again = extract_view(data)
    assert [m.id for m in again.measures] == [m.id for m in view.measures]
    assert [m.length for m in again.measures] == [m.length for m in view.measures]
    for old, new in zip(view.parts, again.parts, strict=True):
        assert new.name == old.name and new.measures == old.measures


def test_apply_result_writes_new_parts_appends_measures_and_replaces_cells() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Melody"], measures=2, time="3/4")
    melody, (m1, m2) = ids["parts"][0], ids["measures"]
    old = editor.add_note(m1, melody, 0, 3, ["C4"])
    kept = editor.add_note(m2, melody, 0, 3, ["D4"])
    result = MusicResult(
        (
            PartWrite(
                melody,
                (
                    NewNote(m1, Fraction(0), Fraction(2), ("E4",)),
                    NewNote(m1, Fraction(2), Fraction(1), ("F#4",)),
                    NewNote("+1", Fraction(0), Fraction(3), ("G4",)),
                ),
            ),
            PartWrite(
                None,
                (
                    NewNote(
                        m1, Fraction(0), Fraction(3), ("C3",), voice=2, articulations=("fermata",)
                    ),
                ),
                name="Bass",
                instrument="Cello",
                clef="bass",
            ),
        )
    )
    written = apply_result(score, result, Origin.agent("aureon:t1"))
    assert written["removed"] == [old] and len(written["notes"]) == 4
    assert len(written["measures"]) == 1 and len(written["parts"]) == 1
    view = extract_view(score)
    assert [m.id for m in view.measures] == [m1, m2, written["measures"][0]]
    assert view.part("Melody").measures == (
        (Event(Fraction(0), Fraction(2), ("E4",)), Event(Fraction(2), Fraction(1), ("F#4",))),
        (Event(Fraction(0), Fraction(3), ("D4",)),),
        (Event(Fraction(0), Fraction(3), ("G4",)),),
    )
    bass = view.part("Bass")
    assert bass.instrument == "Cello"
    assert bass.measures[0] == (Event(Fraction(0), Fraction(3), ("C3",), 2, True),)
    assert kept in score.raw_notes()


def test_apply_result_runs_in_one_transaction_with_the_origin() -> None:
    score = chorale_doc("bwv165.6")
    view = extract_view(score)
    origins: list[object] = []
    score.notes.observe(lambda event: origins.append(event.transaction.origin))
    transactions: list[object] = []
    score.doc.observe(transactions.append)
    first = view.measures[0]
    apply_result(
        score,
        MusicResult(
            (
                PartWrite(
                    view.part("Alto").part, (NewNote(first.id, Fraction(0), first.length, ("B3",)),)
                ),
            )
        ),
        Origin.agent("aureon:t"),
    )
    assert len(transactions) == 1
    assert set(origins) == {Origin.agent("aureon:t")}
    assert extract_view(score).part("Alto").measures[0] == (
        Event(Fraction(0), first.length, ("B3",)),
    )
