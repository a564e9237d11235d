"""Import of MusicXML, MXL, MIDI, ABC and JSON into a document, and export back out."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from music21 import chord, meter, note, stream, tempo
from music21.midi import translate
from pycrdt import ReadTransaction, TransactionEvent

from bench.fidelity import measure_rows, notation_rows, sounding_rows
from score_model.document import ScoreData, ScoreDoc
from score_model.exporter import ExportError, export_json, export_score
from score_model.importer import (
    IMPORT_ORIGIN,
    detect_format,
    import_json,
    import_score,
    import_score_report,
)
from score_model.limits import ImportFailure, ScoreImportError
from score_model.ops import ScoreEditor
from score_model.schema import KeySignature, Tempo
from score_model.validation import validate

FEATURES = Path(__file__).parent / "fixtures" / "features.musicxml"


def cells(data: ScoreData) -> list[tuple[object, ...]]:
    """Every note as (part index, measure index, voice, onset, duration, pitches, ties,
    lyric, articulations, dynamic, grace), sorted."""
    parts = {p.id: i for i, p in enumerate(data.parts)}
    measures = {m.id: i for i, m in enumerate(data.measures)}
    return sorted(
        (
            (
                parts[n.part],
                measures[n.measure],
                n.voice,
                n.onset,
                n.duration,
                n.pitches,
                n.ties,
                n.lyric,
                n.articulations,
                n.dynamic,
                n.grace,
            )
            for n in data.notes.values()
        ),
        key=repr,
    )


def as_mxl(xml: bytes, name: str = "score.musicxml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:'
            'opendocument:xmlns:container"><rootfiles><rootfile full-path='
            f'"{name}" media-type="application/vnd.recordare.musicxml+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr(name, xml)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def features() -> ScoreData:
    return import_score(FEATURES.read_bytes(), FEATURES.name).read()


# --- MusicXML ----------------------------------------------------------------------------------


def test_musicxml_metadata_and_parts(features: ScoreData) -> None:
    assert (features.meta.title, features.meta.composer) == ("Test Piece", "Tester")
    flute, piano = features.parts  # the grand staff is one part (schema 3)
    assert (flute.name, flute.abbreviation, flute.instrument, flute.program, flute.clef) == (
        "Flute",
        "Fl.",
        "Flute",
        73,
        "treble",
    )  # MusicXML programs count from 1, MIDI from 0
    assert (piano.name, piano.staves, piano.clef, piano.clefs) == (
        "Piano",
        2,
        "treble",
        ("treble", "bass"),
    )
    assert features.problems == []


def test_musicxml_measure_columns(features: ScoreData) -> None:
    pickup, first, second, last = features.measures
    assert pickup.pickup and pickup.time == "4/4"
    assert pickup.key == KeySignature(-3, "minor")
    assert pickup.tempo == Tempo(72, Fraction(1), "Andante")
    assert (first.repeat, second.repeat, last.barline) == ("start", "end", "final")
    assert [m.pickup for m in features.measures] == [True, False, False, False]
    slots = features.layout()
    assert [s.offset for s in slots] == [0, 1, 5, 9]  # the pickup lasts its content: 1 beat


def test_musicxml_notes(features: ScoreData) -> None:
    none: tuple[()] = ()
    assert cells(features) == sorted(
        [
            (0, 0, 1, 0, 1, ("G4",), none, "la", ("staccato",), "p", False),
            (0, 1, 1, 0, 2, ("A-4",), none, None, ("fermata",), None, False),
            (0, 1, 1, 2, Fraction(1, 2), ("B-4",), none, None, none, None, True),
            (0, 1, 1, 2, 1, ("G4",), none, None, none, None, False),  # G half-sharp, rounded
            (0, 1, 1, 3, Fraction(1, 2), ("F#4",), none, None, none, None, False),
            (
                0,
                1,
                1,
                Fraction(7, 2),
                Fraction(1, 2),
                ("E-4",),
                none,
                None,
                ("accent", "tenuto"),
                None,
                False,
            ),
            (0, 2, 1, 0, 1, ("C5",), none, None, none, None, False),
            (0, 2, 1, 1, 1, ("D5",), none, None, none, "ff", False),  # ff written at beat 2
            (0, 2, 1, 2, 2, ("E-5",), none, None, none, None, False),
            (0, 3, 1, 0, 4, ("C5",), none, None, none, None, False),
            (1, 0, 1, 0, 1, ("C4", "E-4", "G4"), ("start", None, "start"), None, none, None, False),
            (1, 1, 1, 0, 2, ("C4", "E-4", "G4"), ("stop", None, "stop"), None, none, None, False),
            (1, 1, 1, 2, 2, (), none, None, none, None, False),
            (1, 0, 5, 0, 1, (), none, None, none, None, False),  # staff 2 from voice 5
            (1, 1, 5, 0, 4, ("C3",), none, None, none, None, False),
            (1, 1, 6, 0, 2, ("G2",), none, None, none, None, False),
            (1, 1, 6, 2, 2, ("G2",), none, None, none, None, False),
        ],
        key=repr,
    )


def test_parts_with_fewer_measures_are_padded(features: ScoreData) -> None:
    last = features.measures[3].id
    assert {n.part for n in features.notes.values() if n.measure == last} == {features.parts[0].id}
    assert [p.code for p in validate(features) if p.severity == "error"] == []


def test_import_reports_what_it_approximated() -> None:
    report = import_score_report(FEATURES.read_bytes(), FEATURES.name)
    assert report.format == "musicxml"
    assert report.warnings == ["microtonal pitches were rounded to the nearest semitone"]


def test_mxl_imports_like_the_musicxml_inside(features: ScoreData) -> None:
    data = import_score(as_mxl(FEATURES.read_bytes())).read()
    assert cells(data) == cells(features)


def test_import_is_one_transaction_with_the_import_origin() -> None:
    score = ScoreDoc()
    origins = []

    def seen(event: TransactionEvent) -> None:
        origins.append(ReadTransaction(score.doc, event.transaction).origin)  # type: ignore[attr-defined]

    score.doc.observe(seen)
    assert import_score(FEATURES.read_bytes(), into=score) is score
    assert origins == [IMPORT_ORIGIN]
    assert len(score.notes) == 17


def test_import_refuses_a_document_that_is_not_empty() -> None:
    score = ScoreDoc()
    ScoreEditor(score).create_score(measures=1)
    with pytest.raises(ValueError, match="empty"):
        import_score(FEATURES.read_bytes(), into=score)


def test_sloppy_divisions_are_restored_to_written_values() -> None:
    xml = FEATURES.read_text().replace("<divisions>2</divisions>", "<divisions>3</divisions>")
    triplets = (
        "<note><pitch><step>C</step><octave>5</octave></pitch><duration>{}</duration>"
        "<voice>1</voice><type>eighth</type><time-modification><actual-notes>3"
        "</actual-notes><normal-notes>2</normal-notes></time-modification></note>"
    )
    # a triplet written with durations rounded to the divisions: 1 + 1 + 0 of 3 per quarter
    body = "".join(triplets.format(d) for d in ("0.99", "0.99", "1.02"))
    xml = xml.replace(
        '<measure number="0" implicit="yes">\n      <attributes>',
        '<measure number="0" implicit="yes">\n      <attributes>',
        1,
    )
    start = xml.index("<note><pitch><step>G</step><octave>4</octave>")
    end = xml.index("</note>", start) + len("</note>")
    report = import_score_report((xml[:start] + body + xml[end:]).encode())
    flute = report.score.read()
    first = sorted(
        (n.onset, n.duration)
        for n in flute.notes.values()
        if n.measure == flute.measures[0].id and n.part == flute.parts[0].id
    )
    assert first == [
        (0, Fraction(1, 3)),
        (Fraction(1, 3), Fraction(1, 3)),
        (Fraction(2, 3), Fraction(1, 3)),
    ]


# --- ABC and MIDI ------------------------------------------------------------------------------

TUNE = b"""X:7
T:Test Reel
C:Trad.
M:2/4
L:1/8
Q:1/4=100
K:D
A|d2 (3fed|[df]2 e>f|g2-g2|]
"""


def test_abc_tune() -> None:
    data = import_score(TUNE, "tune.abc").read()
    assert (data.meta.title, data.meta.composer) == ("Test Reel", "Trad.")
    pickup = data.measures[0]
    assert (pickup.pickup, pickup.time, pickup.key, pickup.tempo) == (
        True,
        "2/4",
        KeySignature(2, "major"),
        Tempo(100, Fraction(1)),
    )
    assert [
        (m, n[3], n[4], n[5], n[6]) for m, n in ((row[1], row) for row in cells(data))
    ] == sorted(
        [
            (0, 0, Fraction(1, 2), ("A4",), ()),
            (1, 0, 1, ("D5",), ()),
            (1, 1, Fraction(1, 3), ("F#5",), ()),
            (1, Fraction(4, 3), Fraction(1, 3), ("E5",), ()),
            (1, Fraction(5, 3), Fraction(1, 3), ("D5",), ()),
            (2, 0, 1, ("D5", "F#5"), ()),
            (2, 1, Fraction(3, 4), ("E5",), ()),
            (2, Fraction(7, 4), Fraction(1, 4), ("F#5",), ()),
            (3, 0, 1, ("G5",), ("start",)),
            (3, 1, 1, ("G5",), ("stop",)),
        ],
        key=repr,
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("((3gfg) e>g ((3=f=ef) d>f|\n(ab) c2 d4|]", id="slur-around-triplet"),
        pytest.param("((3gfg) e>g ((3=f=ef) d>f|]", id="one-bar"),
    ],
)
def test_abc_slurs_end_where_they_close(body: str) -> None:
    """music21's ABC reader lets a slur around a triplet run to the end of the tune, and a
    one-bar tune lost its slurs; both are marked on their own first and last notes, and
    the MusicXML round trip keeps them."""
    tune = f"X:1\nT:Slurs\nM:C|\nL:1/8\nK:Bb\n{body}\n".encode()
    data = import_score(tune, "slurs.abc").read()
    first = data.measures[0].id
    marked = sorted(
        (n.onset, n.pitches, n.slurs) for n in data.notes.values() if n.measure == first and n.slurs
    )
    assert marked == [
        (Fraction(0), ("G5",), ("start",)),
        (Fraction(2, 3), ("G5",), ("stop",)),
        (Fraction(2), ("F5",), ("start",)),
        (Fraction(8, 3), ("F5",), ("stop",)),
    ]
    after = import_score(export_score(import_score(tune, "slurs.abc"), "musicxml").data).read()
    assert notation_rows(after) == notation_rows(data)


def test_abc_book_imports_its_first_tune() -> None:
    book = TUNE + b"\nX:8\nT:Second\nM:4/4\nK:G\nGABc|]\n"
    report = import_score_report(book, "book.abc")
    assert report.score.read().meta.title == "Test Reel"
    assert report.warnings == ["the ABC file holds 2 tunes; imported the first (X:7)"]


def test_midi_file() -> None:
    part = stream.Part()
    first = stream.Measure(number=1)
    first.append(
        [
            meter.TimeSignature("3/4"),
            tempo.MetronomeMark(number=90),
            note.Note("C4", quarterLength=1),
            note.Note("E4", quarterLength=0.5),
            note.Note("F#4", quarterLength=0.5),
            chord.Chord(["G3", "B3", "D4"], quarterLength=1),
        ]
    )
    second = stream.Measure(number=2)
    second.append(note.Note("A4", quarterLength=3))
    part.append([first, second])
    score = stream.Score([part])
    data = import_score(bytes(translate.streamToMidiFile(score).writestr())).read()
    assert [(m.time, m.tempo) for m in data.measures] == [
        ("3/4", Tempo(90, Fraction(1))),
        (None, None),
    ]
    assert [(row[1], row[3], row[4], row[5]) for row in cells(data)] == sorted(
        [
            (0, 0, 1, ("C4",)),
            (0, 1, Fraction(1, 2), ("E4",)),
            (0, Fraction(3, 2), Fraction(1, 2), ("F#4",)),
            (0, 2, 1, ("G3", "B3", "D4")),
            (1, 0, 3, ("A4",)),
        ],
        key=repr,
    )


# --- format detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "fmt", "expected"),
    [
        (b"<?xml version='1.0'?><score-partwise/>", None, None, "musicxml"),
        (b"\xef\xbb\xbf  <score-partwise/>", "x.bin", None, "musicxml"),
        (b"PK\x03\x04rest", "score.xml", None, "mxl"),  # the content wins over the name
        (b"MThd\x00\x00\x00\x06", None, None, "midi"),
        (b"X:1\nT:t\nK:C\nCDE|", None, None, "abc"),
        (b'{"parts": []}', None, None, "json"),
        (b"anything", "Score.MIDI", None, "midi"),
        (b"anything", None, "xml", "musicxml"),
        (b"anything", "x.abc", "MXL", "mxl"),
    ],
)
def test_detect_format(data: bytes, filename: str | None, fmt: str | None, expected: str) -> None:
    assert detect_format(data, filename, fmt) == expected


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def edited() -> ScoreDoc:
    """A small score built with the editor, using every feature the schema has."""
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(
        title="Edited",
        composer="Someone",
        parts=[
            {
                "name": "Oboe",
                "abbreviation": "Ob.",
                "program": 68,
                "clef": "treble",
                "instrument": "Oboe",
            },
            {"name": "Cello", "clef": "bass", "program": 42},
        ],
        measures=3,
        time="3/4",
        key=KeySignature(1, "major"),
        tempo=Tempo(88, Fraction(1), "Moderato"),
    )
    (m1, m2, m3), (oboe, cello) = ids["measures"], ids["parts"]
    with editor.batch():
        editor.set_repeat(m2, "both")
        editor.set_barline(m3, "final")
        editor.set_time_signature(m3, "6/8")
        editor.add_note(m1, oboe, 0, 1, "D5", lyric="Ah", dynamic="mf", articulations=["accent"])
        triplet = [
            editor.add_note(m1, oboe, 1, Fraction(1, 3), "E5"),
            editor.add_note(m1, oboe, Fraction(4, 3), Fraction(1, 3), "F#5"),
            editor.add_note(m1, oboe, Fraction(5, 3), Fraction(1, 3), "G5", grace=False),
        ]
        editor.set_tuplet(triplet, 3, 2)  # written as a group (schema 4; see the test below)
        editor.add_note(m1, oboe, 2, Fraction(1, 2), "B5", grace=True)
        editor.add_note(m1, oboe, 2, 1, ["A5"], ties=["start"])
        editor.add_note(m2, oboe, 0, 1, ["A5"], ties=["stop"], articulations=["fermata"])
        editor.add_rest(m2, oboe, 1, 2)
        editor.add_note(m3, oboe, 0, 3, ["B4", "D5"], articulations=["staccato", "tenuto"])
        editor.add_note(m1, cello, 0, 3, "G2", voice=1)
        editor.add_note(m2, cello, 0, 3, ["G2", "D3"], ties=["start", None])
        editor.add_note(m2, cello, 0, 1, "B3", voice=2)
        editor.add_note(m2, cello, 1, 2, "C4", voice=2, dynamic="p")
        editor.add_note(m3, cello, 0, Fraction(3, 2), ["G2", "D3"], ties=["stop", None])
        editor.add_note(m3, cello, Fraction(3, 2), Fraction(3, 2), "B-2")
        editor.post_chat("ann", "hello")
        editor.add_comment("ann", "check this", measure=m2, part=cello, onset=1)
    return score


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("musicxml", "application/vnd.recordare.musicxml+xml", "musicxml"),
        ("mxl", "application/vnd.recordare.musicxml", "mxl"),
        ("midi", "audio/midi", "mid"),
        ("json", "application/json", "json"),
    ],
)
def test_export_formats(edited: ScoreDoc, fmt: str, content_type: str, extension: str) -> None:
    exported = export_score(edited, fmt)
    assert (exported.content_type, exported.extension) == (content_type, extension)
    if fmt == "musicxml":
        assert SafeET.fromstring(exported.data).tag == "score-partwise"
    elif fmt == "mxl":
        archive = zipfile.ZipFile(io.BytesIO(exported.data))
        assert archive.namelist()[0] == "mimetype"
        assert archive.read("mimetype") == b"application/vnd.recordare.musicxml"
        container = SafeET.fromstring(archive.read("META-INF/container.xml"))
        root = container.find("rootfiles/rootfile")
        assert root is not None
        assert SafeET.fromstring(archive.read(root.get("full-path"))).tag == "score-partwise"
    elif fmt == "midi":
        assert exported.data[:4] == b"MThd"
    else:
        document = json.loads(exported.data)
        assert set(document) == {
            "schema_version",
            "meta",
            "parts",
            "measures",
            "notes",
            "comments",
            "chat",
        }
        assert len(document["notes"]) == 15 and len(document["chat"]) == 1


@pytest.mark.parametrize("fmt", ["musicxml", "mxl"])
def test_notation_round_trip_keeps_everything(edited: ScoreDoc, fmt: str) -> None:
    before = edited.read()
    after = import_score(export_score(edited, fmt).data).read()
    assert notation_rows(after) == notation_rows(before)
    assert measure_rows(after) == measure_rows(before)
    assert (after.meta.title, after.meta.composer) == ("Edited", "Someone")
    assert [(p.name, p.program, p.clef) for p in after.parts] == [
        (p.name, p.program, p.clef) for p in before.parts
    ]
    oboe = after.parts[0]  # abbreviation and instrument survive when set (music21 fills
    assert (oboe.abbreviation, oboe.instrument) == ("Ob.", "Oboe")  # in its own otherwise)


def test_tuplet_lengths_without_groups_come_back_grouped(edited: ScoreDoc) -> None:
    """A version-3 document holds a triplet as lengths only: export brackets it as music21
    infers, and import reads the bracket back as a group (nothing else changes)."""
    for note_id, raw in edited.raw_notes().items():
        if raw.get("tuplets"):
            ScoreEditor(edited).update_note(note_id, tuplets=None)
    before = edited.read()
    after = import_score(export_score(edited, "musicxml").data).read()
    grouped = [n for n in after.notes.values() if n.tuplets]
    assert len(grouped) == 3 and len({n.tuplets for n in grouped}) == 1
    assert grouped[0].tuplets[0].actual == 3 and grouped[0].tuplets[0].normal == 2
    assert not [p for p in validate(after) if p.code == "tuplet_mismatch"]

    def without_groups(data: ScoreData) -> Counter[object]:
        return Counter(row[:-1] for row in notation_rows(data)[0].elements())  # type: ignore[index]

    assert without_groups(after) == without_groups(before)


def test_midi_round_trip_keeps_sounding_notes(edited: ScoreDoc) -> None:
    editor = ScoreEditor(edited)
    data = edited.read()
    editor.set_repeat(data.measures[1].id, None)  # MIDI plays repeats out
    for n in data.notes.values():  # two limits of music21's MIDI writer (docs/formats.md):
        if n.voice == 2:  # a tie from a measure with two voices into one with one is re-struck
            editor.delete_note(n.id)
        elif len(n.pitches) == 2 and n.ties:  # a partly tied chord is tied whole
            editor.set_tie(n.id, n.ties[0])
    before = edited.read()
    after = import_score(export_score(edited, "midi").data).read()
    assert sounding_rows(after) == sounding_rows(before)


def test_json_round_trip_keeps_ids_comments_and_chat(edited: ScoreDoc) -> None:
    again = import_json(export_json(edited))
    assert json.loads(export_json(again)) == json.loads(export_json(edited))
    assert again.read().notes == edited.read().notes
    assert import_score(export_json(edited), "backup.json").raw_notes() == edited.raw_notes()


def test_overfull_measure_stays_one_measure_in_musicxml(edited: ScoreDoc) -> None:
    data = edited.read()
    ScoreEditor(edited).add_note(data.measures[0].id, data.parts[1].id, 3, 1, "A2")
    after = import_score(export_score(edited, "musicxml").data).read()
    assert len(after.measures) == 3
    assert notation_rows(after) == notation_rows(edited.read())


def test_export_errors_are_clear() -> None:
    empty = ScoreDoc()
    with pytest.raises(ExportError, match="at least one part"):
        export_score(empty, "musicxml")
    assert export_score(empty, "midi").data[:4] == b"MThd"
    assert json.loads(export_score(empty, "json").data)["notes"] == {}
    with pytest.raises(ExportError, match="png"):
        export_score(empty, "png")


def test_lengths_no_notation_can_write_are_rounded_and_reported() -> None:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(measures=1)
    measure, part = ids["measures"][0], ids["parts"][0]
    editor.add_note(measure, part, 0, Fraction(1, 1024), "C4")  # shorter than a 2048th
    editor.add_note(measure, part, Fraction(1, 1024), Fraction(3, 1000), "D4")
    editor.add_rest(measure, part, 1, Fraction(1, 2000))
    editor.add_note(measure, part, 2, 2, "E4")
    exported = export_score(score, "mxl")
    assert exported.warnings == (
        "2 note lengths no notation can write were rounded (to 1/384 of a quarter or coarser)",
        "1 rests too short for any notation were left out",
    )
    again = import_score(exported.data, "x.mxl").read()
    assert sorted((n.onset, n.duration, n.pitches) for n in again.notes.values() if n.pitches) == [
        (0, Fraction(1, 384), ("C4",)),
        (Fraction(1, 384), Fraction(1, 384), ("D4",)),
        (2, 2, ("E4",)),
    ]


def test_json_import_rejects_what_the_schema_rejects() -> None:
    with pytest.raises(ScoreImportError) as caught:
        import_json(b'{"parts": [{"id": "p1", "clef": "banjo"}], "measures": [], "notes": {}}')
    assert caught.value.reason == ImportFailure.INVALID
    assert "banjo" in str(caught.value)


def test_a_beat_no_note_value_writes_exports_in_quarters() -> None:
    """ABC's ``Q:5/4=50`` (a beat of five quarters) is written as quarter = 250: MusicXML's
    beat unit is one note value (corpus: ryansMammoth/WinnicksFavoriteJig once failed)."""
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Fiddle"], measures=1)
    editor.set_tempo(ids["measures"][0], 50, "5")
    editor.add_note(ids["measures"][0], ids["parts"][0], 0, 4, "A4")
    back = import_score(export_score(score, "musicxml").data).read()
    assert back.measures[0].tempo == Tempo(250, Fraction(1))


GRACE_RUN = b"""<?xml version="1.0"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Violin</part-name>
</score-part></part-list><part id="P1"><measure number="1">
<attributes><divisions>1</divisions><time><beats>1</beats><beat-type>4</beat-type></time>
</attributes>
<note><grace slash="yes"/><pitch><step>A</step><octave>5</octave></pitch><voice>1</voice>
<type>32nd</type><notations><slur type="start" number="1"/></notations></note>
<note><grace slash="yes"/><pitch><step>G</step><octave>5</octave></pitch><voice>1</voice>
<type>32nd</type></note>
<note><grace slash="yes"/><pitch><step>B</step><octave>5</octave></pitch><voice>1</voice>
<type>32nd</type></note>
<note><pitch><step>F</step><octave>5</octave></pitch><duration>1</duration><voice>1</voice>
<type>quarter</type><notations><slur type="stop" number="1"/></notations></note>
</measure></part></score-partwise>"""


def test_a_run_of_grace_notes_keeps_its_order() -> None:
    """Grace notes before one note share its onset, so the document orders them by id;
    import deals out their (random) ids in the file's order. Twenty imports, so a run
    that came out right by chance would show."""
    for _ in range(20):
        score = import_score(GRACE_RUN, "grace.musicxml")
        xml = export_score(score, "musicxml").data
        steps = [n.findtext("pitch/step") for n in SafeET.fromstring(xml).iter("note")]
        assert steps == ["A", "G", "B", "F"]
        assert b'<slur type="start"' in xml and b'<slur type="stop"' in xml
