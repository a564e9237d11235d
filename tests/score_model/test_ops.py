"""The typed edit API: every operation, one transaction each, with its origin."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pycrdt import TransactionEvent

from score_model.document import ScoreDoc
from score_model.ops import EditError, ScoreEditor
from score_model.origin import Origin
from score_model.schema import SCHEMA_VERSION, KeySignature, Tempo


@pytest.fixture
def score() -> ScoreDoc:
    return ScoreDoc()


@pytest.fixture
def editor(score: ScoreDoc) -> ScoreEditor:
    return ScoreEditor(score, Origin.agent("tester"))


def transactions(score: ScoreDoc) -> list[object]:
    """Record the origin of every transaction that changes the document."""
    seen: list[object] = []

    def record(event: TransactionEvent) -> None:
        seen.append(event)

    score.doc.observe(record)
    return seen


def test_create_score(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(
        title="Sonata",
        composer="Anon",
        parts=["Violin", {"name": "Cello", "clef": "bass", "program": 42}],
        measures=3,
        time="3/4",
        key=KeySignature(-3, "minor"),
        tempo=Tempo(80, Fraction(1), "Adagio"),
    )
    data = score.read()
    assert data.meta.title == "Sonata" and data.meta.composer == "Anon"
    assert data.meta.schema_version == SCHEMA_VERSION and data.meta.created
    assert [p.name for p in data.parts] == ["Violin", "Cello"]
    assert data.parts[1].clef == "bass" and data.parts[1].program == 42
    assert [m.id for m in data.measures] == ids["measures"]
    first = data.measures[0]
    assert first.time == "3/4" and first.key == KeySignature(-3, "minor")
    assert first.tempo == Tempo(80, Fraction(1), "Adagio")
    assert [s.offset for s in data.layout()] == [0, 3, 6]
    assert not data.problems
    with pytest.raises(EditError):
        editor.create_score()  # only on an empty document


def test_each_edit_is_one_transaction_with_its_origin(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(measures=2)
    origins: list[object] = []
    score.notes.observe(lambda event: origins.append(event.transaction.origin))
    events = transactions(score)
    note = editor.add_note(ids["measures"][0], ids["parts"][0], 0, 1, "C4")
    editor.set_pitches(note, ["C4", "E4"])
    with editor.batch():
        editor.add_note(ids["measures"][1], ids["parts"][0], 0, 1, "D4")
        editor.add_note(ids["measures"][1], ids["parts"][0], 1, 1, "E4")
    assert len(events) == 3  # the batch is one transaction
    assert set(origins) == {Origin.agent("tester")}


def test_notes_rests_chords_and_fields(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(measures=2)
    m1, m2 = ids["measures"]
    part = ids["parts"][0]
    chord = editor.add_note(m1, part, 0, "3/2", ["C4", "E4", "G4"])
    rest = editor.add_rest(m1, part, "3/2", "1/2")
    triplet = editor.add_note(m1, part, 2, "2/3", "D#5", voice=2)
    editor.set_tie(chord, "start", pitch_index=1)
    editor.set_lyric(chord, "la")
    editor.set_articulations(chord, ["staccato", "accent"])
    editor.set_dynamic(chord, "mf")
    editor.set_duration(triplet, "1/3")
    editor.set_onset(triplet, "7/3")
    editor.set_voice(triplet, 3)
    editor.move_note(rest, m2, 1)
    notes = score.read().notes
    assert notes[chord].pitches == ("C4", "E4", "G4")
    assert notes[chord].ties == (None, "start", None)
    assert notes[chord].lyric == "la" and notes[chord].dynamic == "mf"
    assert notes[chord].articulations == ("staccato", "accent")
    assert notes[rest].is_rest and notes[rest].measure == m2 and notes[rest].onset == 1
    assert (notes[triplet].onset, notes[triplet].duration) == (Fraction(7, 3), Fraction(1, 3))
    assert notes[triplet].voice == 3
    editor.set_pitches(chord, "F4")  # new pitches drop ties that no longer line up
    assert score.read().notes[chord].ties == ()
    editor.set_lyric(chord, None)
    editor.set_dynamic(chord, None)
    assert score.read().notes[chord].lyric is None
    editor.delete_note(triplet)
    assert triplet not in score.read().notes


@pytest.mark.parametrize(
    "call",
    [
        lambda e, m, p: e.add_note(m, p, 0, 0, "C4"),  # zero duration
        lambda e, m, p: e.add_note(m, p, -1, 1, "C4"),  # negative onset
        lambda e, m, p: e.add_note(m, p, 0, 1, "H4"),  # not a pitch
        lambda e, m, p: e.add_note(m, p, 0, "1/0", "C4"),  # not a fraction
        lambda e, m, p: e.add_note("m_missing", p, 0, 1, "C4"),  # no such measure
        lambda e, m, p: e.add_note(m, "p_missing", 0, 1, "C4"),  # no such part
        lambda e, m, p: e.add_note(m, p, 0, 1, "C4", voice=99),
        lambda e, m, p: e.add_note(m, p, 0, 1, "C4", colour="red"),  # unknown field
        lambda e, m, p: e.set_time_signature(m, "5/3"),
        lambda e, m, p: e.set_key(m, 9),
        lambda e, m, p: e.set_tempo(m, 0),
        lambda e, m, p: e.set_barline(m, "wiggly"),
        lambda e, m, p: e.set_repeat(m, "sometimes"),
        lambda e, m, p: e.set_dynamic("n_missing", "p"),
        lambda e, m, p: e.delete_measure("m_missing"),
        lambda e, m, p: e.update_part(p, program=300),
        lambda e, m, p: e.transpose("not an interval"),
        lambda e, m, p: e.post_chat("me", ""),
    ],
)
def test_refused_edits_change_nothing(score: ScoreDoc, editor: ScoreEditor, call: object) -> None:
    ids = editor.create_score(measures=1)
    editor.add_note(ids["measures"][0], ids["parts"][0], 0, 1, "C4")
    before = score.encode_state()
    with pytest.raises(EditError):
        call(editor, ids["measures"][0], ids["parts"][0])  # type: ignore[operator]
    assert score.encode_state() == before


def test_measures_insert_delete_move_and_attributes(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(measures=3)
    a, b, c = ids["measures"]
    part = ids["parts"][0]
    note_in_b = editor.add_note(b, part, 0, 4, "C4")
    note_in_c = editor.add_note(c, part, 0, 4, "D4")
    inserted = editor.insert_measure(1)
    assert [m.id for m in score.read().measures] == [a, inserted, b, c]
    editor.move_measure(c, 0)
    assert [m.id for m in score.read().measures] == [c, a, inserted, b]
    assert score.read().notes[note_in_c].measure == c  # notes follow the measure id
    editor.set_time_signature(a, "6/8")
    editor.set_key(a, 2, "major")
    editor.set_tempo(a, 120, "3/2", "Allegro")
    editor.set_barline(a, "double")
    editor.set_repeat(a, "end")
    editor.set_pickup(c, True)
    measures = {m.id: m for m in score.read().measures}
    assert measures[a].time == "6/8" and measures[a].key == KeySignature(2, "major")
    assert measures[a].tempo == Tempo(120, Fraction(3, 2), "Allegro")
    assert (measures[a].barline, measures[a].repeat, measures[c].pickup) == ("double", "end", True)
    editor.set_time_signature(a, None)
    editor.set_barline(a, None)
    assert score.read().measures[1].time is None and score.read().measures[1].barline is None

    events = transactions(score)
    editor.delete_measure(b)  # its notes go in the same transaction
    assert len(events) == 1
    assert note_in_b not in score.read().notes and note_in_c in score.read().notes
    assert [m.id for m in score.read().measures] == [c, a, inserted]


def test_parts_add_update_move_remove(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(parts=["Flute", "Oboe"], measures=1)
    flute, oboe = ids["parts"]
    horn = editor.add_part("Horn", index=1, clef="bass", staves=2)
    assert [p.name for p in score.read().parts] == ["Flute", "Horn", "Oboe"]
    editor.update_part(horn, name="Horn in F", abbreviation="Hn.", program=60)
    editor.move_part(oboe, 0)
    parts = score.read().parts
    assert [p.id for p in parts] == [oboe, flute, horn]
    assert (parts[2].name, parts[2].abbreviation, parts[2].program, parts[2].staves) == (
        "Horn in F",
        "Hn.",
        60,
        2,
    )
    note = editor.add_note(ids["measures"][0], horn, 0, 1, "F3")
    editor.remove_part(horn)
    assert note not in score.read().notes
    assert [p.id for p in score.read().parts] == [oboe, flute]


def test_transpose_spells_correctly_and_respects_range(
    score: ScoreDoc, editor: ScoreEditor
) -> None:
    ids = editor.create_score(parts=["A", "B"], measures=2)
    (m1, m2), (p1, p2) = ids["measures"], ids["parts"]
    in_range = editor.add_note(m1, p1, 0, 1, ["C4", "E4", "G#4"])
    other_measure = editor.add_note(m2, p1, 0, 1, "C4")
    other_part = editor.add_note(m1, p2, 0, 1, "C4")
    rest = editor.add_rest(m1, p1, 1, 1)
    assert editor.transpose("m3", measures=[m1], parts=[p1]) == 1
    notes = score.read().notes
    assert notes[in_range].pitches == ("E-4", "G4", "B4")
    assert notes[other_measure].pitches == ("C4",) and notes[other_part].pitches == ("C4",)
    assert notes[rest].is_rest
    editor.transpose("-P8")
    assert score.read().notes[other_part].pitches == ("C3",)


def test_metadata_chat_and_comments(score: ScoreDoc, editor: ScoreEditor) -> None:
    ids = editor.create_score(measures=1)
    editor.set_metadata(title="New", composer="Someone", tempo=Tempo(60), genre="chorale")
    meta = score.read().meta
    assert (meta.title, meta.composer, meta.tempo, meta.extra["genre"]) == (
        "New",
        "Someone",
        Tempo(60),
        "chorale",
    )
    with pytest.raises(EditError):
        editor.set_metadata(schema_version=2)
    message = editor.post_chat("bot", "I added a bass line", kind="agent")
    assert score.raw_chat()[0]["id"] == message and score.raw_chat()[0]["author"] == "bot"
    comment = editor.add_comment(
        "ann", "too loud", measure=ids["measures"][0], part=ids["parts"][0], onset="1/2"
    )
    stored = score.raw_comments()[comment]
    assert stored["onset"] == "1/2" and stored["resolved"] is False
    editor.resolve_comment(comment)
    assert score.raw_comments()[comment]["resolved"] is True
    editor.delete_comment(comment)
    assert score.raw_comments() == {}
    with pytest.raises(EditError):
        editor.add_comment("ann", "where?", measure="m_missing")


def test_remove_duplicate_measures_keeps_notes(score: ScoreDoc, editor: ScoreEditor) -> None:
    """Two replicas move the same measure concurrently: two copies, notes kept."""
    ids = editor.create_score(measures=3)
    other = ScoreDoc.from_update(score.encode_state())
    note = editor.add_note(ids["measures"][2], ids["parts"][0], 0, 1, "C4")
    other.doc.apply_update(score.doc.get_update(other.doc.get_state()))
    editor.move_measure(ids["measures"][2], 0)
    ScoreEditor(other).move_measure(ids["measures"][2], 1)
    update_a = score.doc.get_update(other.doc.get_state())
    update_b = other.doc.get_update(score.doc.get_state())
    score.doc.apply_update(update_b)
    other.doc.apply_update(update_a)
    raw_ids = [m["id"] for m in score.raw_measures()]
    assert raw_ids.count(ids["measures"][2]) == 2
    assert [p.code for p in score.read().problems] == ["duplicate_measure"]
    assert editor.remove_duplicate_measures() == 1
    assert [m["id"] for m in score.raw_measures()].count(ids["measures"][2]) == 1
    assert note in score.read().notes and not score.read().problems
