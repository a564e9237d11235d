"""Schema version 4: tuplets with their written ratio, bracket and number, and the chord
symbols of lead sheets, from the typed operations and MusicXML import through export and
back."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from score_model.document import ScoreData, ScoreDoc
from score_model.exporter import export_score
from score_model.importer import import_score
from score_model.migrate import schema_version
from score_model.ops import EditError, ScoreEditor
from score_model.schema import SCHEMA_VERSION, ChordSymbol, Note
from score_model.validation import validate

FIXTURE = Path(__file__).parent / "fixtures" / "tuplets_chords.musicxml"


def _in_order(data: ScoreData) -> list[Note]:
    order = {m.id: i for i, m in enumerate(data.measures)}
    return sorted(data.notes.values(), key=lambda n: (order[n.measure], n.onset))


def _shape(data: ScoreData) -> list[tuple[object, ...]]:
    """Each note's place, pitches and tuplet groups (ids replaced by their order of
    appearance, which export and import renumber)."""
    names: dict[str, int] = {}
    order = {m.id: i for i, m in enumerate(data.measures)}
    return [
        (
            order[n.measure],
            n.onset,
            n.duration,
            n.pitches,
            tuple(
                (
                    names.setdefault(t.id, len(names)),
                    t.actual,
                    t.normal,
                    t.unit,
                    t.bracket,
                    t.number,
                )
                for t in n.tuplets
            ),
        )
        for n in _in_order(data)
    ]


def _symbols(data: ScoreData) -> list[tuple[object, ...]]:
    return [
        (i, c.onset, c.root, c.kind, c.bass, c.text, c.degrees)
        for i, m in enumerate(data.measures)
        for c in m.chord_symbols
    ]


def test_musicxml_tuplets_and_chord_symbols_import_as_written() -> None:
    data = import_score(FIXTURE.read_bytes(), "tuplets_chords.musicxml").read()
    assert data.problems == [] and validate(data) == []
    shape = _shape(data)
    # a triplet of eighths without bracket, then a triplet of quarters with no number
    assert [s[4] for s in shape[:3]] == [((0, 3, 2, Fraction(1, 2), False, "number"),)] * 3
    assert shape[3][4] == ()
    assert [s[4] for s in shape[4:6]] == [((1, 3, 2, Fraction(1), True, "none"),)] * 2
    # a quintuplet of sixteenths showing its ratio
    assert [s[2] for s in shape[6:11]] == [Fraction(1, 5)] * 5
    assert {s[4] for s in shape[6:11]} == {((2, 5, 4, Fraction(1, 4), True, "ratio"),)}
    # sixteenth triplets nested inside an eighth triplet: outermost group first
    nested = [s for s in shape if s[0] == 2 and s[3]]
    assert [s[2] for s in nested] == [Fraction(1, 3)] + [Fraction(1, 9)] * 3 + [Fraction(1, 3)]
    assert [len(s[4]) for s in nested] == [1, 2, 2, 2, 1]
    assert {s[4][0][0] for s in nested} == {4} and nested[1][4][1][1:4] == (3, 2, Fraction(1, 4))
    assert _symbols(data) == [
        (0, 0, "F", "major-seventh", None, "maj7", ()),
        (0, 2, "D", "minor", "A", "m", ()),
        (1, 0, "B-", "dominant", None, "7", (("add", 9, -1),)),
        (1, 1, "E-", "major", None, None, ()),
        (1, 2, None, "none", None, "N.C.", ()),
    ]


def test_tuplets_and_chord_symbols_survive_a_musicxml_round_trip() -> None:
    score = import_score(FIXTURE.read_bytes(), "tuplets_chords.musicxml")
    exported = export_score(score, "musicxml")
    text = exported.data.decode()
    assert text.count("<harmony") == 5 and "<degree-alter>-1</degree-alter>" in text
    assert 'bracket="no"' in text and 'show-number="both"' in text and 'show-number="none"' in text
    assert "<actual-notes>9</actual-notes>" in text  # the nested sixteenths: 3:2 of 3:2
    back = import_score(exported.data, "back.musicxml").read()
    assert _shape(back) == _shape(score.read())
    assert _symbols(back) == _symbols(score.read())
    assert not exported.warnings and back.problems == []


def test_a_real_lead_sheet_keeps_its_chord_symbols() -> None:
    from music21 import corpus

    path = Path(str(corpus.getWork("leadSheet/fosterBrownHair.mxl")))
    data = import_score(path.read_bytes(), path.name).read()
    symbols = _symbols(data)
    assert len(symbols) > 20 and {s[3] for s in symbols} >= {"major", "dominant"}
    back = import_score(export_score(data, "musicxml").data, "back.musicxml").read()
    assert _symbols(back) == symbols


@dataclass
class Bar:
    """A violin part's first bar holding three eighths (C5 D5 E5) in a version-3 score."""

    score: ScoreDoc
    editor: ScoreEditor
    measure: str
    part: str
    notes: list[str]


