"""Contract suite for vector stores (semantic search): one set of tests over every
backend (the ``backend`` fixture of conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from persistence.backend import Backend, open_backend
from persistence.base import ScoreRecord
from persistence.config import BackendConfig
from persistence.errors import NotFound
from persistence.vectors.base import VectorEntry, VectorStore

M = "test-model"


def unit(*values: float) -> np.ndarray:
    v = np.array(values, np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
async def vectors(backend: Backend) -> AsyncIterator[VectorStore]:
    for sid in ("s1", "s2", "s3"):
        await backend.storage.catalog.create_score(ScoreRecord(sid))
    yield backend.vectors


async def test_put_search_ranks_by_cosine(vectors: VectorStore) -> None:
    await vectors.put(
        "s1",
        M,
        [
            VectorEntry("description", "", "a chorale", unit(1, 0, 0)),
            VectorEntry("chat", "m1", "quieter please", unit(0, 1, 0)),
        ],
    )
    await vectors.put("s2", M, [VectorEntry("analysis", "", "G major", unit(1, 1, 0))])
    hits = await vectors.search(M, unit(1, 0.1, 0), limit=10)
    assert [(h.score_id, h.kind, h.ref) for h in hits] == [
        ("s1", "description", ""),
        ("s2", "analysis", ""),
        ("s1", "chat", "m1"),
    ]
    assert hits[0].text == "a chorale"
    assert hits[0].similarity == pytest.approx(float(unit(1, 0.1, 0) @ unit(1, 0, 0)), abs=1e-5)
    assert hits[0].similarity > hits[1].similarity > hits[2].similarity
    assert len(await vectors.search(M, unit(1, 0, 0), limit=1)) == 1
    assert await vectors.count() == 3


async def test_filters_scores_kinds_and_model(vectors: VectorStore) -> None:
    await vectors.put("s1", M, [VectorEntry("description", "", "one", unit(1, 0))])
    await vectors.put("s2", M, [VectorEntry("chat", "x", "two", unit(1, 0))])
    await vectors.put("s3", "other-model", [VectorEntry("chat", "y", "three", unit(1, 0))])
    assert {h.score_id for h in await vectors.search(M, unit(1, 0))} == {"s1", "s2"}
    assert [h.score_id for h in await vectors.search(M, unit(1, 0), score_ids=["s2"])] == ["s2"]
    assert await vectors.search(M, unit(1, 0), score_ids=[]) == []
    assert [h.kind for h in await vectors.search(M, unit(1, 0), kinds=["description"])] == [
        "description"
    ]
    assert [h.score_id for h in await vectors.search("other-model", unit(1, 0))] == ["s3"]
    assert await vectors.search(M, unit(1, 0, 0)) == []  # another dimension never matches


async def test_put_replaces_and_entries_round_trip(vectors: VectorStore) -> None:
    await vectors.put("s1", M, [VectorEntry("chat", "a", "old", unit(1, 0))])
    await vectors.put(
        "s1",
        M,
        [
            VectorEntry("chat", "b", "new", unit(0, 1)),
            VectorEntry("comment", "c", "   ", unit(0, 1)),  # blank: dropped
        ],
    )
    stored = await vectors.entries("s1", M)
    assert [(e.kind, e.ref, e.text) for e in stored] == [("chat", "b", "new")]
    assert np.allclose(stored[0].vector, unit(0, 1))
    assert await vectors.entries("s1", "other-model") == []
    assert await vectors.count() == 1


async def test_bad_input_and_unknown_score(vectors: VectorStore) -> None:
    with pytest.raises(NotFound):
        await vectors.put("nope", M, [VectorEntry("chat", "a", "x", unit(1, 0))])
    with pytest.raises(ValueError):
        await vectors.put("s1", M, [VectorEntry("song", "", "x", unit(1, 0))])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await vectors.put("s1", M, [VectorEntry("chat", "", "x", np.array([np.nan], np.float32))])
    with pytest.raises(ValueError):
        await vectors.search(M, unit(1, 0), limit=0)


async def test_rows_go_with_their_score(backend: Backend, vectors: VectorStore) -> None:
    await vectors.put("s1", M, [VectorEntry("chat", "a", "x", unit(1, 0))])
    await backend.storage.catalog.delete_score("s1")
    assert await vectors.search(M, unit(1, 0)) == []
    assert await vectors.count() == 0


async def test_sqlite_index_sees_another_processes_writes(tmp_path: Path) -> None:
    """The SQLite store caches its matrix; a write through another connection to the same
    file (another process: a second server, the CLI) must show in the next search."""
    config = BackendConfig(f"sqlite:///{tmp_path / 'v.db'}")
    first, second = await open_backend(config), await open_backend(config)
    try:
        await first.storage.catalog.create_score(ScoreRecord("s1"))
        await first.vectors.put("s1", M, [VectorEntry("chat", "a", "one", unit(1, 0))])
        assert [h.ref for h in await first.vectors.search(M, unit(1, 0))] == ["a"]
        await second.vectors.put("s1", M, [VectorEntry("chat", "b", "two", unit(1, 0))])
        assert [h.ref for h in await first.vectors.search(M, unit(1, 0))] == ["b"]
    finally:
        await second.close()
        await first.close()
