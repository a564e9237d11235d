"""Projection of score documents into music21: full, described, and incremental."""

from __future__ import annotations

from fractions import Fraction

import pytest
from music21 import articulations, bar, chord, clef, dynamics, expressions, key, note, stream
from music21 import tempo as m21tempo
from pycrdt import Map

from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.projection import IncrementalProjection, describe, project_score
from score_model.schema import KeySignature, Tempo


@pytest.fixture
def doc() -> ScoreDoc:
    return ScoreDoc()


@pytest.fixture
def editor(doc: ScoreDoc) -> ScoreEditor:
    return ScoreEditor(doc)


def make(
    editor: ScoreEditor, measures: int = 3, parts: tuple[str, ...] = ("A", "B"), **kwargs: object
) -> tuple[list[str], list[str]]:
    ids = editor.create_score(parts=parts, measures=measures, **kwargs)  # type: ignore[arg-type]
    return ids["measures"], ids["parts"]


def measures_of(score: stream.Score, index: int = 0) -> list[stream.Measure]:
    return list(score.parts[index].getElementsByClass(stream.Measure))


def full(doc: ScoreDoc) -> stream.Score:
    return project_score(doc.read())


def matches(projection: IncrementalProjection, doc: ScoreDoc) -> bool:
    return describe(projection.score()) == describe(full(doc))


# --- full projection -------------------------------------------------------------------------


def test_metadata_parts_instrument_and_clef(editor: ScoreEditor, doc: ScoreDoc) -> None:
    make(
        editor,
        parts=(
            {
                "name": "Violin",
                "abbreviation": "Vn.",
                "instrument": "Violin",
                "program": 40,
                "clef": "treble",
            },
            {"name": "Cello", "clef": "bass"},
        ),
        title="Quartet",
        composer="Someone",
    )
    score = full(doc)
    assert score.metadata.title == "Quartet" and score.metadata.composer == "Someone"
    violin, cello = score.parts
    assert (violin.partName, violin.partAbbreviation) == ("Violin", "Vn.")
    inst = violin.getInstrument(returnDefault=False)
    assert inst.instrumentName == "Violin" and inst.midiProgram == 40
    assert cello.getInstrument(returnDefault=False).midiProgram is None
    first, second = measures_of(score)[:2]
    assert isinstance(first.getElementsByClass(clef.Clef).first(), clef.TrebleClef)
    assert not second.getElementsByClass(clef.Clef)
    assert isinstance(measures_of(score, 1)[0].getElementsByClass(clef.Clef).first(), clef.BassClef)


def test_numbers_offsets_and_pickup(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor, time="3/4")
    score = full(doc)
    assert [(m.number, m.offset) for m in measures_of(score)] == [(1, 0), (2, 3), (3, 6)]
    editor.set_pickup(ms[0], True)
    editor.add_note(ms[0], ps[0], 0, 1, "G4")
    score = full(doc)
    first, second, _ = measures_of(score)
    assert (first.number, first.paddingLeft) == (0, 2)
    assert (second.number, second.offset) == (1, 1)
    pickup_rest = measures_of(score, 1)[0].notesAndRests.first()
    assert isinstance(pickup_rest, note.Rest) and pickup_rest.quarterLength == 1


