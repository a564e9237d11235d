"""Schema version 3 marks: slurs, hairpins, ornaments, fingerings and lyric verses, from
the typed operations through MusicXML export and back through import."""

from __future__ import annotations

import pytest

from score_model.document import ScoreDoc
from score_model.exporter import export_score
from score_model.importer import import_score
from score_model.migrate import migrate, schema_version
from score_model.ops import EditError, ScoreEditor
from score_model.schema import SCHEMA_VERSION, Note, SchemaError


@pytest.fixture
def marked() -> tuple[ScoreDoc, list[str]]:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Flute"], measures=2)
    first, second = ids["measures"]
    part = ids["parts"][0]
    a = editor.add_note(first, part, 0, 2, "C5")
    b = editor.add_note(first, part, 2, 2, ["D5", "F5"])
    c = editor.add_note(second, part, 0, 4, "E5")
    editor.add_slur(a, c)
    editor.add_slur(b, c)  # nested: c ends two slurs
    editor.add_hairpin(a, b, "crescendo")
    editor.add_hairpin(b, c, "diminuendo")  # b ends one wedge and starts the next
    editor.set_ornaments(b, ["trill", "turn"])
    editor.set_fingerings(b, [1, "3"])
    editor.set_lyric(a, "one")
    editor.set_verse(a, 3, "three")
    return score, [a, b, c]


def test_typed_operations_write_marks(marked: tuple[ScoreDoc, list[str]]) -> None:
    score, (a, b, c) = marked
    notes = score.read().notes
    assert notes[a].slurs == ("start",) and notes[c].slurs == ("stop", "stop")
    assert notes[a].hairpins == ("crescendo",) and notes[b].hairpins == ("stop", "diminuendo")
    assert notes[b].ornaments == ("trill", "turn") and notes[b].fingerings == ("1", "3")
    assert notes[a].verses == (None, "three")
    assert schema_version(score) == SCHEMA_VERSION >= 3


def test_marks_survive_musicxml_round_trip(marked: tuple[ScoreDoc, list[str]]) -> None:
    score, _ = marked
    exported = export_score(score, "musicxml")
    text = exported.data.decode()
    assert text.count("<slur ") == 4 and text.count("<wedge ") == 4
    assert "<trill-mark" in text and "<turn" in text and text.count("<fingering") == 2
    back = import_score(exported.data, format="musicxml").read()
    ordered = sorted(back.notes.values(), key=lambda n: (n.measure != back.measures[0].id, n.onset))
    assert [n.slurs for n in ordered] == [("start",), ("start",), ("stop", "stop")]
    assert [sorted(n.hairpins) for n in ordered] == [
        ["crescendo"],
        ["diminuendo", "stop"],
        ["stop"],
    ]
    assert ordered[1].ornaments == ("trill", "turn") and ordered[1].fingerings == ("1", "3")
    assert ordered[0].lyric == "one" and ordered[0].verses == (None, "three")
    assert not back.problems and not exported.warnings


def test_unpaired_marks_export_with_a_warning() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Oboe"], measures=1)
    note = editor.add_note(ids["measures"][0], ids["parts"][0], 0, 4, "A4")
    editor.update_note(note, slurs=["start"], hairpins=["stop"])
    exported = export_score(score, "musicxml")
    assert b"<slur" not in exported.data
    assert any("without a partner" in w for w in exported.warnings)


def test_removing_a_slur_and_hairpin(marked: tuple[ScoreDoc, list[str]]) -> None:
    score, (a, b, c) = marked
    editor = ScoreEditor(score)
    editor.remove_slur(a, c)
    editor.remove_hairpin(a, b)
    notes = score.read().notes
    assert notes[a].slurs == () and notes[c].slurs == ("stop",)
    assert notes[a].hairpins == () and notes[b].hairpins == ("diminuendo",)
    with pytest.raises(EditError):
        editor.remove_slur(a, c)


def test_invalid_marks_are_rejected(marked: tuple[ScoreDoc, list[str]]) -> None:
    score, (a, b, _) = marked
    editor = ScoreEditor(score)
    before = score.raw_notes()
    with pytest.raises(EditError):
        editor.set_ornaments(a, ["shake"])
    with pytest.raises(EditError):
        editor.add_hairpin(a, b, "stop")
    with pytest.raises(EditError):
        editor.set_fingerings(a, [1, 2])  # one pitch
    with pytest.raises(EditError):
        editor.add_slur(a, a)
    assert score.raw_notes() == before
    base = {"measure": "m", "part": "p", "onset": "0", "duration": "1", "pitches": ["C4"]}
    for bad in ({"slurs": ["begin"]}, {"hairpins": "crescendo"}, {"verses": [""]}):
        with pytest.raises(SchemaError):
            Note.from_json("n_x", {**base, **bad})


def test_off_schema_mark_is_reported_not_read(marked: tuple[ScoreDoc, list[str]]) -> None:
    score, (a, _, _) = marked
    score.notes[a] = {**score.raw_notes()[a], "ornaments": ["shake"]}
    data = score.read()
    assert a not in data.notes
    assert any(p.code == "bad_ornaments" and p.note == a for p in data.problems)


def test_version_2_document_migrates_to_the_current_version() -> None:
    score = ScoreDoc()
    ScoreEditor(score).create_score(parts=["Voice"], measures=1)
    score.meta["schema_version"] = 2
    assert migrate(score) and schema_version(score) == SCHEMA_VERSION
    assert not migrate(score)


