"""Files music21 half-understands: an element it rejects is dropped and reported, the rest
of the score imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from music21 import converter

from score_model.importer import import_score_report
from tests.score_model.test_import_export import as_mxl

ROMAN = Path(__file__).parent / "fixtures" / "roman_numerals.musicxml"


def test_music21_alone_refuses_the_fixture() -> None:
    with pytest.raises(Exception, match=r"G\.I"):
        converter.parse(ROMAN.read_bytes(), format="musicxml", forceSource=True)


@pytest.mark.parametrize("fmt", ["musicxml", "mxl"])
def test_roman_numeral_harmony_is_dropped_and_reported(fmt: str) -> None:
    data = ROMAN.read_bytes() if fmt == "musicxml" else as_mxl(ROMAN.read_bytes())
    report = import_score_report(data, f"rn.{fmt}")
    score = report.score.read()
    assert score.meta.title == "Roman numerals"
    assert len(score.measures) == 2
    notes = sorted((n.onset, n.duration, n.pitches) for n in score.notes.values())
    assert notes == [(0, 1, ("G4",)), (0, 2, ("G4",)), (1, 1, ("F#4",))]
    assert report.warnings == [
        "chord symbols or Roman numerals music21 cannot read were dropped (such as 'G.I')"
    ]
