"""MusicXML written straight from the document (score_model.musicxml): facts of the
bytes (divisions, voices that add up, accidentals, beams, tuplets) and round trips
through our importer of documents built with the typed operations."""

from __future__ import annotations

import re
from fractions import Fraction
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import HealthCheck, given, settings
from test_projection_properties import OPS, apply_op, deterministic_ids, new_score

from bench.fidelity import notation_rows
from score_model.document import ScoreData, ScoreDoc
from score_model.exporter import export_score, musicxml_report
from score_model.importer import import_score
from score_model.musicxml import write_musicxml
from score_model.ops import ScoreEditor
from score_model.projection import project_score
from score_model.schema import KeySignature, Tempo


def parsed(data: ScoreData) -> Element:
    xml, _ = write_musicxml(data)
    root: Element = SafeET.fromstring(xml)
    return root


def notes_of(measure: Element) -> list[Element]:
    return [n for n in measure.iter("note") if n.find("chord") is None]


def one_part(measures: int = 1, **kwargs: object) -> tuple[ScoreDoc, ScoreEditor, list[str], str]:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Flute"], measures=measures, **kwargs)  # type: ignore[arg-type]
    return score, editor, ids["measures"], ids["parts"][0]


def voice_lengths(measure: Element, divisions: int) -> dict[str, Fraction]:
    """Where each voice ends in the measure, walking notes, backups and forwards."""
    position = 0
    ends: dict[str, Fraction] = {}
    for element in measure:
        duration = element.findtext("duration")
        if element.tag == "backup":
            position -= int(duration or 0)
        elif element.tag in ("note", "forward"):
            if element.find("chord") is not None or element.find("grace") is not None:
                continue
            position += int(duration or 0)
            voice = element.findtext("voice") or "1"
            ends[voice] = Fraction(position, divisions)
        assert position >= 0
    return ends


@pytest.fixture
def two_voices() -> ScoreData:
    score, editor, (m1, m2), part = one_part(2, time="3/4")
    for onset in range(3):
        editor.add_note(m1, part, onset, 1, "C5")
    editor.add_note(m1, part, 0, Fraction(3, 2), "E4", voice=2)
    editor.add_note(m1, part, Fraction(3, 2), Fraction(3, 2), "F4", voice=2)
    for index in range(6):
        editor.add_note(m2, part, Fraction(index, 2), Fraction(1, 2), "G4")
    editor.add_note(m2, part, 0, 3, "C4", voice=2)
    return score.read()


def test_every_voice_fills_its_measure_and_backups_balance(two_voices: ScoreData) -> None:
    root = parsed(two_voices)
    divisions = int(root.findtext(".//divisions") or 0)
    assert divisions == 2  # eighths and dotted quarters: the least common multiple
    for measure in root.iter("measure"):
        assert voice_lengths(measure, divisions) == {"1": 3, "2": 3}


def test_divisions_make_every_tuplet_length_whole() -> None:
    score, editor, (m1,), part = one_part()
    notes = [editor.add_note(m1, part, Fraction(i, 2), Fraction(1, 2), "A4") for i in range(3)]
    editor.make_tuplet(notes, 3, 2)  # eighth triplets: 1/3 each
    quintuplet = [editor.add_note(m1, part, 2 + Fraction(i, 4), "1/4", "B4") for i in range(5)]
    editor.make_tuplet(quintuplet, 5, 4)  # sixteenth quintuplets: 1/5 each
    editor.add_note(m1, part, 1, 1, "G4")
    editor.add_note(m1, part, 3, 1, "C5")
    root = parsed(score.read())
    assert int(root.findtext(".//divisions") or 0) == 15  # lcm of 3 and 5
    measure = root.find(".//measure")
    assert measure is not None
    durations = [int(n.findtext("duration") or 0) for n in notes_of(measure)]
    assert durations == [5] * 3 + [15] + [3] * 5 + [15]
    assert voice_lengths(measure, 15) == {"1": 4}


