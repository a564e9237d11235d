"""Humdrum **kern and MEI import: small fixtures, corpus pieces, and the hostile-file
guards (size, counts, note lengths, XML entities)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import music21
import pytest
from music21 import corpus

from score_model.importer import detect_format, import_score, import_score_report
from score_model.limits import ImportFailure, ImportLimits, ScoreImportError

FIXTURES = Path(__file__).parent / "fixtures"
KERN = (FIXTURES / "small.krn").read_bytes()
MEI = (FIXTURES / "small.mei").read_bytes()
MUSIC21_MEI = Path(os.path.dirname(music21.__file__)) / "mei" / "test" / "test_file.mei"


def rows(data: bytes, filename: str | None = None) -> list[tuple[object, ...]]:
    score = import_score(data, filename).read()
    parts = {p.id: i for i, p in enumerate(score.parts)}
    measures = {m.id: i for i, m in enumerate(score.measures)}
    return sorted(
        (parts[n.part], measures[n.measure], n.onset, n.duration, n.pitches, n.ties)
        for n in score.notes.values()
    )


def refused(data: bytes, filename: str | None = None, **limits: int) -> ImportFailure:
    with pytest.raises(ScoreImportError) as caught:
        import_score(data, filename, limits=ImportLimits(**limits))
    return caught.value.reason


def test_formats_are_detected_by_content_then_extension() -> None:
    assert detect_format(KERN) == "humdrum"
    assert detect_format(MEI) == "mei"
    assert detect_format(b"4c\n", "x.krn") == "humdrum"
    assert detect_format(MEI, format="mei") == "mei"
    assert detect_format(KERN, format="kern") == detect_format(KERN, format="krn") == "humdrum"


def test_small_kern() -> None:
    report = import_score_report(KERN, "small.krn")
    score = report.score.read()
    assert report.format == "humdrum" and score.meta.title == "Small kern"
    assert [m.time for m in score.measures] == ["3/4", None, None]
    assert score.measures[0].key is not None and score.measures[0].key.fifths == 1
    assert rows(KERN) == [
        (0, 0, 0, 1, ("D4", "G4"), ()),
        (0, 0, 1, Fraction(1, 2), ("C4",), ()),
        (0, 0, Fraction(3, 2), Fraction(1, 2), ("B3",), ()),
        (0, 0, 2, 1, ("A3",), ()),
        (0, 1, 0, 3, ("G4",), ("start",)),
        (0, 2, 0, 1, ("G4",), ("stop",)),
        (0, 2, 1, 2, ("B4",), ()),
        (1, 0, 0, 2, ("G3",), ()),
        (1, 0, 2, 1, ("D3",), ()),
        (1, 1, 0, 3, ("G3",), ()),
        (1, 2, 0, 1, (), ()),
        (1, 2, 1, 2, ("B3",), ()),
    ]


def test_small_mei() -> None:
    report = import_score_report(MEI, "small.mei")
    score = report.score.read()
    assert report.format == "mei" and [p.name for p in score.parts] == ["Flute"]
    assert score.measures[0].time == "2/4" and score.measures[0].key is not None
    assert score.measures[0].key.fifths == -1
    assert rows(MEI) == [
        (0, 0, 0, 1, ("F4",), ()),
        (0, 0, 1, Fraction(1, 2), ("A4", "C5"), ()),
        (0, 0, Fraction(3, 2), Fraction(1, 2), (), ()),
        (0, 1, 0, 2, ("B-4",), ()),
    ]


def test_a_corpus_chorale_in_kern_matches_its_musicxml() -> None:
    kern = Path(str(corpus.getWork("bach/bwv277.krn")))
    score = import_score(kern.read_bytes(), kern.name).read()
    assert len(score.parts) == 4 and len(score.measures) == 14
    assert score.meta.title.endswith("Christ lag in Todesbanden")
    assert sum(1 for n in score.notes.values() if n.pitches) == 239
    lengths = {
        sum(n.duration for n in score.notes.values() if n.part == part.id and not n.grace)
        for part in score.parts
    }
    assert len(lengths) == 1  # every voice fills the same bars


def test_music21s_own_mei_test_file() -> None:
    report = import_score_report(MUSIC21_MEI.read_bytes(), MUSIC21_MEI.name)
    score = report.score.read()
    assert len(score.parts) == 2 and len(score.notes) > 50


def test_kern_guards() -> None:
    assert (
        refused(b"**kern\n" + b"4c\n" * 50 + b"*-\n", "x.krn", max_notes=10)
        == ImportFailure.TOO_MANY_NOTES
    )
    assert (
        refused(b"**kern\n" + b"=\n4c\n" * 20 + b"*-\n", "x.krn", max_measures=5)
        == ImportFailure.TOO_MANY_MEASURES
    )
    spines = b"\t".join([b"**kern"] * 70)
    assert (
        refused(spines + b"\n" + b"\t".join([b"4c"] * 70) + b"\n", "x.krn")
        == ImportFailure.TOO_MANY_PARTS
    )
    assert refused(b"**kern\n0000000c\n*-\n", "x.krn") == ImportFailure.TOO_COMPLEX
    assert refused(b"**text\nhello\n*-\n", "x.krn") == ImportFailure.NOT_MUSIC
    assert refused(KERN, "x.krn", max_bytes=100) == ImportFailure.TOO_LARGE


def test_mei_guards() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE mei [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<mei xmlns="http://www.music-encoding.org/ns/mei">&b;</mei>'
    )
    assert refused(laughs, "x.mei") == ImportFailure.ENTITY_EXPANSION
    external = (
        b'<?xml version="1.0"?><!DOCTYPE mei [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<mei xmlns="http://www.music-encoding.org/ns/mei">&x;</mei>'
    )
    assert refused(external, "x.mei") in (
        ImportFailure.EXTERNAL_ENTITY,
        ImportFailure.ENTITY_EXPANSION,
    )
    assert refused(MEI[: len(MEI) // 2], "x.mei") == ImportFailure.TRUNCATED
    assert refused(MEI, "x.mei", max_notes=3) == ImportFailure.TOO_MANY_NOTES
    assert (
        refused(MEI.replace(b'<measure n="2"', b'<multiRest num="100000"/><measure n="2"'), "x.mei")
        == ImportFailure.TOO_MANY_MEASURES
    )
    no_score = b'<mei xmlns="http://www.music-encoding.org/ns/mei"><meiHead/></mei>'
    assert refused(no_score, "x.mei") == ImportFailure.NOT_MUSIC