@pytest.fixture
def piano() -> tuple[ScoreDoc, dict[str, list[str]]]:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Violin", "Piano"], measures=2)
    (m1, m2), (violin, keys) = ids["measures"], ids["parts"]
    editor.set_staves(keys, 2, ["treble", "bass"])
    editor.add_note(m1, violin, 0, 4, "G4")
    editor.add_note(m1, keys, 0, 4, ["C4", "E4"])
    editor.add_note(m1, keys, 0, 2, "C3", staff=2, voice=5)
    editor.add_note(m1, keys, 2, 2, "G2", staff=2, voice=5)
    editor.add_note(m2, keys, 0, 4, "C5")
    high = editor.add_note(m2, keys, 0, 4, "C4", staff=2, voice=5)
    editor.set_clef_change(high, "treble")  # the left hand moves up
    return score, ids


def test_grand_staff_is_one_part_with_a_brace(piano: tuple[ScoreDoc, dict[str, list[str]]]) -> None:
    score, _ = piano
    exported = export_score(score, "musicxml")
    text = exported.data.decode()
    assert text.count("<score-part ") == 2 and text.count("<staves>2</staves>") == 1
    assert '<clef number="2">' in text and text.count("<staff>2</staff>") == 3
    back = import_score(exported.data, format="musicxml").read()
    violin, keys = back.parts
    assert (violin.staves, keys.staves, keys.clefs) == (1, 2, ("treble", "bass"))
    lower = sorted(
        (n for n in back.notes.values() if n.part == keys.id and n.staff == 2),
        key=lambda n: (n.measure != back.measures[0].id, n.onset),
    )
    assert [n.pitches for n in lower] == [("C3",), ("G2",), ("C4",)]
    assert all(n.voice == 5 for n in lower)
    assert [n.clef for n in lower] == [None, None, "treble"]
    upper = [n for n in back.notes.values() if n.part == keys.id and n.staff == 1]
    assert sorted(n.pitches for n in upper) == [("C4", "E4"), ("C5",)]
    assert not back.problems


def test_clef_change_in_a_single_staff_part() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=[{"name": "Cello", "clef": "bass"}], measures=1)
    (m1,), (cello,) = ids["measures"], ids["parts"]
    editor.add_note(m1, cello, 0, 2, "C3")
    tenor = editor.add_note(m1, cello, 2, 2, "D4")
    editor.set_clef_change(tenor, "tenor")
    back = import_score(export_score(score, "musicxml").data, format="musicxml").read()
    assert back.parts[0].clef == "bass"
    assert sorted((n.onset, n.clef) for n in back.notes.values()) == [(0, None), (2, "tenor")]
    with pytest.raises(EditError):
        editor.set_clef_change(tenor, "violin")
    with pytest.raises(EditError):
        editor.set_staves(cello, 2, ["bass"])


def _xml_note(step: str, octave: int = 5, length: int = 1) -> str:
    pitch = f"<pitch><step>{step}</step><octave>{octave}</octave></pitch>" if step else "<rest/>"
    return f"<note>{pitch}<duration>{length}</duration><voice>1</voice></note>"


def _wedge(kind: str) -> str:
    return f'<direction><direction-type><wedge type="{kind}"/></direction-type></direction>'


# Beethoven op. 18 no. 1/ii, bar 72 of the first violin (music21's corpus): three
# crescendos without numbers start together and stop at two notes; music21 pairs them
# into wedges whose notes it lists last first.
UNNUMBERED_WEDGES = (
    '<?xml version="1.0"?><score-partwise version="4.0"><part-list><score-part id="P1">'
    '<part-name>Violin</part-name></score-part></part-list><part id="P1"><measure number="1">'
    "<attributes><divisions>2</divisions><time><beats>4</beats><beat-type>4</beat-type></time>"
    "</attributes>"
    + _xml_note("C", length=2)
    + _xml_note("")
    + _wedge("crescendo") * 3
    + _xml_note("A")
    + _wedge("stop") * 2
    + _xml_note("G")
    + _wedge("stop")
    + _wedge("diminuendo")
    + _xml_note("F")
    + _xml_note("E")
    + _xml_note("D")
    + _wedge("stop")
    + "</measure></part></score-partwise>"
).encode()


def test_wedges_music21_lists_backwards_start_at_their_earlier_note() -> None:
    """Every hairpin mark imported pairs with another (a start before its stop), so the
    MusicXML round trip keeps them all."""
    data = import_score(UNNUMBERED_WEDGES, "wedges.musicxml").read()
    ordered = sorted((n for n in data.notes.values() if n.hairpins), key=lambda n: n.onset)
    open_wedges = 0
    for n in ordered:
        for mark in n.hairpins:
            assert mark != "stop" or open_wedges, f"a stop at {n.onset} before any start"
            open_wedges += -1 if mark == "stop" else 1
    assert open_wedges == 0 and len(ordered) >= 3
    again = import_score(export_score(import_score(UNNUMBERED_WEDGES), "musicxml").data).read()
    assert sorted((n.onset, n.hairpins) for n in again.notes.values() if n.hairpins) == [
        (n.onset, n.hairpins) for n in ordered
    ]