def test_accidentals_follow_key_measure_and_ties() -> None:
    score, editor, (m1, m2), part = one_part(2, key=KeySignature(1))  # G major: F sharp
    pitches = ["F#4", "F4", "F4", "F#4"]
    for onset, name in enumerate(pitches):
        editor.add_note(m1, part, onset, 1, name)
    tied = editor.add_note(m2, part, 0, 1, "F#4")
    editor.add_note(m2, part, 1, 1, "F#5")  # another octave: as the key says
    editor.add_note(m2, part, 2, 1, "B-4")
    editor.add_note(m2, part, 3, 1, "B-4")  # the flat is still in force
    editor.set_tie(tied, "stop")
    first, second = parsed(score.read()).iter("measure")
    assert [n.findtext("accidental") for n in notes_of(first)] == [None, "natural", None, "sharp"]
    assert [n.findtext("accidental") for n in notes_of(second)] == [None, None, "flat", None]


def test_a_tie_into_the_next_bar_hides_its_accidental() -> None:
    score, editor, (m1, m2), part = one_part(2)
    start = editor.add_note(m1, part, 0, 4, "C#5")
    stop = editor.add_note(m2, part, 0, 2, "C#5")
    editor.add_note(m2, part, 2, 2, "C#5")  # the tie did not show it: shown here
    editor.set_tie(start, "start")
    editor.set_tie(stop, "stop")
    first, second = parsed(score.read()).iter("measure")
    assert [n.findtext("accidental") for n in notes_of(first)] == ["sharp"]
    assert [n.findtext("accidental") for n in notes_of(second)] == [None, None]
    tie_types = [t.get("type") for t in second.iter("tie")]
    assert tie_types == ["stop"]


def beams(measure: Element) -> list[list[tuple[str | None, str | None]]]:
    return [[(b.get("number"), b.text) for b in n.iter("beam")] for n in notes_of(measure)]


def test_beams_follow_the_time_signature() -> None:
    score, editor, (m1, m2), part = one_part(2)
    for index in range(8):
        editor.add_note(m1, part, Fraction(index, 2), Fraction(1, 2), "D5")
    editor.set_time_signature(m2, "6/8")
    for index in range(6):
        editor.add_note(m2, part, Fraction(index, 2), Fraction(1, 2), "D5")
    first, second = parsed(score.read()).iter("measure")
    pair = [[("1", "begin")], [("1", "end")]]  # music21's rule for 4/4: beat by beat
    assert beams(first) == pair * 4
    group = [[("1", "begin")], [("1", "continue")], [("1", "end")]]
    assert beams(second) == group + group
    assert {n.findtext("stem") for n in notes_of(first)} == {"down"}  # above the middle line


def test_sixteenths_get_a_second_beam_and_hooks() -> None:
    score, editor, (m1,), part = one_part()
    editor.add_note(m1, part, 0, Fraction(3, 4), "E4")  # dotted eighth + sixteenth
    editor.add_note(m1, part, Fraction(3, 4), Fraction(1, 4), "F4")
    editor.add_note(m1, part, 1, 3, "G4")
    measure = next(parsed(score.read()).iter("measure"))
    assert beams(measure)[:2] == [
        [("1", "begin")],
        [("1", "end"), ("2", "backward hook")],
    ]
    assert beams(measure)[2] == []
    assert {n.findtext("stem") for n in notes_of(measure)[:2]} == {"up"}


def test_stored_tuplet_groups_write_their_ratio_bracket_and_number() -> None:
    score, editor, (m1,), part = one_part()
    notes = [editor.add_note(m1, part, Fraction(i, 2), Fraction(1, 2), "C5") for i in range(3)]
    editor.make_tuplet(notes, 3, 2, bracket=False, number="ratio")
    editor.add_note(m1, part, 1, 3, "D5")
    written = notes_of(next(parsed(score.read()).iter("measure")))
    for note in written[:3]:
        assert note.findtext("type") == "eighth"
        assert note.findtext("time-modification/actual-notes") == "3"
        assert note.findtext("time-modification/normal-notes") == "2"
        assert note.findtext("time-modification/normal-type") == "eighth"
    start, stop = written[0].find(".//tuplet"), written[2].find(".//tuplet")
    assert start is not None and stop is not None and written[1].find(".//tuplet") is None
    assert (start.get("type"), start.get("bracket"), start.get("show-number")) == (
        "start",
        "no",
        "both",
    )
    assert start.findtext("tuplet-actual/tuplet-number") == "3"
    assert stop.get("type") == "stop"
    assert written[3].find("time-modification") is None


