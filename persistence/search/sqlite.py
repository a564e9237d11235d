"""SQLite :class:`~persistence.search.base.SearchIndex`: tables ``melody_lines`` and
``melody_grams`` beside the storage's tables (the same columns as PostgreSQL's, migration
0007) and an FTS5 table ``search_text``; a trigger clears a deleted score's text, the
melody rows go with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from persistence.base import check_score_id
from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import NotFound
from persistence.search.base import (
    IndexStats,
    MelodyCandidate,
    MelodyLine,
    Posting,
    TextEntry,
    TextHit,
    check_entries,
    check_limit,
    line_row,
    read_line,
    words,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS melody_lines (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    part_id TEXT NOT NULL,
    voice INTEGER NOT NULL,
    measures TEXT NOT NULL,
    part_name TEXT NOT NULL DEFAULT '',
    numbers TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (score_id, line)
);
CREATE TABLE IF NOT EXISTS melody_grams (
    gram INTEGER NOT NULL,
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    pos INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS melody_grams_by_gram ON melody_grams (gram);
CREATE INDEX IF NOT EXISTS melody_grams_by_score ON melody_grams (score_id);
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5 (
    body, score_id UNINDEXED, kind UNINDEXED, ref UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS search_text_score_gone AFTER DELETE ON scores BEGIN
    DELETE FROM search_text WHERE score_id = old.id;
END;
"""


#: Columns ``melody_lines`` gained after it was first created (PostgreSQL: migration 0011).
_LINE_COLUMNS = {
    "part_name": "TEXT NOT NULL DEFAULT ''",
    "numbers": "TEXT NOT NULL DEFAULT '[]'",
    "notes": "TEXT NOT NULL DEFAULT '[]'",
}


def _add_line_columns(conn: sqlite3.Connection) -> None:
    """Add the later columns to a ``melody_lines`` table made before them."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(melody_lines)")}
    for name, kind in _LINE_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE melody_lines ADD COLUMN {name} {kind}")


def _require_score(conn: sqlite3.Connection, score_id: str) -> None:
    if conn.execute("SELECT 1 FROM scores WHERE id = ?", (score_id,)).fetchone() is None:
        raise NotFound(f"no score {score_id!r}")


class SqliteSearchIndex:
    """The index beside a :class:`~persistence.drivers.sqlite.SqliteStorage` (pass its
    ``db``); :meth:`open` creates the tables, closing is left to the storage."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.run(
            lambda conn: conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;") and None
        )
        await self.db.write(_add_line_columns)

    async def put_melody(
        self, score_id: str, lines: Sequence[MelodyLine], postings: Sequence[Posting]
    ) -> None:
        check_score_id(score_id)

        def replace(conn: sqlite3.Connection) -> None:
            _require_score(conn, score_id)
            conn.execute("DELETE FROM melody_grams WHERE score_id = ?", (score_id,))
            conn.execute("DELETE FROM melody_lines WHERE score_id = ?", (score_id,))
            conn.executemany(
                "INSERT INTO melody_lines (score_id, line, part_id, voice, measures, "
                "part_name, numbers, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [line_row(score_id, i, line) for i, line in enumerate(lines)],
            )
            conn.executemany(
                "INSERT INTO melody_grams (gram, score_id, line, pos) VALUES (?, ?, ?, ?)",
                [(p.key, score_id, p.line, p.pos) for p in postings],
            )

        await self.db.write(replace)

    async def find_melody(
        self,
        query: Sequence[tuple[int, int]],
        *,
        score_ids: Collection[str] | None = None,
        min_hits: int = 1,
        limit: int = 100,
    ) -> list[MelodyCandidate]:
        check_limit(limit)
        if not query:
            return []
        values = ",".join("(?, ?)" for _ in query)
        params: list[Any] = [v for offset, key in query for v in (key, offset)]
        where = ""
        if score_ids is not None:
            where = "WHERE g.score_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(score_ids)))
        params += [min_hits, limit]
        sql = (
            f"WITH q (gram, shift) AS (VALUES {values}) "
            "SELECT g.score_id, g.line, g.pos - q.shift AS start, count(*) AS hits "
            f"FROM q JOIN melody_grams g ON g.gram = q.gram {where} "
            "GROUP BY g.score_id, g.line, start HAVING count(*) >= ? "
            "ORDER BY hits DESC, g.score_id, g.line, start LIMIT ?"
        )
        rows = await self.db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [MelodyCandidate(s, line, pos, n) for s, line, pos, n in rows]

    async def melody_lines(self, score_id: str, lines: Collection[int]) -> dict[int, MelodyLine]:
        wanted = json.dumps(sorted(set(lines)))
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT line, part_id, voice, measures, part_name, numbers, notes "
                "FROM melody_lines WHERE score_id = ? "
                "AND line IN (SELECT value FROM json_each(?))",
                (score_id, wanted),
            ).fetchall()
        )
        return {line: read_line(*columns) for line, *columns in rows}

    async def put_text(self, score_id: str, entries: Sequence[TextEntry]) -> None:
        check_score_id(score_id)
        checked = check_entries(entries)

        def replace(conn: sqlite3.Connection) -> None:
            _require_score(conn, score_id)
            conn.execute("DELETE FROM search_text WHERE score_id = ?", (score_id,))
            conn.executemany(
                "INSERT INTO search_text (body, score_id, kind, ref) VALUES (?, ?, ?, ?)",
                [(e.text, score_id, e.kind, e.ref) for e in checked],
            )

        await self.db.write(replace)

    async def search_text(
        self,
        query: str,
        *,
        score_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        limit: int = 50,
    ) -> list[TextHit]:
        check_limit(limit)
        terms = words(query)
        if not terms:
            return []
        match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
        sql = (
            "SELECT score_id, kind, ref, body, -bm25(search_text) FROM search_text "
            "WHERE search_text MATCH ?"
        )
        params: list[Any] = [match]
        if score_ids is not None:
            sql += " AND score_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(score_ids)))
        if kinds is not None:
            sql += " AND kind IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(kinds)))
        sql += " ORDER BY bm25(search_text), score_id, kind, ref LIMIT ?"
        params.append(limit)
        rows = await self.db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [TextHit(s, kind, ref, body, float(rank)) for s, kind, ref, body, rank in rows]

    async def stats(self) -> IndexStats:
        def count(conn: sqlite3.Connection) -> IndexStats:
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            return IndexStats(
                one(
                    "SELECT count(*) FROM (SELECT score_id FROM melody_lines "
                    "UNION SELECT score_id FROM search_text)"
                ),
                one("SELECT count(*) FROM melody_lines"),
                one("SELECT count(*) FROM melody_grams"),
                one("SELECT count(*) FROM search_text"),
            )

        return await self.db.run(count)
