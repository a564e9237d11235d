"""Contract suite of :class:`~persistence.search.base.SearchIndex` (melodic n-grams and
full text) over every backend (the ``backend`` fixture of conftest.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from persistence.backend import Backend, BackendConfig, open_backend
from persistence.base import ScoreRecord
from persistence.errors import NotFound
from persistence.search.base import MelodyLine, Posting, SearchIndex, TextEntry
from persistence.search.ngrams import GRAM, grams


@pytest.fixture
async def index(backend: Backend) -> SearchIndex:
    for score_id in ("s1", "s2", "s3"):
        await backend.storage.catalog.create_score(ScoreRecord(score_id))
    return backend.search


def _postings(line: int, midis: list[int]) -> list[Posting]:
    return [Posting(key, line, pos) for pos, key in grams(midis)]


ODE = [64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64]


async def test_melody_finds_a_transposed_occurrence_with_its_position(index: SearchIndex) -> None:
    line = MelodyLine(
        "P1",
        1,
        tuple(f"m{i // 4}" for i in range(len(ODE))),
        "Violin I",
        tuple(i // 4 + 1 for i in range(len(ODE))),
        tuple(f"n{i}" for i in range(len(ODE))),
    )
    await index.put_melody("s1", [line], _postings(0, ODE))
    other = [60, 62, 64, 65, 67, 69, 71, 72]
    await index.put_melody("s2", [MelodyLine("P2", 1, ("a",) * len(other))], _postings(0, other))
    query = [n + 5 for n in ODE[4:9]]  # 67 65 64 62 60, up a fourth
    q = grams(query)
    found = await index.find_melody(q, min_hits=len(q))
    assert [(c.score_id, c.line, c.pos, c.hits) for c in found] == [("s1", 0, 4, len(q))]
    lines = await index.melody_lines("s1", [0, 7])
    assert list(lines) == [0] and lines[0] == line  # names, numbers and note ids kept


async def test_melody_counts_partial_matches_and_filters_scores(index: SearchIndex) -> None:
    await index.put_melody("s1", [MelodyLine("P1", 1, ("m",) * 12)], _postings(0, ODE))
    await index.put_melody("s2", [MelodyLine("P1", 2, ("m",) * 12)], _postings(0, ODE))
    query = [*ODE[0:6], 99]  # the last interval differs: one gram of four misses
    q = grams(query)
    assert len(q) == 7 - GRAM
    found = await index.find_melody(q, min_hits=2)
    assert {(c.score_id, c.pos, c.hits) for c in found} == {("s1", 0, 3), ("s2", 0, 3)}
    only = await index.find_melody(q, min_hits=2, score_ids=["s2", "nope"])
    assert [c.score_id for c in only] == ["s2"]
    assert await index.find_melody(q, min_hits=4) == []
    assert await index.find_melody(q, score_ids=[]) == []


async def test_put_melody_replaces_and_delete_drops(backend: Backend, index: SearchIndex) -> None:
    await index.put_melody("s1", [MelodyLine("P1", 1, ("m",) * 12)], _postings(0, ODE))
    await index.put_melody("s1", [], [])
    assert await index.find_melody(grams(ODE[:5])) == []
    await index.put_melody("s1", [MelodyLine("P1", 1, ("m",) * 12)], _postings(0, ODE))
    await index.put_text("s1", [TextEntry("title", "", "Ode to Joy")])
    assert (await index.stats()).postings == len(grams(ODE))
    await backend.storage.catalog.delete_score("s1")
    assert await index.find_melody(grams(ODE[:5])) == []
    assert await index.search_text("joy") == []
    assert (await index.stats()).postings == 0


async def test_unknown_score_is_not_found(index: SearchIndex) -> None:
    with pytest.raises(NotFound):
        await index.put_melody("zz", [], [])
    with pytest.raises(NotFound):
        await index.put_text("zz", [TextEntry("title", "", "x")])


async def test_text_needs_every_word_and_filters(index: SearchIndex) -> None:
    await index.put_text(
        "s1",
        [
            TextEntry("title", "", "Ode to Joy"),
            TextEntry("composer", "", "Ludwig van Beethoven"),
            TextEntry("lyrics", "P1", "Freude, schöner Götterfunken"),
        ],
    )
    await index.put_text(
        "s2",
        [TextEntry("chat", "7", "the joy of counterpoint"), TextEntry("comment", "c1", "Joy!")],
    )
    hits = await index.search_text("JOY")
    assert {(h.score_id, h.kind, h.ref) for h in hits} == {
        ("s1", "title", ""),
        ("s2", "chat", "7"),
        ("s2", "comment", "c1"),
    }
    assert [h.text for h in await index.search_text("ode joy")] == ["Ode to Joy"]
    assert [h.kind for h in await index.search_text("götterfunken")] == ["lyrics"]
    assert [h.score_id for h in await index.search_text("joy", score_ids=["s1"])] == ["s1"]
    assert [h.kind for h in await index.search_text("joy", kinds=["chat"])] == ["chat"]
    assert await index.search_text("joy beethoven") == []
    assert await index.search_text("  ,;  ") == []
    assert await index.search_text('"o\'neil" OR ) NEAR(') == []  # operators are words
    assert len(await index.search_text("joy", limit=1)) == 1


async def test_put_text_replaces(index: SearchIndex) -> None:
    await index.put_text("s1", [TextEntry("title", "", "Old name")])
    await index.put_text("s1", [TextEntry("title", "", "New name")])
    assert await index.search_text("old") == []
    assert [h.text for h in await index.search_text("name")] == ["New name"]


async def test_a_sqlite_index_made_before_line_names_gains_them(tmp_path: Path) -> None:
    config = BackendConfig(f"sqlite:///{tmp_path / 'o.db'}", f"file://{tmp_path / 'blobs'}")
    backend = await open_backend(config)
    await backend.storage.catalog.create_score(ScoreRecord("s1"))
    await backend.close()
    with sqlite3.connect(tmp_path / "o.db") as conn:  # the table as it was first made
        conn.execute("DROP TABLE melody_lines")
        conn.execute(
            "CREATE TABLE melody_lines (score_id TEXT NOT NULL REFERENCES scores (id) "
            "ON DELETE CASCADE, line INTEGER NOT NULL, part_id TEXT NOT NULL, "
            "voice INTEGER NOT NULL, measures TEXT NOT NULL, PRIMARY KEY (score_id, line))"
        )
        conn.execute("INSERT INTO melody_lines VALUES ('s1', 0, 'P1', 1, '[\"m\"]')")
    backend = await open_backend(config)
    try:
        old = await backend.search.melody_lines("s1", [0])
        assert old[0] == MelodyLine("P1", 1, ("m",))  # an old row reads with empty extras
        line = MelodyLine("P1", 1, ("m",) * 12, "Flute", (1,) * 12, tuple("abcdefghijkl"))
        await backend.search.put_melody("s1", [line], _postings(0, ODE))
        assert (await backend.search.melody_lines("s1", [0]))[0] == line
    finally:
        await backend.close()
