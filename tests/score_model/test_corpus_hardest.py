"""A fixed sample of the hardest corpus pieces (bench.fidelity_corpus.HARDEST) and
music21's MEI test file: each imports, exports in every format without error, and the
MusicXML round trip keeps every note but the ones the export reports as rounded (one note
of the MEI file's nested tuplets, 2/35 of a quarter inside septuplets, comes back changed:
a known loss, bounded here; 13 moved when music21 wrote the file)."""

from __future__ import annotations

import os
from pathlib import Path

import music21
import pytest
from music21 import corpus

from bench.fidelity import round_trip
from bench.fidelity_corpus import HARDEST
from score_model.exporter import export_score
from score_model.importer import import_score_report

MEI = Path(os.path.dirname(music21.__file__)) / "mei" / "test" / "test_file.mei"


def corpus_path(work: str) -> Path:
    found = corpus.getWork(work)
    return Path(str(found[0] if isinstance(found, list) else found))


@pytest.mark.parametrize(
    ("path", "lost"),
    [*((corpus_path(w), 0) for w in HARDEST), (MEI, 1)],
    ids=lambda p: p.name if isinstance(p, Path) else str(p),
)
def test_hard_piece_exports_in_every_format(path: Path, lost: int) -> None:
    report = import_score_report(path.read_bytes(), path.name)
    data = report.score.read()
    assert data.notes
    musicxml = export_score(data, "musicxml")
    rounded = sum(int(w.split()[0]) for w in musicxml.warnings if "rounded" in w)
    result = round_trip(report.score, "musicxml", path.name)
    assert result.matching >= result.compared - rounded - lost, result
    assert result.measures_matching == result.measures, result
    midi = round_trip(report.score, "midi", path.name)
    if midi.compared:
        assert midi.matching >= 0.85 * midi.compared, midi
    assert export_score(data, "mxl").data.startswith(b"PK")
    assert export_score(report.score, "json").data.startswith(b"{")
