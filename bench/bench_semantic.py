"""Benchmark: semantic search (all-MiniLM-L6-v2 in numpy, persistence/vectors).

- embedding throughput: ``--texts`` chat-like sentences (8 to 20 words) embedded in one
  call, texts/s (what a re-index of a new score costs; later re-indexes embed only new
  texts); and one query sentence, median of 20 (the per-request cost);
- query latency: ``--scores`` scores of 12 entries each (random unit vectors) stored in
  each backend, then the median and p95 of 50 ``search`` calls (limit 20): memory,
  SQLite (the embedded default's local index) and, with ``--backend all``, PostgreSQL
  (``real[]`` dot product) in a scratch database dropped afterwards.

Run from the repository root:
``python -m bench.bench_semantic [--texts N] [--scores N] [--backend sqlite|all]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import numpy as np

from analysis_engine.embeddings.minilm import MiniLmEmbedder
from persistence.backend import open_backend
from persistence.base import ScoreRecord
from persistence.config import BackendConfig
from persistence.vectors.base import VectorEntry

WORDS = [
    "the",
    "alto",
    "line",
    "should",
    "move",
    "by",
    "step",
    "here",
    "and",
    "the",
    "bass",
    "could",
    "double",
    "the",
    "root",
    "in",
    "the",
    "cadence",
    "make",
    "the",
    "ending",
    "slower",
    "softer",
    "louder",
    "brighter",
    "sad",
    "chorale",
    "fugue",
    "subject",
    "answer",
    "stretto",
    "modulates",
    "to",
    "the",
    "dominant",
    "relative",
    "minor",
    "key",
    "tempo",
    "rubato",
    "crescendo",
]


def _sentences(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(8, 20))) for _ in range(n)]


def bench_embedding(texts: int) -> None:
    rng = random.Random(1)
    model = MiniLmEmbedder()
    batch = _sentences(texts, rng)
    started = time.perf_counter()
    model.embed(batch)
    elapsed = time.perf_counter() - started
    print(f"embed {texts} sentences: {elapsed:.2f} s, {texts / elapsed:.0f} texts/s")
    singles = []
    for text in _sentences(20, rng):
        started = time.perf_counter()
        model.embed([text])
        singles.append((time.perf_counter() - started) * 1000)
    print(f"embed one query: median {statistics.median(singles):.1f} ms")


@contextlib.asynccontextmanager
async def _scratch_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"orpheus_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{admin_dsn.rsplit('/', 1)[0]}/{name}"
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def bench_query(label: str, config: BackendConfig, scores: int) -> None:
    rng = np.random.default_rng(2)
    backend = await open_backend(config)
    try:
        for i in range(scores):
            sid = f"s{i}"
            await backend.storage.catalog.create_score(ScoreRecord(sid))
            vectors = rng.standard_normal((12, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            await backend.vectors.put(
                sid,
                "m",
                [VectorEntry("chat", str(j), f"text {j}", v) for j, v in enumerate(vectors)],
            )
        times = []
        for _ in range(50):
            query = rng.standard_normal(384).astype(np.float32)
            query /= np.linalg.norm(query)
            started = time.perf_counter()
            await backend.vectors.search("m", query, limit=20)
            times.append((time.perf_counter() - started) * 1000)
        _report(label, scores * 12, times)
        if label == "postgres":
            await _baseline_sql_dot_product(config, scores, rng)
    finally:
        await backend.close()


def _report(label: str, entries: int, times: list[float]) -> None:
    times.sort()
    print(
        f"{label}: {entries} entries, search median {statistics.median(times):.1f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.1f} ms"
    )


_SQL_DOT_PRODUCT = """
SELECT score_id, kind, ref, text,
       (SELECT sum(a * b) FROM unnest(embedding::real[], $1::real[]) AS t(a, b)) AS similarity
FROM semantic_vectors WHERE model = 'm'
ORDER BY similarity DESC, score_id, kind, ref LIMIT 20
"""


async def _baseline_sql_dot_product(
    config: BackendConfig, scores: int, rng: np.random.Generator
) -> None:
    """The same table ranked without pgvector's operator: the store's query before
    migration 0010 (a dot product over unnest() of real[] in SQL)."""
    conn = await asyncpg.connect(config.database_url)
    try:
        times = []
        for _ in range(50):
            query = rng.standard_normal(384).astype(np.float32)
            query /= np.linalg.norm(query)
            started = time.perf_counter()
            await conn.fetch(_SQL_DOT_PRODUCT, query.tolist())
            times.append((time.perf_counter() - started) * 1000)
        _report("postgres baseline, real[] dot product in SQL", scores * 12, times)
    finally:
        await conn.close()


async def main(texts: int, scores: int, backend: str, postgres_dsn: str) -> None:
    bench_embedding(texts)
    await bench_query("memory", BackendConfig("memory://"), scores)
    with tempfile.TemporaryDirectory() as tmp:
        await bench_query("sqlite", BackendConfig(f"sqlite:///{Path(tmp) / 'b.db'}"), scores)
    if backend == "all":
        async with _scratch_database(postgres_dsn) as dsn:
            await bench_query("postgres", BackendConfig(dsn, blob_url="memory://"), scores)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--scores", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "all"], default="sqlite")
    parser.add_argument("--postgres-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    asyncio.run(main(args.texts, args.scores, args.backend, args.postgres_dsn))
