"""PostgreSQL :class:`~persistence.vectors.base.VectorStore` over table
``semantic_vectors`` (migrations 0008 and 0010): vectors in pgvector's ``vector`` type,
ranked by its inner-product operator ``<#>`` (the negative dot product; unit vectors: the
cosine). An exact scan, no approximate index: results match the other stores exactly
(docs/search.md has the figures). Rows go with their score.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

import numpy as np

from persistence.base import check_score_id
from persistence.drivers.postgres import PostgresDatabase
from persistence.errors import NotFound
from persistence.vectors.base import (
    Vector,
    VectorEntry,
    VectorHit,
    best,
    check_entries,
    check_query,
)

_SEARCH = """
SELECT score_id, kind, ref, text, -(embedding <#> $2::vector) AS similarity
FROM semantic_vectors
WHERE model = $1 AND vector_dims(embedding) = vector_dims($2::vector)
  AND ($3::text[] IS NULL OR score_id = ANY($3::text[]))
  AND ($4::text[] IS NULL OR kind = ANY($4::text[]))
ORDER BY embedding <#> $2::vector, score_id, kind, ref
LIMIT $5
"""


def _text(vector: Vector) -> str:
    """pgvector's text form, ``[0.1,0.2]`` (exact: float32 printed with repr)."""
    return "[" + ",".join(map(repr, vector.astype(np.float32).tolist())) + "]"


def _array(text: str) -> Vector:
    return np.asarray(json.loads(text), np.float32)


class PostgresVectorStore:
    """Vectors in the database of a :class:`~persistence.drivers.postgres.PostgresStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def put(self, score_id: str, model: str, entries: Sequence[VectorEntry]) -> None:
        checked = check_entries(entries)
        check_score_id(score_id)
        async with self.db.connection() as conn, conn.transaction():
            if (
                await conn.fetchval("SELECT 1 FROM scores WHERE id = $1 FOR SHARE", score_id)
                is None
            ):
                raise NotFound(f"no score {score_id!r}")
            await conn.execute("DELETE FROM semantic_vectors WHERE score_id = $1", score_id)
            await conn.executemany(
                "INSERT INTO semantic_vectors (score_id, kind, ref, model, text, embedding) "
                "VALUES ($1, $2, $3, $4, $5, $6::vector) ON CONFLICT DO NOTHING",
                [(score_id, e.kind, e.ref, model, e.text, _text(e.vector)) for e in checked],
            )

    async def entries(self, score_id: str, model: str) -> list[VectorEntry]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT kind, ref, text, embedding::text AS embedding FROM semantic_vectors "
                "WHERE score_id = $1 AND model = $2 ORDER BY kind, ref",
                score_id,
                model,
            )
        return [VectorEntry(r["kind"], r["ref"], r["text"], _array(r["embedding"])) for r in rows]

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
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                _SEARCH,
                model,
                _text(vector),
                None if score_ids is None else list(score_ids),
                None if kinds is None else list(kinds),
                limit,
            )
        return best(
            [
                VectorHit(r["score_id"], r["kind"], r["ref"], r["text"], float(r["similarity"]))
                for r in rows
            ],
            limit,
        )

    async def count(self) -> int:
        async with self.db.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM semantic_vectors"))