def test_markers_only_where_set(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, _ = make(
        editor, measures=4, key=KeySignature(-3, "minor"), tempo=Tempo(80, Fraction(3, 2), "Adagio")
    )
    editor.set_time_signature(ms[2], "6/8")
    editor.set_key(ms[3], 2)
    score = full(doc)
    m1, m2, m3, m4 = measures_of(score)
    assert m1.timeSignature.ratioString == "4/4"
    k = m1.getElementsByClass(key.KeySignature).first()
    assert isinstance(k, key.Key) and (k.sharps, k.mode) == (-3, "minor")
    mark = m1.getElementsByClass(m21tempo.MetronomeMark).first()
    assert (mark.number, mark.referent.quarterLength, mark.text) == (80, 1.5, "Adagio")
    assert m2.timeSignature is None and not m2.getElementsByClass(key.KeySignature)
    assert not m2.getElementsByClass(m21tempo.MetronomeMark)
    assert m3.timeSignature.ratioString == "6/8" and m4.offset == 11
    plain = m4.getElementsByClass(key.KeySignature).first()
    assert not isinstance(plain, key.Key) and plain.sharps == 2


def test_default_tempo_from_metadata(editor: ScoreEditor, doc: ScoreDoc) -> None:
    make(editor)
    editor.set_metadata(tempo=Tempo(132))
    mark = measures_of(full(doc))[0].getElementsByClass(m21tempo.MetronomeMark).first()
    assert mark.number == 132


def test_barlines_and_repeats(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, _ = make(editor, measures=3)
    editor.set_repeat(ms[0], "start")
    editor.set_repeat(ms[1], "both")
    editor.set_barline(ms[2], "final")
    m1, m2, m3 = measures_of(full(doc))
    assert isinstance(m1.leftBarline, bar.Repeat) and m1.leftBarline.direction == "start"
    assert m1.rightBarline is None
    assert m2.leftBarline.direction == "start" and m2.rightBarline.direction == "end"
    assert m3.rightBarline.type == "final" and not isinstance(m3.rightBarline, bar.Repeat)


def test_notes_chords_rests_at_exact_onsets(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    for i in range(3):
        editor.add_note(ms[0], ps[0], Fraction(i, 3), Fraction(1, 3), "C5")
    editor.add_note(ms[0], ps[0], 1, 2, ["C4", "E-4", "G#4"])
    editor.add_rest(ms[0], ps[0], 3, 1)
    items = list(measures_of(full(doc))[0].notesAndRests)
    assert [(i.offset, i.quarterLength) for i in items] == [
        (0, Fraction(1, 3)),
        (Fraction(1, 3), Fraction(1, 3)),
        (Fraction(2, 3), Fraction(1, 3)),
        (1, 2),
        (3, 1),
    ]
    assert isinstance(items[3], chord.Chord)
    assert [p.nameWithOctave for p in items[3].pitches] == ["C4", "E-4", "G#4"]
    assert isinstance(items[4], note.Rest)


def test_empty_cells_get_a_full_measure_rest(editor: ScoreEditor, doc: ScoreDoc) -> None:
    make(editor, time="5/8")
    rest = measures_of(full(doc), 1)[1].notesAndRests.first()
    assert isinstance(rest, note.Rest) and rest.quarterLength == Fraction(5, 2)
    assert rest.fullMeasure is True


def test_voices(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    editor.add_note(ms[0], ps[0], 0, 4, "E5")
    editor.add_note(ms[0], ps[0], 0, 2, "C4", voice=2, dynamic="mf")
    editor.add_note(ms[0], ps[0], 2, 2, "D4", voice=2)
    editor.add_note(ms[1], ps[0], 0, 4, "F4", voice=2)
    m1, m2, _ = measures_of(full(doc))
    voices = list(m1.voices)
    assert [v.id for v in voices] == ["1", "2"]
    assert [n.nameWithOctave for n in voices[1].notes] == ["C4", "D4"]
    dyn = voices[1].getElementsByClass(dynamics.Dynamic).first()
    assert dyn.value == "mf" and voices[1].elementOffset(dyn) == 0
    assert not m2.voices and m2.notes.first().nameWithOctave == "F4"


def test_ties_lyrics_articulations_dynamics(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    editor.add_note(
        ms[0],
        ps[0],
        0,
        2,
        "C4",
        ties=["start"],
        lyric="la",
        articulations=["staccato", "fermata", "strong-accent"],
    )
    editor.add_note(ms[0], ps[0], 2, 2, ["C4", "E4"], ties=["stop", "start"], dynamic="pp")
    editor.add_note(ms[1], ps[0], 0, 4, ["E4"], ties=["stop"])
    m1, m2, _ = measures_of(full(doc))
    first, second = m1.notes
    assert first.tie.type == "start" and first.lyric == "la"
    assert [type(a) for a in first.articulations] == [
        articulations.Staccato,
        articulations.StrongAccent,
    ]
    assert [type(e) for e in first.expressions] == [expressions.Fermata]
    assert [n.tie.type for n in second.notes] == ["stop", "start"]
    dyn = m1.getElementsByClass(dynamics.Dynamic).first()
    assert dyn.value == "pp" and m1.elementOffset(dyn) == 2
    assert m2.notes.first().tie.type == "stop"


def test_grace_notes(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    editor.add_note(ms[0], ps[0], 1, 1, "D4")
    editor.add_note(ms[0], ps[0], 1, 0, "E4", grace=True)
    editor.add_note(ms[0], ps[0], 1, "1/4", "F4", grace=True)
    items = list(measures_of(full(doc))[0].notes)
    graces = [n for n in items if n.duration.isGrace]
    assert len(graces) == 2 and all(n.quarterLength == 0 for n in graces)
    assert items[-1].nameWithOctave == "D4" and not items[-1].duration.isGrace
    assert {n.duration.type for n in graces} == {"eighth", "16th"}


def test_orphans_and_garbage_are_skipped(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor, measures=2)
    editor.add_note(ms[0], ps[0], 0, 1, "C4")
    with doc.doc.transaction():
        doc.notes["orphan_measure"] = {
            "measure": "nope",
            "part": ps[0],
            "onset": "0",
            "duration": "1",
            "pitches": ["D4"],
        }
        doc.notes["orphan_part"] = {
            "measure": ms[0],
            "part": "nope",
            "onset": "0",
            "duration": "1",
            "pitches": ["D4"],
        }
        doc.notes["garbage"] = [1, 2, 3]
        doc.notes["bad_pitch"] = {
            "measure": ms[0],
            "part": ps[0],
            "onset": "1",
            "duration": "1",
            "pitches": ["H9"],
        }
        doc.measures.append(Map({"id": "m_bad", "time": "banana", "barline": 7}))
        doc.measures.append(Map({"nothing": True}))
        doc.parts.append(Map({"id": "p_bad", "clef": "violin", "program": 999}))
        doc.meta["tempo"] = {"bpm": "fast"}
    score = full(doc)
    assert len(score.parts) == 3 and len(measures_of(score)) == 3
    assert [n.nameWithOctave for n in measures_of(score)[0].notes] == ["C4"]
    assert describe(score)  # describable


def test_describe_compares_music(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    note_id = editor.add_note(ms[0], ps[0], 0, 1, "C4", lyric="a")
    before = describe(full(doc))
    assert before == describe(full(doc))
    assert (
        "note",
        None,
        Fraction(0),
        Fraction(1),
        ("C4",),
        (None,),
        "a",
        (),
        False,
        note_id,
    ) in before
    assert ("measure", 2, ms[1], Fraction(4), Fraction(0), Fraction(0), None, None) in before
    editor.set_pitches(note_id, "C#4")
    assert describe(full(doc)) != before
    assert all(
        row[-1] is None
        for row in describe(full(doc), ids=False)
        if row[0] in ("note", "rest", "chord")
    )


# --- incremental projection ------------------------------------------------------------------


def test_one_note_edit_rebuilds_one_cell(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor, measures=4)
    note_id = editor.add_note(ms[1], ps[0], 0, 1, "C4")
    projection = IncrementalProjection(doc)
    assert projection.last_changes.full
    before = measures_of(projection.score()) + measures_of(projection.score(), 1)
    editor.set_pitches(note_id, "D4")
    assert projection.pending
    changes = projection.refresh()
    assert changes.cells == {(ms[1], ps[0])} and not changes.layout
    after = measures_of(projection.score()) + measures_of(projection.score(), 1)
    assert [a is b for a, b in zip(before, after, strict=True)] == [
        True,
        False,
        True,
        True,
        True,
        True,
        True,
        True,
    ]
    assert after[1].notes.first().nameWithOctave == "D4" and after[1].offset == 4
    assert matches(projection, doc)
    assert not projection.refresh()  # nothing pending: nothing changed


def test_notes_moving_between_cells(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    note_id = editor.add_note(ms[0], ps[0], 0, 1, "C4")
    projection = IncrementalProjection(doc)
    editor.move_note(note_id, ms[2], 1, part=ps[1])
    assert projection.refresh().cells == {(ms[0], ps[0]), (ms[2], ps[1])}
    assert matches(projection, doc)
    editor.delete_note(note_id)
    assert projection.refresh().cells == {(ms[2], ps[1])}
    assert matches(projection, doc)


def test_time_signature_change_shifts_later_measures(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, _ = make(editor, measures=4)
    projection = IncrementalProjection(doc)
    editor.set_time_signature(ms[1], "3/4")
    changes = projection.refresh()
    assert changes.layout and changes.measures == {ms[1], ms[2], ms[3]}
    last = measures_of(projection.score())[3]
    editor.set_time_signature(ms[2], "3/4")
    changes = projection.refresh()
    assert changes.measures == {ms[2]}
    assert measures_of(projection.score())[3] is last  # not rebuilt, only moved
    assert last.offset == 10 and matches(projection, doc)


def test_pickup_length_follows_content(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    editor.set_pickup(ms[0], True)
    projection = IncrementalProjection(doc)
    note_id = editor.add_note(ms[0], ps[0], 0, 1, "G4")
    projection.refresh()
    assert measures_of(projection.score())[1].offset == 1 and matches(projection, doc)
    editor.set_duration(note_id, 2)
    changes = projection.refresh()
    assert changes.layout and (ms[0], ps[1]) in changes.cells
    assert measures_of(projection.score(), 1)[0].paddingLeft == 2 and matches(projection, doc)


def test_measure_insert_delete_move(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor, measures=4)
    for i, m in enumerate(ms):
        editor.add_note(m, ps[0], 0, 4, f"C{i + 2}")
    projection = IncrementalProjection(doc)
    kept = measures_of(projection.score())[3]
    new = editor.insert_measure(1)
    changes = projection.refresh()
    assert changes.measures == {new} and changes.layout
    assert measures_of(projection.score())[4] is kept and kept.number == 5 and kept.offset == 16
    assert matches(projection, doc)
    other = editor.insert_measure(1, time="2/4")  # the later measures become 2/4 too
    assert projection.refresh().measures == {other, new, *ms[1:]}
    assert matches(projection, doc)
    editor.delete_measure(ms[0])
    projection.refresh()
    assert matches(projection, doc)
    editor.move_measure(ms[3], 0)
    projection.refresh()
    assert [m.number for m in measures_of(projection.score())] == [1, 2, 3, 4, 5]
    assert matches(projection, doc)


def test_parts_add_remove_move_update_and_meta(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    editor.add_note(ms[0], ps[1], 0, 1, "C3")
    projection = IncrementalProjection(doc)
    added = editor.add_part("Flute", index=0, program=73)
    changes = projection.refresh()
    assert changes.parts_added == (added,) and changes.cells == {(m, added) for m in ms}
    assert [p.id for p in projection.score().parts] == [added, *ps]
    editor.move_part(ps[1], 0)
    editor.update_part(ps[0], name="Renamed", clef="alto")
    projection.refresh()
    assert [p.id for p in projection.score().parts] == [ps[1], added, ps[0]]
    assert matches(projection, doc)
    editor.remove_part(added)
    assert projection.refresh().parts_removed == (added,)
    editor.set_metadata(title="New title", tempo=Tempo(60))
    changes = projection.refresh()
    assert changes.meta and changes.measures == {ms[0]}
    assert projection.score().metadata.title == "New title"
    assert matches(projection, doc)


def test_restored_measure_brings_back_its_notes(editor: ScoreEditor, doc: ScoreDoc) -> None:
    _, ps = make(editor)
    note = {"measure": "m_back", "part": ps[0], "onset": "0", "duration": "4", "pitches": ["A4"]}
    projection = IncrementalProjection(doc)
    doc.notes["n_early"] = note  # arrives before its measure (another client's update)
    assert projection.refresh().cells == frozenset()
    doc.measures.append(Map({"id": "m_back"}))
    projection.refresh()
    assert measures_of(projection.score())[3].notes.first().nameWithOctave == "A4"
    assert matches(projection, doc)


def test_misbehaving_client_content(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    good = editor.add_note(ms[0], ps[0], 0, 1, "C4")
    projection = IncrementalProjection(doc)
    doc.notes[good] = {"measure": ms[0], "part": ps[0], "onset": "x"}
    doc.notes["n_map"] = Map(
        {"measure": ms[1], "part": ps[0], "onset": 0, "duration": 1.0, "pitches": ["E4"]}
    )
    doc.notes["n_list"] = ["not", "a", "note"]
    doc.measures.append(Map({"id": 5}))
    doc.measures[0]["time"] = "99/3"
    doc.parts.append(Map({"id": "p_x", "staves": "many"}))
    doc.parts.append("not a map")
    doc.meta["title"] = 42
    projection.refresh()
    assert not projection.last_changes.full
    assert matches(projection, doc)
    doc.notes["n_map"]["pitches"] = ["F4"]  # an edit inside a nested map
    projection.refresh()
    assert measures_of(projection.score())[1].notes.first().nameWithOctave == "F4"
    assert matches(projection, doc)


def test_remote_updates_and_close(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    replica = ScoreDoc.from_update(doc.encode_state())
    projection = IncrementalProjection(replica)
    state = replica.doc.get_state()
    editor.add_note(ms[2], ps[1], 0, 4, "B3")
    replica.doc.apply_update(doc.doc.get_update(state))
    assert projection.refresh().cells == {(ms[2], ps[1])}
    assert matches(projection, replica)
    projection.close()
    projection.close()
    ScoreEditor(replica).add_note(ms[0], ps[0], 0, 1, "C4")
    assert not projection.pending


def test_time_signature_change_with_notes_rebuilds_one_measure(
    editor: ScoreEditor, doc: ScoreDoc
) -> None:
    ms, ps = make(editor, measures=5)
    for m in ms:
        for p in ps:
            editor.add_note(m, p, 0, 2, "C4")
    projection = IncrementalProjection(doc)
    editor.set_time_signature(ms[2], "3/4")
    changes = projection.refresh()
    assert changes.cells == {(ms[2], p) for p in ps} and changes.layout
    assert [m.offset for m in measures_of(projection.score())] == [0, 4, 8, 11, 14]
    assert matches(projection, doc)


def test_note_music21_rejects_is_skipped(editor: ScoreEditor, doc: ScoreDoc) -> None:
    ms, ps = make(editor)
    projection = IncrementalProjection(doc)
    editor.add_note(ms[0], ps[0], 0, 1, "D4")
    doc.notes["n_odd"] = {
        "measure": ms[0],
        "part": ps[0],
        "onset": "1",
        "duration": "1",
        "pitches": ["C#-1"],
    }  # passes the schema, music21 cannot read it
    assert [n.nameWithOctave for n in measures_of(full(doc))[0].notes] == ["D4"]
    assert matches(projection, doc) and not projection.last_changes.full


def test_unexpected_failure_falls_back_to_a_full_rebuild(
    editor: ScoreEditor, doc: ScoreDoc, monkeypatch: pytest.MonkeyPatch
) -> None:
    ms, ps = make(editor)
    projection = IncrementalProjection(doc)
    editor.add_note(ms[0], ps[0], 0, 1, "D4")
    from score_model.projection import incremental

    real = incremental.build_measure
    calls = iter([RuntimeError("boom")])

    def flaky(*args: object) -> stream.Measure:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(incremental, "build_measure", flaky)
    assert projection.refresh().full
    assert matches(projection, doc)


def test_many_cells_in_one_part_are_reassembled(
    editor: ScoreEditor, doc: ScoreDoc, monkeypatch: pytest.MonkeyPatch
) -> None:
    from score_model.projection import incremental

    monkeypatch.setattr(incremental, "REASSEMBLE_AFTER", 2)
    ms, ps = make(editor, measures=4)
    for m in ms:
        editor.add_note(m, ps[0], 0, 4, "C4")
    projection = IncrementalProjection(doc)
    editor.transpose("M3", measures=ms[:2])
    assert projection.refresh().parts_reassembled == ()
    editor.transpose("-m2")
    changes = projection.refresh()
    assert changes.parts_reassembled == (ps[0],) and len(changes.cells) == 4
    assert [n.nameWithOctave for n in projection.score().parts[0].recurse().notes] == [
        "D#4",
        "D#4",
        "B3",
        "B3",
    ]
    assert matches(projection, doc)


def test_incremental_score_exports_like_the_full_one(editor: ScoreEditor, doc: ScoreDoc) -> None:
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    ms, ps = make(editor, measures=4)
    projection = IncrementalProjection(doc)
    for m in ms:
        editor.add_note(m, ps[0], 0, 4, "C4")
        projection.refresh()
    editor.set_time_signature(ms[2], "3/4")
    projection.refresh()
    editor.add_note(ms[1], ps[1], 1, 1, "E4")

    def musicxml(score: stream.Score) -> list[str]:
        text = GeneralObjectExporter(score).parse().decode()
        return [line for line in text.splitlines() if "encoding-date" not in line]

    assert musicxml(projection.score()) == musicxml(full(doc))
