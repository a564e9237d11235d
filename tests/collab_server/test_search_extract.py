"""What a score contributes to the search index, and how queries are read
(collab_server/search/extract.py, service.py; persistence/search/ngrams.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from collab_server.cli.search import reindex_all
from collab_server.errors import BadRequest
from collab_server.search.extract import melody_index, note_lines, text_entries
from collab_server.search.service import parse_durations, parse_notes
from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from persistence.search.ngrams import grams, intervals, matches_exactly, ratios
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin


def _score() -> tuple[ScoreDoc, list[str]]:
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.server("test"))
    editor.create_score(title="Ode to Joy", composer="Beethoven", measures=3)
    data = score.read()
    part, (m1, m2, m3) = data.parts[0].id, [m.id for m in data.measures]
    for i, pitch in enumerate(["E4", "E4", "F4", "G4"]):
        editor.add_note(m1, part, i, 1, pitch)
    chord = editor.add_note(m2, part, 0, 2, ["C4", "G4"])  # a chord counts as its top
    first = editor.add_note(m2, part, 2, 2, "F4")
    tied = editor.add_note(m3, part, 0, 1, "F4")  # tied on: lengthens the F
    editor.set_tie(first, "start")
    editor.set_tie(tied, "stop")
    editor.add_note(m3, part, 1, 1, "E4", voice=2)  # another line
    editor.set_lyric(chord, "Freu-")
    editor.post_chat("ann", "lovely counterpoint")
    return score, [m1, m2, m3]


def test_note_lines_follow_time_chords_ties_and_voices() -> None:
    score, (m1, m2, _m3) = _score()
    lines = note_lines(score.read())
    melody, second = lines
    assert melody.voice == 1 and second.voice == 2
    assert melody.midis == (64, 64, 65, 67, 67, 65)
    assert melody.durations == (1, 1, 1, 1, 2, 3)
    assert melody.measures == (m1, m1, m1, m1, m2, m2)
    assert melody.numbers == (1, 1, 1, 1, 2, 2)
    data = score.read()
    assert melody.part_name == data.parts[0].name
    at = {(data.notes[n].measure, data.notes[n].onset) for n in melody.notes}
    assert len(melody.notes) == 6 and (m2, 0) in at and (m2, 2) in at  # the tie's first note
    rows, postings = melody_index(lines)
    assert rows[0].measures == melody.measures
    assert (rows[0].part_name, rows[0].numbers, rows[0].notes) == (
        melody.part_name,
        melody.numbers,
        melody.notes,
    )
    assert len(postings) == 2 * (len(melody.midis) - 3)  # both families; voice 2 is too short


def test_text_entries() -> None:
    score, _ = _score()
    entries = text_entries(score.read(), score.raw_chat(), score.raw_comments())
    got = {(e.kind, e.text) for e in entries}
    assert {
        ("title", "Ode to Joy"),
        ("composer", "Beethoven"),
        ("chat", "lovely counterpoint"),
    } <= got
    assert any(kind == "lyrics" and "Freu" in text for kind, text in got)


def test_grams_are_transposition_and_tempo_invariant() -> None:
    line = [60, 62, 64, 65, 67]
    assert grams(line) == grams([n + 7 for n in line])
    assert grams(line) != grams([60, 62, 64, 65, 66])
    durations = [1, 1, 2, 1, 1]
    assert grams(line, durations) == grams(line, [d / 2 for d in durations])
    assert grams(line, durations) != grams(line, [1, 1, 1, 1, 1])
    assert {k for _, k in grams(line)}.isdisjoint(k for _, k in grams(line, durations))
    assert intervals([60, 100]) == [24] and ratios([1, Fraction(1, 2)]) == [-2]
    assert matches_exactly([50, 60, 62, 64], [1, 3, 5], 1)
    assert not matches_exactly([50, 60, 62, 64], [1, 3, 5], 2)


def test_parse_notes_and_durations() -> None:
    assert parse_notes(["C4", "Eb4", "F#4", "B-3", "c5"]) == [60, 63, 66, 58, 72]
    assert parse_notes(["C", "B", "D", "A"]) == [60, 59, 62, 57]  # nearest the note before
    assert parse_durations(["1", "0.5", "3/2"]) == [1, Fraction(1, 2), Fraction(3, 2)]
    for bad in (["H4"], ["C44"], [""]):
        with pytest.raises(BadRequest):
            parse_notes(bad)
    for bad_durations in (["0"], ["1e400"], ["1/0"], ["inf"], ["x"]):
        with pytest.raises(BadRequest):
            parse_durations(bad_durations)


async def test_reindex_all_indexes_stored_scores(tmp_path: Path) -> None:
    config = BackendConfig(f"sqlite:///{tmp_path / 'o.db'}")
    backend = await open_backend(config)
    score, _ = _score()
    documents = DocumentStore(backend.storage)
    await documents.create("s1", "Ode to Joy", None, score.encode_state())
    await documents.close()
    await backend.close()
    assert await reindex_all(config) == 1
    backend = await open_backend(config)
    try:
        hits = await backend.search.search_text("counterpoint")
        assert [(h.score_id, h.kind) for h in hits] == [("s1", "chat")]
        assert (await backend.search.stats()).postings > 0
    finally:
        await backend.close()
