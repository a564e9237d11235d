"""The :class:`VectorStore` protocol: per score, the texts semantic search looks at
(entries ``(kind, ref, text)`` of kinds :data:`VECTOR_KINDS`) with their unit-length
embedding, replaced whole when a score is re-indexed and deleted with the score.

A query is a unit vector; an entry's score is the dot product (cosine similarity).
Every entry records the embedding model that made it (``model``): a query only meets
vectors of its own model, so a model change re-embeds instead of comparing apples and
pears.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

VectorKind = Literal["description", "analysis", "chat", "comment"]
VECTOR_KINDS: frozenset[str] = frozenset(get_args(VectorKind))
#: Longest text kept beside its vector, in characters.
MAX_TEXT_CHARS = 4_000
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class VectorEntry:
    kind: VectorKind
    ref: str  # "" for the description and the analysis; a message or comment id
    text: str
    vector: Vector


@dataclass(frozen=True, slots=True)
class VectorHit:
    score_id: str
    kind: VectorKind
    ref: str
    text: str
    similarity: float  # cosine, -1..1, larger is better


class VectorStore(Protocol):
    async def put(self, score_id: str, model: str, entries: Sequence[VectorEntry]) -> None:
        """Replace the score's entries. :class:`~persistence.errors.NotFound` for an
        unknown score, ``ValueError`` for a bad entry."""
        ...

    async def entries(self, score_id: str, model: str) -> list[VectorEntry]:
        """The score's stored entries of ``model`` (to re-use unchanged vectors)."""
        ...

    async def search(
        self,
        model: str,
        query: Vector,
        *,
        score_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        limit: int = 20,
    ) -> list[VectorHit]:
        """The ``limit`` entries most similar to ``query`` (best first, then score id,
        kind, ref), within ``score_ids`` and ``kinds`` if given."""
        ...

    async def count(self) -> int:
        """How many entries are stored."""
        ...


def check_entries(entries: Sequence[VectorEntry]) -> list[VectorEntry]:
    """The shared checks of :meth:`VectorStore.put`: known kinds, one dimension, finite
    float32 vectors; texts cut at :data:`MAX_TEXT_CHARS`; empty texts dropped."""
    out = []
    dimension = None
    for entry in entries:
        if entry.kind not in VECTOR_KINDS:
            raise ValueError(f"unknown vector kind {entry.kind!r}")
        if not isinstance(entry.ref, str) or len(entry.ref) > 200:
            raise ValueError(f"invalid ref {entry.ref!r}")
        vector = np.asarray(entry.vector, dtype=np.float32)
        if vector.ndim != 1 or not vector.size or not np.isfinite(vector).all():
            raise ValueError("a vector must be a finite 1-d array")
        if dimension is not None and vector.size != dimension:
            raise ValueError("vectors of one score must have one dimension")
        dimension = vector.size
        if entry.text.strip():
            out.append(VectorEntry(entry.kind, entry.ref, entry.text[:MAX_TEXT_CHARS], vector))
    return out


def check_query(query: Vector, limit: int) -> Vector:
    if not 0 < limit <= 1000:
        raise ValueError("limit must be 1..1000")
    vector = np.asarray(query, dtype=np.float32)
    if vector.ndim != 1 or not vector.size or not np.isfinite(vector).all():
        raise ValueError("the query must be a finite 1-d vector")
    return vector


def best(hits: list[VectorHit], limit: int) -> list[VectorHit]:
    """Sort by similarity (then score id, kind, ref) and keep ``limit``."""
    hits.sort(key=lambda h: (-h.similarity, h.score_id, h.kind, h.ref))
    return hits[:limit]


def top_indices(similarities: npt.NDArray[np.float32], limit: int) -> list[int]:
    """Indices of the ``limit`` largest similarities (ties near the cut kept, so
    :func:`best` can order them)."""
    if len(similarities) <= limit:
        return list(range(len(similarities)))
    cut = np.partition(similarities, -limit)[-limit]
    return np.flatnonzero(similarities >= cut).tolist()
