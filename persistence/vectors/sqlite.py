"""SQLite :class:`~persistence.vectors.base.VectorStore`: the embedded default's local
index, table ``semantic_vectors`` in the storage's database file (vectors as float32
blobs). A search reads the model's vectors into one matrix and ranks them with numpy
(the rows of a few thousand scores take milliseconds; see docs/benchmarks.md). Rows go
with their score (``ON DELETE CASCADE``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from persistence.base import check_score_id
from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import NotFound
from persistence.vectors.base import (
    Vector,
    VectorEntry,
    VectorHit,
    best,
    check_entries,
    check_query,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS semantic_vectors (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (score_id, kind, ref)
) WITHOUT ROWID
"""


class SqliteVectorStore:
    """Vectors beside a :class:`~persistence.drivers.sqlite.SqliteStorage` (pass its
    ``db``); :meth:`open` creates the table, closing is left to the storage."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.run(lambda conn: conn.execute(_SCHEMA) and None)

    async def put(self, score_id: str, model: str, entries: Sequence[VectorEntry]) -> None:
        checked = check_entries(entries)
        check_score_id(score_id)
        rows = [
            (score_id, e.kind, e.ref, model, e.text, e.vector.astype("<f4").tobytes())
            for e in checked
        ]

        def write(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM scores WHERE id = ?", (score_id,)).fetchone() is None:
                raise NotFound(f"no score {score_id!r}")
            conn.execute("DELETE FROM semantic_vectors WHERE score_id = ?", (score_id,))
            conn.executemany(
                "INSERT OR REPLACE INTO semantic_vectors "
                "(score_id, kind, ref, model, text, vector) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

        await self.db.write(write)

    async def entries(self, score_id: str, model: str) -> list[VectorEntry]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT kind, ref, text, vector FROM semantic_vectors "
                "WHERE score_id = ? AND model = ? ORDER BY kind, ref",
                (score_id, model),
            ).fetchall()
        )
        return [
            VectorEntry(k, r, t, np.frombuffer(v, "<f4").astype(np.float32)) for k, r, t, v in rows
        ]

    async def search(
        self,
        model: str,
        query: Vector,
        *,
        score_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        limit: int = 20,
    ) -> list[VectorHit]:
        vector = check_query(query, limit)
        allowed = None if score_ids is None else set(score_ids)
        if allowed is not None and not allowed:
            return []

        def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            rows: list[tuple[Any, ...]] = conn.execute(
                "SELECT score_id, kind, ref, vector FROM semantic_vectors WHERE model = ? "
                "AND length(vector) = ?",
                (model, vector.size * 4),
            ).fetchall()
            return rows

        rows = [
            row
            for row in await self.db.run(read)
            if (allowed is None or row[0] in allowed) and (kinds is None or row[1] in kinds)
        ]
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(row[3] for row in rows), "<f4").reshape(len(rows), -1)
        similarities = matrix @ vector
        top = np.argsort(-similarities, kind="stable")[: limit * 2]
        chosen = [rows[i] for i in top]
        texts = await self._texts([(r[0], r[1], r[2]) for r in chosen])
        hits = [
            VectorHit(r[0], r[1], r[2], texts.get((r[0], r[1], r[2]), ""), float(similarities[i]))
            for i, r in zip(top, chosen, strict=True)
        ]
        return best(hits, limit)

    async def _texts(self, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        def read(conn: sqlite3.Connection) -> dict[tuple[str, str, str], str]:
            out = {}
            for key in keys:
                row = conn.execute(
                    "SELECT text FROM semantic_vectors WHERE score_id = ? AND kind = ? AND ref = ?",
                    key,
                ).fetchone()
                if row is not None:
                    out[key] = row[0]
            return out

        return await self.db.run(read)

    async def count(self) -> int:
        row = await self.db.run(
            lambda conn: conn.execute("SELECT count(*) FROM semantic_vectors").fetchone()
        )
        return int(row[0])
