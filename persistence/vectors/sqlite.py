"""SQLite :class:`~persistence.vectors.base.VectorStore`: the embedded default's local
index, table ``semantic_vectors`` in the storage's database file (vectors as float32
blobs). The local index: a search ranks one in-memory numpy matrix of the model's
vectors, re-read only after this store wrote or another process committed to the file. Rows go
with their score (``ON DELETE CASCADE``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any, cast

import numpy as np

from persistence.base import check_score_id
from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import NotFound
from persistence.vectors.base import (
    Vector,
    VectorEntry,
    VectorHit,
    VectorKind,
    best,
    check_entries,
    check_query,
    top_indices,
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
        self._writes = 0  # bumped by put: the cached index is stale
        self._cache: dict[tuple[str, int], tuple[Any, list[tuple[str, str, str]], Vector]] = {}

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
            self._writes += 1
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
        keys, matrix = await self.db.run(lambda conn: self._index(conn, model, vector.size))
        if not keys:
            return []
        similarities = matrix @ vector
        if allowed is not None or kinds is not None:
            mask = np.array(
                [
                    (allowed is None or k[0] in allowed) and (kinds is None or k[1] in kinds)
                    for k in keys
                ],
                bool,
            )
            similarities = np.where(mask, similarities, -np.inf)
        top = [i for i in top_indices(similarities, limit * 2) if similarities[i] > -np.inf]
        texts = await self._texts([keys[i] for i in top])
        hits = [  # a row deleted since the index was read has no text: left out
            VectorHit(
                keys[i][0],
                cast(VectorKind, keys[i][1]),
                keys[i][2],
                texts[keys[i]],
                float(similarities[i]),
            )
            for i in top
            if keys[i] in texts
        ]
        return best(hits, limit)

    def _index(
        self, conn: sqlite3.Connection, model: str, dimension: int
    ) -> tuple[list[tuple[str, str, str]], Vector]:
        """The model's vectors as one matrix, rebuilt only after this store wrote or
        another connection (another process) committed (``PRAGMA data_version``)."""
        version = (conn.execute("PRAGMA data_version").fetchone()[0], self._writes)
        cached = self._cache.get((model, dimension))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        rows = conn.execute(
            "SELECT score_id, kind, ref, vector FROM semantic_vectors WHERE model = ? "
            "AND length(vector) = ?",
            (model, dimension * 4),
        ).fetchall()
        keys = [(r[0], r[1], r[2]) for r in rows]
        matrix = np.frombuffer(b"".join(r[3] for r in rows), "<f4").reshape(len(rows), dimension)
        self._cache[(model, dimension)] = (version, keys, matrix)
        return keys, matrix

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