def test_tuplet_lengths_without_groups_get_brackets_inferred() -> None:
    score, editor, (m1,), part = one_part()
    for index in range(6):  # a version-3 document: triplet lengths, no groups
        editor.add_note(m1, part, Fraction(index, 3), Fraction(1, 3), "G4")
    editor.add_note(m1, part, 2, 2, "A4")
    written = notes_of(next(parsed(score.read()).iter("measure")))
    kinds = [[t.get("type") for t in n.iter("tuplet")] for n in written[:6]]
    assert kinds == [["start"], [], ["stop"], ["start"], [], ["stop"]]
    back = import_score(export_score(score, "musicxml").data).read()
    shapes = sorted(
        (n.onset, [(t.actual, t.normal) for t in n.tuplets]) for n in back.notes.values()
    )
    assert [s for _, s in shapes[:6]] == [[(3, 2)]] * 6


def test_a_length_no_note_value_writes_is_split_into_tied_notes() -> None:
    score, editor, (m1,), part = one_part()
    editor.add_note(m1, part, 0, Fraction(5, 4), ["C4", "E4"])  # quarter + sixteenth
    editor.add_note(m1, part, Fraction(5, 4), Fraction(11, 4), "G4")
    measure = next(parsed(score.read()).iter("measure"))
    written = notes_of(measure)
    assert [(n.findtext("type"), n.find("dot") is not None) for n in written] == [
        ("quarter", False),
        ("16th", False),
        ("half", False),  # 11/4: a half ...
        ("eighth", True),  # ... and a dotted eighth
    ]
    chord = [n for n in measure.iter("note")][:4]  # C4, E4 (tied on), then their ends
    assert [[t.get("type") for t in n.iter("tie")] for n in chord] == [
        ["start"],
        ["start"],
        ["stop"],
        ["stop"],
    ]
    assert voice_lengths(measure, 4) == {"1": 4}


def test_rounded_lengths_are_reported_as_the_music21_path_reports_them() -> None:
    score, editor, (m1,), part = one_part()
    editor.add_note(m1, part, 0, Fraction(1, 1024), "C4")
    editor.add_note(m1, part, Fraction(1, 1024), Fraction(3, 1000), "D4")
    editor.add_rest(m1, part, 1, Fraction(1, 2000))
    editor.add_note(m1, part, 2, 2, "E4")
    data = score.read()
    _, ours = write_musicxml(data)
    _, theirs = musicxml_report(project_score(data, staves=True))
    assert ours == theirs and len(ours) == 2


