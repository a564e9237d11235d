"""bench/accuracy_wir.py on a tiny When-in-Rome-shaped tree built from music21's corpus
(the real corpus is not in CI): the fixed split, the span alignment, the DCML spelling
of ``#vii`` in minor, and one scored piece beside music21."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import accuracy_wir as wir  # noqa: E402
from accuracy_chorales import Label, corpus_dir, expert_labels, normalise  # noqa: E402

CHORALE_ANALYSIS = "bach/choraleAnalyses/riemenschneider001.rntxt"  # BWV 269
CHORALE_SCORE = "bach/bwv269.mxl"


def _tree(root: Path) -> Path:
    base = root / "Corpus" / "Quartets" / "Beethoven,_Ludwig_van"
    for work, movement in (("Op001", "1"), ("Op001", "2"), ("Op002", "1"), ("Op003", "1")):
        folder = base / work / movement
        folder.mkdir(parents=True)
        shutil.copy(corpus_dir() / CHORALE_ANALYSIS, folder / "analysis.txt")
        shutil.copy(corpus_dir() / CHORALE_SCORE, folder / "score.mxl")
    (base / "Op004" / "1").mkdir(parents=True)  # a remote-only piece: skipped
    (base / "Op004" / "1" / "analysis.txt").write_text("m1 C: I\n", encoding="utf-8")
    return root


def test_the_split_alternates_units_and_keeps_a_work_together(tmp_path: Path) -> None:
    found = wir.pieces(_tree(tmp_path), "quartets")
    assert [(p.name.split("/")[-2:], p.part) for p in found] == [
        (["Op001", "1"], "dev"),
        (["Op001", "2"], "dev"),
        (["Op002", "1"], "report"),
        (["Op003", "1"], "dev"),
    ]
    assert wir.sample(found, 2) == [found[0], found[2]]
    assert wir.sample(found, 0) == found


def test_a_root_sounding_anywhere_before_the_next_label_aligns() -> None:
    labels = [
        Label(0, 0.0, "I", (0, "major"), "C", 0, "major"),
        Label(0, 2.0, "V", (0, "major"), "C", 7, "major"),
    ]
    spans = [{4}, {7, 11, 2}]  # the first label's root (C) never sounds
    assert wir.alignment(labels, spans) == 0.5
    assert wir.transposition(labels, [{0}, {7}]) == 0
    assert wir.transposition(labels, [{2}, {9}]) == 2


def test_dcml_sharp_vii_in_minor_is_compared_as_plain_vii(tmp_path: Path) -> None:
    analysis = tmp_path / "analysis.txt"
    analysis.write_text(
        "Time Signature: 4/4\nm1 F: #viio7/vi b3 vi\nm2 a: #viio7 b3 i\n", encoding="utf-8"
    )
    cols = [("1", 0.0, 4.0), ("2", 0.0, 4.0)]
    plain = expert_labels(analysis, cols)
    dcml = expert_labels(analysis, cols, dcml_minor=True)
    # the same chords (C#-E-G-Bb, G#-B-D-F), written as RomanText writes them by default
    assert [label.root for label in plain] == [label.root for label in dcml] == [1, 2, 8, 9]
    assert [label.figure for label in plain] == ["#viio7/vi", "vi", "#viio7", "i"]
    assert [label.figure for label in dcml] == ["viio7/vi", "vi", "viio7", "i"]
    assert [label.quality for label in dcml] == ["diminished-seventh", "minor"] * 2


def test_dcml_augmented_sixths_are_compared_as_romantext_writes_them() -> None:
    from music21 import key, roman

    # DCML's Ger6 and Fr6 are the chords RomanText writes Ger65 and Fr43 (same notes, same bass)
    for dcml, romantext in (("Ger6", "Ger65"), ("Fr6", "Fr43")):
        a, b = (roman.RomanNumeral(f, key.Key("c")) for f in (dcml, romantext))
        assert [p.name for p in a.pitches] == [p.name for p in b.pitches]
        assert normalise(dcml, "minor") == romantext
        assert normalise(f"{dcml}/V", "major") == f"{romantext}/V"
    assert normalise("It6", "minor") == "It6" and normalise("Ger7", "minor") == "Ger7"


@pytest.mark.slow
def test_one_piece_scored_beside_music21(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wir, "CACHE", tmp_path / "cache")
    piece = wir.pieces(_tree(tmp_path), "quartets")[0]
    outcome = wir.evaluate(piece)
    assert outcome.error == "" and outcome.labels > 40 and outcome.aligned > 0.9
    assert outcome.engine is not None and outcome.music21 is not None
    assert outcome.engine.totals["numeral"] == outcome.labels
    numeral = outcome.engine.hits["numeral"] / outcome.labels
    assert numeral > 0.8 and outcome.engine.hits["numeral"] >= outcome.music21.hits["numeral"]
    assert 0 < outcome.analysis_seconds < outcome.music21_seconds
    assert any((tmp_path / "cache").iterdir())  # the label reading is cached
    assert "quartets engine" in wir.report([outcome], True)
