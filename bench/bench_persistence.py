"""Benchmark: durable appends through DocumentStore (group commit) on SQLite and PostgreSQL.

For each configuration, R rooms each append one small real Yjs update at a time and wait
for the acknowledgement (as a room does before broadcasting), for ``--seconds``:

- ``memory``: MemoryStorage (the baseline: no I/O at all);
- ``sqlite FULL`` / ``sqlite NORMAL``: SqliteStorage in WAL mode with that
  ``synchronous`` setting, group commit window 2 ms, or 0 (commit at once; appends
  arriving during a commit form the next batch);
- ``sqlite FULL, no group commit``: each append is its own transaction (the log's
  ``append`` called directly), to show what batching buys;
- ``postgres ...`` (``--backend postgres`` or ``all``): the same on PostgresStorage
  (asyncpg pool of 10, blobs in memory) in a scratch database created on the server of
  ``--postgres-dsn`` and dropped afterwards; ``synchronous_commit`` as the server has it.

Prints appends/s, median and p99 acknowledgement latency, and appends per transaction.
Also times ``load`` of a 5,000-entry log and ``compact`` of it.

Run from the repository root:
``python -m bench.bench_persistence [--seconds S] [--backend sqlite|postgres|all]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pycrdt

from persistence.base import ScoreRecord, Storage
from persistence.documents.store import DocumentStore
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore, MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage


def _updates(n: int) -> list[bytes]:
    doc: pycrdt.Doc = pycrdt.Doc()
    notes = doc.get("notes", type=pycrdt.Map)
    out = []
    for i in range(n):
        before = doc.get_state()
        notes[f"n_{i:06d}"] = '{"pitches":["C4"],"onset":"0","duration":"1"}'
        out.append(doc.get_update(before))
    return out


async def _run(
    storage: Storage, rooms: int, seconds: float, window: float | None
) -> tuple[float, float, float, float]:
    grouped = window is not None
    documents = DocumentStore(storage, commit_window=window or 0.0, compact_every=10**9)
    for r in range(rooms):
        await storage.catalog.create_score(ScoreRecord(f"s{r}"))
    updates = _updates(2000)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def room(r: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            update = [updates[i % len(updates)]]
            started = time.perf_counter()
            if grouped:
                await documents.append(f"s{r}", 1, update)
            else:
                await storage.log.append(f"s{r}", 1, update)
            latencies.append(time.perf_counter() - started)
            i += 1

    begin = time.perf_counter()
    await asyncio.gather(*(room(r) for r in range(rooms)))
    elapsed = time.perf_counter() - begin
    batches = documents.log.batches if grouped else len(latencies)
    await documents.close()
    latencies.sort()
    return (
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
        len(latencies) / max(batches, 1),
    )


async def _load_and_compact(
    make: Callable[[Path], Awaitable[Storage]], tmp: Path
) -> tuple[float, float]:
    storage = await make(tmp)
    documents = DocumentStore(storage, compact_every=10**9)
    await documents.create("big")
    updates = _updates(5000)
    for i in range(0, len(updates), 100):
        await documents.append("big", 1, updates[i : i + 100])
    started = time.perf_counter()
    await documents.load("big")
    load = time.perf_counter() - started
    started = time.perf_counter()
    await documents.compact("big")
    compact = time.perf_counter() - started
    await documents.close()
    await storage.close()
    return load * 1000, compact * 1000


def _sqlite(synchronous: str) -> Callable[[Path], Awaitable[Storage]]:
    async def make(tmp: Path) -> Storage:
        storage = SqliteStorage(
            tmp / f"{synchronous}.db", FileBlobStore(tmp / "blobs"), synchronous=synchronous
        )  # type: ignore[arg-type]
        await storage.open()
        return storage

    return make


async def _memory(tmp: Path) -> Storage:
    return MemoryStorage()


@contextlib.asynccontextmanager
async def _scratch_database(admin_dsn: str) -> AsyncIterator[str]:
    """A new, empty database on the server of ``admin_dsn``; dropped afterwards."""
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


def _postgres(dsn: str) -> Callable[[Path], Awaitable[Storage]]:
    async def make(tmp: Path) -> Storage:
        storage = PostgresStorage(dsn, MemoryBlobStore(), max_size=10)
        await storage.open()
        async with storage.db.transaction() as conn:  # start from empty tables
            await conn.execute("DELETE FROM scores")
        return storage

    return make


async def main(seconds: float, backend: str, postgres_dsn: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        dsn = (
            await stack.enter_async_context(_scratch_database(postgres_dsn))
            if backend in ("postgres", "all")
            else ""
        )
        await _report(seconds, backend, dsn)


async def _report(seconds: float, backend: str, dsn: str) -> None:
    configs: list[tuple[str, Callable[[Path], Awaitable[Storage]], float | None]] = [
        ("memory, window 2 ms (baseline)", _memory, 0.002)
    ]
    if backend in ("sqlite", "all"):
        configs += [
            ("sqlite FULL, window 2 ms", _sqlite("FULL"), 0.002),
            ("sqlite NORMAL, window 2 ms", _sqlite("NORMAL"), 0.002),
            ("sqlite FULL, window 0", _sqlite("FULL"), 0.0),
            ("sqlite NORMAL, window 0", _sqlite("NORMAL"), 0.0),
            ("sqlite FULL, no group commit", _sqlite("FULL"), None),
            ("sqlite NORMAL, no group commit", _sqlite("NORMAL"), None),
        ]
    if dsn:
        configs += [
            ("postgres, window 2 ms", _postgres(dsn), 0.002),
            ("postgres, window 0", _postgres(dsn), 0.0),
            ("postgres, no group commit", _postgres(dsn), None),
        ]
    print(
        f"{'configuration':32} {'rooms':>5} {'appends/s':>10} {'median ms':>10} "
        f"{'p99 ms':>8} {'per txn':>8}"
    )
    for name, make, window in configs:
        for rooms in (1, 10, 100):
            with tempfile.TemporaryDirectory() as tmp:
                storage = await make(Path(tmp))
                rate, median, p99, per_txn = await _run(storage, rooms, seconds, window)
                await storage.close()
            print(
                f"{name:32} {rooms:>5} {rate:>10,.0f} {median:>10.2f} {p99:>8.2f} {per_txn:>8.1f}"
            )
    loads: list[tuple[str, Callable[[Path], Awaitable[Storage]]]] = [("memory", _memory)]
    if backend in ("sqlite", "all"):
        loads.append(("sqlite FULL", _sqlite("FULL")))
    if dsn:
        loads.append(("postgres", _postgres(dsn)))
    for name, make in loads:
        with tempfile.TemporaryDirectory() as tmp:
            load, compact = await _load_and_compact(make, Path(tmp))
        print(f"{name}: load of 5,000 log entries {load:.1f} ms, compaction {compact:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres", "all"],
        default="sqlite",
        help="which database backends to measure (memory always runs)",
    )
    parser.add_argument(
        "--postgres-dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server where a scratch database may be created",
    )
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.backend, args.postgres_dsn))
