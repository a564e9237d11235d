"""PostgreSQL :class:`~persistence.search.base.SearchIndex` over the tables of migrations
0007 and 0011: ``melody_lines``, ``melody_grams`` and ``search_text`` (a generated ``tsvector``
with a GIN index, ``simple`` configuration); rows go with their score.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import asyncpg

from persistence.base import check_score_id
from persistence.drivers.postgres import PostgresDatabase
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


class PostgresSearchIndex:
    """The index in the database of a :class:`~persistence.drivers.postgres.PostgresStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def put_melody(
        self, score_id: str, lines: Sequence[MelodyLine], postings: Sequence[Posting]
    ) -> None:
        check_score_id(score_id)
        async with self.db.connection() as conn, conn.transaction():
            if (
                await conn.fetchval("SELECT 1 FROM scores WHERE id = $1 FOR SHARE", score_id)
                is None
            ):
                raise NotFound(f"no score {score_id!r}")
            await conn.execute("DELETE FROM melody_grams WHERE score_id = $1", score_id)
            await conn.execute("DELETE FROM melody_lines WHERE score_id = $1", score_id)
            await conn.executemany(
                "INSERT INTO melody_lines (score_id, line, part_id, voice, measures, "
                "part_name, numbers, notes) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::jsonb)",
                [line_row(score_id, i, line) for i, line in enumerate(lines)],
            )
            await conn.copy_records_to_table(
                "melody_grams",
                records=[(p.key, score_id, p.line, p.pos) for p in postings],
                columns=["gram", "score_id", "line", "pos"],
            )

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
        params: list[Any] = [[k for _, k in query], [o for o, _ in query], min_hits, limit]
        # "g.gram = ANY($1)" lets the planner probe the gram index (a join on unnest
        # alone is estimated at 100 rows and often planned as a scan of the table).
        where = "WHERE g.gram = ANY($1::bigint[])"
        if score_ids is not None:
            where += " AND g.score_id = ANY($5::text[])"
            params.append(list(score_ids))
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT g.score_id, g.line, g.pos - q.shift AS start, count(*) AS hits "
                "FROM unnest($1::bigint[], $2::int[]) AS q (gram, shift) "
                f"JOIN melody_grams g ON g.gram = q.gram {where} "
                "GROUP BY g.score_id, g.line, start HAVING count(*) >= $3 "
                "ORDER BY hits DESC, g.score_id, g.line, start LIMIT $4",
                *params,
            )
        return [MelodyCandidate(r["score_id"], r["line"], r["start"], r["hits"]) for r in rows]

    async def melody_lines(self, score_id: str, lines: Collection[int]) -> dict[int, MelodyLine]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT line, part_id, voice, measures::text AS measures, part_name, "
                "numbers::text AS numbers, notes::text AS notes FROM melody_lines "
                "WHERE score_id = $1 AND line = ANY($2::int[])",
                score_id,
                sorted(set(lines)),
            )
        return {
            r["line"]: read_line(
                r["part_id"], r["voice"], r["measures"], r["part_name"], r["numbers"], r["notes"]
            )
            for r in rows
        }

    async def put_text(self, score_id: str, entries: Sequence[TextEntry]) -> None:
        check_score_id(score_id)
        checked = check_entries(entries)
        async with self.db.connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM search_text WHERE score_id = $1", score_id)
            try:
                await conn.executemany(
                    "INSERT INTO search_text (score_id, kind, ref, body) VALUES ($1, $2, $3, $4)",
                    [(score_id, e.kind, e.ref, e.text.replace("\x00", "")) for e in checked],
                )
                if not checked and (
                    await conn.fetchval("SELECT 1 FROM scores WHERE id = $1", score_id) is None
                ):
                    raise NotFound(f"no score {score_id!r}")
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no score {score_id!r}") from None

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
        # Each word quoted as a lexeme, joined with AND: the same rule as the other backends.
        tsquery = " & ".join(
            "'" + term.replace("'", "''").replace("\\", "\\\\") + "'" for term in terms
        )
        sql = (
            "SELECT score_id, kind, ref, body, ts_rank(words, q) AS rank "
            "FROM search_text, to_tsquery('simple', $1) AS q WHERE words @@ q"
        )
        params: list[Any] = [tsquery, limit]
        if score_ids is not None:
            params.append(list(score_ids))
            sql += f" AND score_id = ANY(${len(params)}::text[])"
        if kinds is not None:
            params.append(list(kinds))
            sql += f" AND kind = ANY(${len(params)}::text[])"
        sql += " ORDER BY rank DESC, score_id, kind, ref LIMIT $2"
        async with self.db.connection() as conn:
            rows = await conn.fetch(sql, *params)
        return [
            TextHit(r["score_id"], r["kind"], r["ref"], r["body"], float(r["rank"])) for r in rows
        ]

    async def stats(self) -> IndexStats:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM (SELECT score_id FROM melody_lines UNION "
                "SELECT score_id FROM search_text) s) AS scores, "
                "(SELECT count(*) FROM melody_lines) AS lines, "
                "(SELECT count(*) FROM melody_grams) AS postings, "
                "(SELECT count(*) FROM search_text) AS texts"
            )
        return IndexStats(row["scores"], row["lines"], row["postings"], row["texts"])