def full_score() -> ScoreDoc:
    """A document with every feature the MusicXML export carries, built with the typed
    operations."""
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(
        title="Every <feature> & more",
        composer="Tester",
        parts=[
            {"name": "Flute", "abbreviation": "Fl.", "instrument": "Flute", "program": 73},
            {"name": "Piano", "clef": "treble"},
        ],
        measures=4,
        time="3/4",
        key=KeySignature(-2, "minor"),
        tempo=Tempo(72, Fraction(1), "Andante"),
    )
    (m0, m1, m2, m3), (flute, piano) = ids["measures"], ids["parts"]
    editor.set_pickup(m0, True)
    editor.set_repeat(m1, "start")
    editor.set_repeat(m2, "end")
    editor.set_barline(m3, "final")
    editor.set_tempo(m2, 96, Fraction(3, 2), "Allegro")
    editor.set_time_signature(m3, "6/8")
    editor.set_key(m3, 3, "major")
    editor.set_staves(piano, 2, ["treble", "bass"])
    # the pickup: one quarter with a lyric in two verses, a fermata and a dynamic
    pick = editor.add_note(m0, flute, 0, 1, "B-4")
    editor.set_lyric(pick, "Hal-")
    editor.set_verse(pick, 2, "Ah")
    editor.set_articulations(pick, ["staccato", "fermata"])
    editor.set_dynamic(pick, "p")
    editor.add_note(m0, piano, 0, 1, ["B-4", "F4", "D4"])  # top down: the order is kept
    editor.add_note(m0, piano, 0, 1, "B-2", staff=2, voice=5)
    # bar 1: a grace note, a triplet group, a slur and a crescendo, an ornament
    grace = editor.add_note(m1, flute, 0, Fraction(1, 2), "C5", grace=True)
    trio = [editor.add_note(m1, flute, Fraction(i, 2), Fraction(1, 2), "D5") for i in range(3)]
    editor.make_tuplet(trio, 3, 2)
    long = editor.add_note(m1, flute, 1, 2, "E-5")
    editor.set_lyric(trio[0], "-le-")
    editor.set_lyric(long, "-lu")
    editor.add_slur(trio[0], long)
    editor.add_hairpin(trio[0], long, "crescendo")
    editor.set_ornaments(long, ["trill"])
    assert grace
    # the piano: two voices on the upper staff, fingerings, ties across the bar, clef change
    editor.add_note(m1, piano, 0, 3, ["F4", "A4"], voice=1)
    chord = editor.add_note(m1, piano, 0, 3, "C4", voice=2)
    editor.set_fingerings(chord, [1])
    low = editor.add_note(m1, piano, 0, 3, "F2", staff=2, voice=5)
    editor.set_tie(low, "start")
    low2 = editor.add_note(m2, piano, 0, 3, "F2", staff=2, voice=5)
    editor.set_tie(low2, "stop")
    editor.add_note(m2, piano, 0, 3, "C5")
    high = editor.add_note(m3, piano, 0, 3, "C4", staff=2, voice=5)
    editor.set_clef_change(high, "treble")
    editor.add_note(m3, piano, 0, 3, "E5")
    # bar 2: a rest, a diminuendo, mordent and turn, accents; bar 3: six eighths
    editor.add_rest(m2, flute, 0, 1)
    a = editor.add_note(m2, flute, 1, 1, "F5")
    b = editor.add_note(m2, flute, 2, 1, "G5")
    editor.add_hairpin(a, b, "diminuendo")
    editor.set_ornaments(a, ["mordent", "inverted-turn"])
    editor.set_articulations(b, ["accent", "tenuto"])
    for index in range(6):
        editor.add_note(m3, flute, Fraction(index, 2), Fraction(1, 2), "A5")
    editor.add_chord_symbol(m1, flute, 0, "B-", "major")
    editor.add_chord_symbol(m1, flute, 2, "F", "dominant", text="7", bass="A")
    editor.add_chord_figure(m2, flute, "3/2", "N.C.")
    editor.add_chord_symbol(m3, flute, 0, "A", "minor-seventh", degrees=[("add", 9, -1)])
    return score


def test_every_feature_survives_a_round_trip_through_our_importer() -> None:
    score = full_score()
    before = score.read()
    exported = export_score(score, "musicxml")
    assert not exported.warnings
    SafeET.fromstring(exported.data)  # well formed
    after = import_score(exported.data, "back.musicxml").read()
    assert notation_rows(after) == notation_rows(before)
    assert (after.meta.title, after.meta.composer) == (before.meta.title, before.meta.composer)
    fields = ("name", "abbreviation", "instrument", "program", "clef", "staves", "clefs")
    assert [[getattr(p, f) for f in fields] for p in after.parts] == [
        [getattr(p, f) for f in fields] for p in before.parts
    ]  # nothing filled in: the piano has no instrument, the flute no clef
    assert after.parts[0].program == 73 and after.parts[0].instrument == "Flute"
    for mine, theirs in zip(before.measures, after.measures, strict=True):
        assert (mine.time, mine.key, mine.tempo, mine.barline, mine.repeat, mine.pickup) == (
            theirs.time,
            theirs.key,
            theirs.tempo,
            theirs.barline,
            theirs.repeat,
            theirs.pickup,
        )
        strip = [(c.onset, c.root, c.kind, c.bass, c.text, c.degrees) for c in mine.chord_symbols]
        assert strip == [
            (c.onset, c.root, c.kind, c.bass, c.text, c.degrees) for c in theirs.chord_symbols
        ]

    def spans(data: ScoreData) -> list[tuple[Fraction, tuple[str, ...], tuple[str, ...]]]:
        return sorted(
            (n.onset, n.slurs, tuple(sorted(n.hairpins)))
            for n in data.notes.values()
            if n.slurs or n.hairpins
        )

    assert spans(after) == spans(before)


def test_the_full_score_engraves_with_every_note_id() -> None:
    score = full_score()
    svg = export_score(score, "svg")
    assert svg.pages == 1
    drawn = set(re.findall(rb'<g id="([^"]+)" class="(?:note|chord|rest)"', svg.data))
    pitched = {n.id.encode() for n in score.read().notes.values() if n.pitches and not n.grace}
    assert pitched <= drawn


