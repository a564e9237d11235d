"""Where the durable SQLite log's time goes, for one writer (what a room waits for before
it broadcasts an edit).

One process, one data folder, alternating blocks so that every figure sees the same
disk and load. Each is the median (and p90) of ``--appends`` operations:

- ``append, memory``: ``DocumentStore.append`` of one real Yjs update on MemoryStorage
  (group commit, window 0): the path without any I/O (the baseline);
- ``append, SQLite NORMAL``: the same on SQLite in WAL mode without a flush per commit:
  the baseline plus the hop to the SQLite thread, the statements and the WAL write;
- ``append, SQLite FULL``: the server's default (``synchronous=FULL``): plus the flush,
  every commit handed to the SQLite thread and back;
- ``append, SQLite FULL, log not reserved``: the same with ``reserve_wal=false``: every
  commit extends the write-ahead log file, so its flush also commits the file system's
  journal (the server's default before the log was reserved on open);
- ``append, SQLite FULL, inline``: the same with ``inline_ms=5``: committed on the
  caller's thread while writes are quick;
- ``thread hop``: ``run_in_executor`` of a no-op on a one-thread pool (as the driver);
- ``fdatasync``: a 12 KB ``pwrite`` (three WAL pages) and ``os.fdatasync`` in the same
  folder: the disk's flush alone.

``python -m bench.bench_durable_path [--appends N] [--dir DIR]`` (``DIR``: where the
server's data would live; default a temporary folder under /tmp).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.bench_persistence import _updates
from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin

BLOCKS = 6


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9)]


class Appender:
    """One score on one backend; ``block(n)`` times ``n`` appends in ms."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        self.backend = await open_backend(BackendConfig(self.url, "memory://"))
        self.documents = DocumentStore(self.backend.storage, commit_window=0, compact_every=10**9)
        score = ScoreDoc()
        ScoreEditor(score, Origin.server("bench")).create_score(title="T", measures=2)
        await self.documents.create("s1", "T", None, score.encode_state())

    async def block(self, updates: list[bytes]) -> list[float]:
        out = []
        for update in updates:
            started = time.perf_counter()
            await self.documents.append("s1", 1, [update])
            out.append((time.perf_counter() - started) * 1000)
        return out

    async def close(self) -> None:
        await self.documents.close()
        await self.backend.close()


async def hop_block(pool: ThreadPoolExecutor, n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await loop.run_in_executor(pool, int)
        out.append((time.perf_counter() - started) * 1000)
    return out


def fsync_block(path: Path, n: int) -> list[float]:
    page = os.urandom(3 * 4096)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    out = []
    try:
        for i in range(n):
            started = time.perf_counter()
            os.pwrite(fd, page, (i % 64) * len(page))
            os.fdatasync(fd)
            out.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
    return out


async def main(appends: int, folder: Path) -> None:
    per_block = max(1, appends // BLOCKS)
    updates = _updates(per_block * BLOCKS)
    appenders = {
        "append, memory (baseline)": Appender("memory://"),
        "append, SQLite NORMAL": Appender(f"sqlite:///{folder / 'normal.db'}?synchronous=NORMAL"),
        "append, SQLite FULL (the server's)": Appender(f"sqlite:///{folder / 'full.db'}"),
        "append, SQLite FULL, log not reserved": Appender(
            f"sqlite:///{folder / 'unreserved.db'}?reserve_wal=false"
        ),
        "append, SQLite FULL, inline": Appender(f"sqlite:///{folder / 'inline.db'}?inline_ms=5"),
    }
    for appender in appenders.values():
        await appender.open()
    pool = ThreadPoolExecutor(1)
    samples: dict[str, list[float]] = {name: [] for name in appenders}
    samples["thread hop (run_in_executor)"] = []
    samples["fdatasync of 12 KB"] = []
    runs: dict[str, Callable[[list[bytes]], Awaitable[list[float]]]] = {
        name: appender.block for name, appender in appenders.items()
    }
    for block in range(BLOCKS):
        chunk = updates[block * per_block : (block + 1) * per_block]
        for name, run in runs.items():
            samples[name] += (await run(chunk))[5:]  # the first ones warm the block up
        samples["thread hop (run_in_executor)"] += await hop_block(pool, per_block)
        samples["fdatasync of 12 KB"] += fsync_block(folder / "flush.bin", per_block)
    for appender in appenders.values():
        await appender.close()
    pool.shutdown()
    load = os.getloadavg()
    print(
        f"durable path, one writer, {appends} operations each in {BLOCKS} alternating blocks, "
        f"load average {load[0]:.2f}:"
    )
    print("| operation | median ms | p90 ms |\n|---|---:|---:|")
    for name, values in samples.items():
        median, p90 = quantiles(values)
        print(f"| {name} | {median:.3f} | {p90:.3f} |")
    memory = statistics.median(samples["append, memory (baseline)"])
    normal = statistics.median(samples["append, SQLite NORMAL"])
    full = statistics.median(samples["append, SQLite FULL (the server's)"])
    print(
        f"\nSQLite beyond the baseline without the flush (NORMAL - memory): "
        f"{normal - memory:.3f} ms; the flush (FULL - NORMAL): {full - normal:.3f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=1200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        asyncio.run(main(args.appends, Path(tmp)))