@pytest.fixture
def bar() -> Bar:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Violin"], measures=2)
    measure, part = ids["measures"][0], ids["parts"][0]
    eighths = [
        editor.add_note(measure, part, Fraction(i, 2), "1/2", f"{p}5") for i, p in enumerate("CDE")
    ]
    score.meta["schema_version"] = 3  # written before tuplets existed
    return Bar(score, editor, measure, part, eighths)


def test_make_tuplet_squeezes_notes_into_a_group(bar: Bar) -> None:
    score, editor, notes = bar.score, bar.editor, bar.notes
    assert schema_version(score) == 3
    group = editor.make_tuplet(notes, 3, 2, bracket=False, number="ratio")
    data = score.read()
    made = [data.notes[n] for n in notes]
    assert [(n.onset, n.duration) for n in made] == [
        (0, Fraction(1, 3)),
        (Fraction(1, 3), Fraction(1, 3)),
        (Fraction(2, 3), Fraction(1, 3)),
    ]
    assert {n.tuplets for n in made} == {(made[0].tuplets[0],)}
    assert made[0].tuplets[0].id == group and made[0].tuplets[0].unit == Fraction(1, 2)
    assert schema_version(score) == SCHEMA_VERSION == 4  # the first tuplet migrates
    text = export_score(score, "musicxml").data.decode()
    assert text.count("<tuplet ") == 2 and 'bracket="no"' in text and 'show-number="both"' in text
    editor.set_tuplet_display(notes[1], bracket=True, number="none")
    assert score.read().notes[notes[2]].tuplets[0].number == "none"
    assert 'show-number="none"' in export_score(score, "musicxml").data.decode()
    editor.remove_tuplet(notes[0])
    assert all(not score.read().notes[n].tuplets for n in notes)
    assert score.read().notes[notes[2]].duration == Fraction(1, 3)  # durations are kept


def test_set_tuplet_nests_groups_and_validates(bar: Bar) -> None:
    score, editor, measure, part, notes = bar.score, bar.editor, bar.measure, bar.part, bar.notes
    editor.make_tuplet(notes, 3, 2)
    with pytest.raises(EditError, match="no note value"):
        editor.set_tuplet(notes[:2], 5, 4)  # 1/3 in 5:4 of 3:2 is no written value
    with pytest.raises(EditError, match="different tuplet groups"):
        other = editor.add_note(measure, part, 1, "1/2", "F5")
        editor.set_tuplet([notes[2], other], 3, 2)
    inner = [
        editor.add_note(measure, part, Fraction(2) + Fraction(i, 6), "1/6", "G5") for i in range(3)
    ]
    editor.set_tuplet(inner, 3, 2)  # a plain sixteenth triplet
    with pytest.raises(EditError, match="without gaps"):
        editor.set_tuplet([inner[0], inner[2]], 3, 2)
    plain = [editor.add_note(measure, part, 3 + Fraction(i, 2), "1/2", "A5") for i in range(2)]
    with pytest.raises(EditError, match="does not last"):
        editor.set_tuplet(plain, 3, 2, unit="1/4")
    with pytest.raises(EditError, match="must differ"):
        editor.set_tuplet(inner, 3, 3)
    with pytest.raises(EditError):
        editor.set_tuplet(inner, 3, 2, number="both")
    voice2 = editor.add_note(measure, part, 3, "1/3", "A4", voice=2)
    with pytest.raises(EditError, match="one measure, part and voice"):
        editor.set_tuplet([voice2, plain[0]], 3, 2)
    before = score.raw_notes()
    with pytest.raises(EditError):
        editor.make_tuplet([notes[0], inner[0]], 3, 2)
    assert score.raw_notes() == before  # a refused edit writes nothing
    assert not [p for p in validate(score) if p.code == "tuplet_mismatch"]