def test_escaped_text_and_metadata() -> None:
    score = full_score()
    text = export_score(score, "musicxml").data.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<work-title>Every &lt;feature&gt; &amp; more</work-title>" in text
    assert '<creator type="composer">Tester</creator>' in text
    assert "<midi-program>74</midi-program>" in text  # MusicXML counts programs from 1
    assert '<measure number="0" implicit="yes"' in text
    assert '<sound tempo="144"/>' in text  # dotted quarter = 96 is 144 quarters a minute


def test_onsets_off_every_grid_fall_back_to_rounded_divisions() -> None:
    score, editor, measures, part = one_part(3)
    for measure, prime in zip(measures, (4093, 4091, 4079), strict=True):
        editor.add_note(measure, part, 0, 1, "C5")
        editor.add_note(measure, part, 1 + Fraction(1, prime), 1, "D5")  # after a tiny gap
    root = parsed(score.read())
    assert root.findtext(".//divisions") == "10080"  # the exact lcm would be about 7e10
    for measure_element in root.iter("measure"):
        forward = measure_element.find("forward")
        assert forward is not None and forward.findtext("duration") == "2"  # 10080/4093
        assert voice_lengths(measure_element, 10080) == {"1": Fraction(2 * 10080 + 2, 10080)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_documents_export_well_formed_and_read_back(
    ops: list[tuple[str, int, int, int, int]],
) -> None:
    with deterministic_ids() as ids:
        score = new_score(ids)
        for op in ops:
            if op[0] != "refresh":
                apply_op(score, op)
    data = score.read()
    if not data.parts or not data.measures:
        return
    xml, _ = write_musicxml(data)
    root = SafeET.fromstring(xml)
    divisions = int(root.findtext(".//divisions") or 0)
    for measure in root.iter("measure"):
        voice_lengths(measure, divisions)  # never backs up before the bar's start
    written = {n.get("id") for n in root.iter("note")}
    parts, measures = {p.id for p in data.parts}, {m.id for m in data.measures}
    placed = [n for n in data.notes.values() if n.part in parts and n.measure in measures]
    assert {n.id for n in placed if n.pitches} <= written
    back = import_score(xml, "back.musicxml").read()
    assert len(back.parts) == len(data.parts) and len(back.measures) == len(data.measures)


def test_grace_notes_take_their_written_value_and_no_time() -> None:
    score, editor, (m1,), part = one_part()
    editor.add_note(m1, part, 0, Fraction(1, 4), "D5", grace=True)  # a sixteenth
    editor.add_note(m1, part, 0, Fraction(1, 1000), "E5", grace=True)  # no value: an eighth
    editor.add_note(m1, part, 0, 4, "C5")
    measure = next(parsed(score.read()).iter("measure"))
    graces = [n for n in measure.iter("note") if n.find("grace") is not None]
    assert sorted((n.findtext("pitch/step"), n.findtext("type")) for n in graces) == [
        ("D", "16th"),
        ("E", "eighth"),
    ]
    assert all(n.find("duration") is None for n in graces)
    assert voice_lengths(measure, 1) == {"1": 4}


def test_a_span_from_a_lower_voice_up_is_written_start_first() -> None:
    """A slur and a wedge from voice 2 up to voice 1 of one bar: voice 2 is written first,
    so a reader meets each start before its stop (music21's reader dropped the stop, and
    then paired the next wedge of the score with the one left open), and both come back."""
    score, editor, (bar,), part = one_part()
    editor.add_note(bar, part, 0, 2, "C5", voice=1)
    top = editor.add_note(bar, part, 2, 2, "D5", voice=1)
    low = editor.add_note(bar, part, 0, 4, "E4", voice=2)
    editor.add_hairpin(low, top, "crescendo")
    editor.update_note(low, slurs=["start"])
    editor.update_note(top, slurs=["stop"])
    measure = parsed(score.read()).find("part/measure")
    assert measure is not None
    assert [n.findtext("voice") for n in notes_of(measure)] == ["2", "1", "1"]
    again = import_score(export_score(score, "musicxml").data).read()
    marks = {n.pitches: (n.slurs, n.hairpins) for n in again.notes.values()}
    assert marks == {
        ("E4",): (("start",), ("crescendo",)),
        ("C5",): ((), ()),
        ("D5",): (("stop",), ("stop",)),
    }
