"""In-memory :class:`~persistence.vectors.base.VectorStore` (tests, ``memory://``): one
matrix per score, searched with one matrix product each. The memory backend calls
:meth:`MemoryVectorStore.forget` when a score is deleted."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from persistence.base import ScoreCatalog, check_score_id
from persistence.vectors.base import (
    Vector,
    VectorEntry,
    VectorHit,
    best,
    check_entries,
    check_query,
    top_indices,
)


class MemoryVectorStore:
    def __init__(self, catalog: ScoreCatalog | None = None) -> None:
        self._catalog = catalog
        self._entries: dict[str, tuple[str, list[VectorEntry], Vector]] = {}

    async def put(self, score_id: str, model: str, entries: Sequence[VectorEntry]) -> None:
        checked = check_entries(entries)
        check_score_id(score_id)
        if self._catalog is not None:
            await self._catalog.get_score(score_id)  # NotFound
        matrix = np.stack([e.vector for e in checked]) if checked else np.zeros((0, 0), np.float32)
        self._entries[score_id] = (model, checked, matrix)

    async def entries(self, score_id: str, model: str) -> list[VectorEntry]:
        stored = self._entries.get(score_id)
        return list(stored[1]) if stored is not None and stored[0] == model else []

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
        found: list[tuple[str, VectorEntry]] = []
        blocks = []
        for score_id, (stored_model, entries, matrix) in self._entries.items():
            if stored_model != model or not entries or matrix.shape[1] != vector.size:
                continue
            if allowed is not None and score_id not in allowed:
                continue
            keep = [i for i, e in enumerate(entries) if kinds is None or e.kind in kinds]
            if keep:
                found.extend((score_id, entries[i]) for i in keep)
                blocks.append(matrix[keep] if len(keep) < len(entries) else matrix)
        if not found:
            return []
        similarities = np.concatenate(blocks) @ vector
        top = top_indices(similarities, limit)
        hits = [
            VectorHit(sid, e.kind, e.ref, e.text, float(similarities[i]))
            for i in top
            for sid, e in (found[i],)
        ]
        return best(hits, limit)

    async def count(self) -> int:
        return sum(len(entries) for _, entries, _ in self._entries.values())

    def forget(self, score_id: str) -> None:
        self._entries.pop(score_id, None)