def test_a_malformed_group_from_a_client_is_a_warning_and_still_exports(bar: Bar) -> None:
    score, notes = bar.score, bar.notes
    group = {"id": "u_x", "actual": 5, "normal": 4}
    for note_id in notes[:2]:  # two eighths "in a quintuplet": 5/8 is no written value
        score.notes[note_id] = {**score.raw_notes()[note_id], "tuplets": [group]}
    problems = [p for p in validate(score) if p.code == "tuplet_mismatch"]
    assert len(problems) == 1 and problems[0].severity == "warning"
    exported = export_score(score, "musicxml")  # exported as the lengths say, and said
    assert exported.data and any("2 notes of tuplet groups" in w for w in exported.warnings)
    score.notes[notes[2]] = {**score.raw_notes()[notes[2]], "tuplets": [{"id": "u_y"}]}
    data = score.read()
    assert notes[2] not in data.notes
    assert any(p.code == "bad_tuplets" and p.note == notes[2] for p in data.problems)


def test_chord_symbol_operations(bar: Bar) -> None:
    score, editor, measure, part, _ = bar.score, bar.editor, bar.measure, bar.part, bar.notes
    editor.add_chord_symbol(measure, part, 2, "G", "dominant", text="7")
    editor.add_chord_figure(measure, part, 0, "Bb7/D")
    editor.add_chord_figure(measure, part, 3, "N.C.")
    assert schema_version(score) == SCHEMA_VERSION
    symbols = score.read().measures[0].chord_symbols
    assert symbols == (
        ChordSymbol(part, Fraction(0), "B-", "dominant", "D", "7"),
        ChordSymbol(part, Fraction(2), "G", "dominant", None, "7"),
        ChordSymbol(part, Fraction(3), None, "none", None, "N.C."),
    )
    editor.add_chord_figure(measure, part, 2, "Em7")  # replaces the G7
    assert score.read().measures[0].chord_symbols[1].root == "E"
    for bad in (
        lambda: editor.add_chord_symbol(measure, part, 4, "C"),  # the bar is over
        lambda: editor.add_chord_symbol(measure, part, 0, "H"),
        lambda: editor.add_chord_symbol(measure, part, 0, "C", "funky"),
        lambda: editor.add_chord_symbol(measure, "p_none", 0, "C"),
        lambda: editor.add_chord_symbol(measure, part, 0, "C", degrees=[("add", 20, 0)]),
        lambda: editor.add_chord_figure(measure, part, 0, "not a chord at all"),
        lambda: editor.remove_chord_symbol(measure, part, 1),
    ):
        with pytest.raises(EditError):
            bad()
    exported = export_score(score, "musicxml").data
    back = import_score(exported, "back.musicxml").read()
    assert _symbols(back) == _symbols(score.read())
    editor.remove_chord_symbol(measure, part, 0)
    editor.remove_chord_symbol(measure, part, 2)
    editor.remove_chord_symbol(measure, part, 3)
    assert "chord_symbols" not in score.raw_measures()[0]


def test_chord_symbols_of_a_missing_part_are_reported(bar: Bar) -> None:
    score, editor, measure, part, _ = bar.score, bar.editor, bar.measure, bar.part, bar.notes
    editor.add_chord_symbol(measure, part, 0, "C")
    score.measures[0]["chord_symbols"] = [
        *score.raw_measures()[0]["chord_symbols"],
        {"part": "p_gone", "onset": "1", "root": "F"},
    ]
    assert [p.code for p in validate(score) if "chord" in p.code] == ["orphan_chord_symbol"]
    score.measures[1]["chord_symbols"] = [{"part": part, "root": "Q"}]
    data = score.read()
    assert data.measures[1].chord_symbols == ()  # the bad attribute is ignored, the bar kept
    assert any(p.code == "bad_measure_chord_symbols" for p in data.problems)
