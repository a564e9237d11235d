"""GroupCommitLog over real backends: batching, ordering, per-caller results, failures."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from persistence.base import AppendRequest, LogEntry, ScoreRecord, Storage, UpdateLog
from persistence.documents.group_commit import GroupCommitLog
from persistence.drivers.files import FileBlobStore
from persistence.drivers.sqlite import SqliteStorage
from persistence.errors import NotFound, StaleEpoch, StorageError


class CountingLog:
    """Delegates to a real log, counting ``append_many`` calls; can be told to fail."""

    def __init__(self, inner: UpdateLog) -> None:
        self.inner = inner
        self.batches: list[int] = []
        self.fail_with: BaseException | None = None
        self.gate: asyncio.Event | None = None  # when set: each batch waits for it

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        raise AssertionError("GroupCommitLog must only call append_many")

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        self.batches.append(len(batch))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return await self.inner.append_many(batch)

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        return await self.inner.read(score_id, epoch, after)

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        await self.inner.trim(score_id, epoch, through)


async def _scores(storage: Storage, *ids: str) -> None:
    for score_id in ids:
        await storage.catalog.create_score(ScoreRecord(score_id))


async def test_concurrent_appends_across_scores_share_one_transaction(storage: Storage) -> None:
    await _scores(storage, "a", "b", "c")
    counting = CountingLog(storage.log)
    log = GroupCommitLog(counting, window=0.02)
    calls = [(sid, [f"{sid}{i}".encode()]) for i in range(10) for sid in "abc"]
    seqs = await asyncio.gather(*(log.append(sid, 1, ups) for sid, ups in calls))
    assert counting.batches == [30] and log.batches == 1
    assert seqs == [i + 1 for i in range(10) for _ in "abc"]
    for sid in "abc":
        assert [e.data for e in await storage.log.read(sid, 1)] == [
            f"{sid}{i}".encode() for i in range(10)
        ]


async def test_sqlite_commits_once_per_batch(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite", FileBlobStore(tmp_path / "blobs"))
    try:
        await _scores(storage, *[f"s{i}" for i in range(5)])
        log = GroupCommitLog(storage.log, window=0.02)
        before = storage.db.transactions
        await asyncio.gather(*(log.append(f"s{i % 5}", 1, [b"u%d" % i]) for i in range(50)))
        assert storage.db.transactions - before == 1
        for i in range(3):  # awaited one by one: one transaction each
            await log.append("s0", 1, [b"x%d" % i])
        assert storage.db.transactions - before == 4
        assert len(await storage.log.read("s0", 1)) == 13
    finally:
        await storage.close()


async def test_later_appends_to_a_score_get_later_seqs(storage: Storage) -> None:
    await _scores(storage, "s")
    log = GroupCommitLog(storage.log, window=0.001, max_batch=7)
    tasks = []
    for i in range(40):  # a mix of batches and window expiries
        tasks.append(asyncio.ensure_future(log.append("s", 1, [b"%d" % i])))
        if i % 9 == 0:
            await asyncio.sleep(0.002)
    seqs = await asyncio.gather(*tasks)
    assert seqs == list(range(1, 41))
    assert [e.data for e in await storage.log.read("s", 1)] == [b"%d" % i for i in range(40)]
    assert log.batches >= 40 // 7


async def test_max_batch_splits_batches(storage: Storage) -> None:
    await _scores(storage, "s")
    counting = CountingLog(storage.log)
    # A long window: full batches that waited for it would take 5 s (a short one made
    # this test time the database on a loaded machine instead).
    log = GroupCommitLog(counting, window=5.0, max_batch=4)
    started = time.perf_counter()
    await asyncio.gather(*(log.append("s", 1, [b"x"]) for _ in range(8)))
    assert counting.batches == [4, 4]
    assert time.perf_counter() - started < 2.5  # full batches do not wait for the window


async def test_refusals_go_to_their_own_callers_only(storage: Storage) -> None:
    await _scores(storage, "ok", "reset")
    await storage.catalog.update_score("reset", epoch=2)
    counting = CountingLog(storage.log)
    log = GroupCommitLog(counting, window=0.01)
    results = await asyncio.gather(
        log.append("ok", 1, [b"1"]),
        log.append("reset", 1, [b"stale"]),
        log.append("gone", 1, [b"?"]),
        log.append("ok", 1, [b"2"]),
        return_exceptions=True,
    )
    assert counting.batches == [4]
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], StaleEpoch) and isinstance(results[2], NotFound)
    many = await log.append_many([("ok", 1, [b"3"]), ("reset", 1, [b"x"])])
    assert many[0] == 3 and isinstance(many[1], StaleEpoch)


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("disk I/O error"),
        OSError(5, "EIO"),
        StorageError("connection lost"),
    ],
)
async def test_a_failed_batch_fails_every_caller(storage: Storage, error: Exception) -> None:
    await _scores(storage, "a", "b")
    counting = CountingLog(storage.log)
    log = GroupCommitLog(counting, window=0.01)
    counting.fail_with = error
    results = await asyncio.gather(
        *(log.append(sid, 1, [b"x"]) for sid in "abab"), return_exceptions=True
    )
    assert counting.batches == [4]
    assert all(isinstance(r, StorageError) and r.__cause__ is error for r in results)
    assert await storage.log.read("a", 1) == []
    with pytest.raises(StorageError):
        await log.append_many([("a", 1, [b"y"])])
    counting.fail_with = None  # the backend recovers: the callers' retries succeed
    assert await asyncio.gather(log.append("a", 1, [b"x"]), log.append("b", 1, [b"x"])) == [1, 1]


async def test_a_closed_sqlite_database_fails_the_batch(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "db.sqlite", FileBlobStore(tmp_path / "blobs"))
    await _scores(storage, "s")
    log = GroupCommitLog(storage.log, window=0.01)
    pending = [asyncio.ensure_future(log.append("s", 1, [b"x"])) for _ in range(3)]
    await storage.close()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, StorageError) for r in results)


async def test_cancelled_append_is_not_written(storage: Storage) -> None:
    await _scores(storage, "s")
    log = GroupCommitLog(storage.log, window=0.02)
    kept = asyncio.ensure_future(log.append("s", 1, [b"kept"]))
    dropped = asyncio.ensure_future(log.append("s", 1, [b"cancelled"]))
    await asyncio.sleep(0)
    dropped.cancel()
    assert await kept == 1
    assert [e.data for e in await storage.log.read("s", 1)] == [b"kept"]


async def test_flush_skips_the_window_and_close_refuses_new_appends(storage: Storage) -> None:
    await _scores(storage, "s")
    log = GroupCommitLog(storage.log, window=30.0)
    pending = [asyncio.ensure_future(log.append("s", 1, [b"%d" % i])) for i in range(3)]
    await asyncio.sleep(0)
    started = time.perf_counter()
    await asyncio.wait_for(log.flush(), 5)
    assert time.perf_counter() - started < 1
    assert [p.result() for p in pending] == [1, 2, 3]
    late = asyncio.ensure_future(log.append("s", 1, [b"late"]))
    await asyncio.sleep(0)
    await asyncio.wait_for(log.close(), 5)
    assert late.result() == 4
    with pytest.raises(StorageError):
        await log.append("s", 1, [b"closed"])
    await log.flush()  # nothing pending: returns at once


async def test_bad_updates_are_refused_before_batching(storage: Storage) -> None:
    await _scores(storage, "s")
    counting = CountingLog(storage.log)
    log = GroupCommitLog(counting)
    for bad in ([], b"bytes, not a list", [b"ok", "text"]):
        with pytest.raises(ValueError):
            await log.append("s", 1, bad)  # type: ignore[arg-type]
    assert counting.batches == []
    with pytest.raises(ValueError):
        GroupCommitLog(storage.log, window=-1)


async def test_without_a_window_a_lone_append_commits_from_its_caller(storage: Storage) -> None:
    """No task is started for it; appends arriving meanwhile still follow it in order."""
    await _scores(storage, "s")
    counting = CountingLog(storage.log)
    counting.gate = asyncio.Event()
    log = GroupCommitLog(counting, window=0)
    first = asyncio.ensure_future(log.append("s", 1, [b"a"]))
    await asyncio.sleep(0)  # the first is in flight, committed from its caller
    assert log._in_flight and log._runner is None and counting.batches == [1]
    rest = [asyncio.ensure_future(log.append("s", 1, [b"%d" % i])) for i in range(3)]
    await asyncio.sleep(0)
    assert counting.batches == [1]  # they wait for it: batches never overlap
    counting.gate.set()
    assert await first == 1
    assert [await r for r in rest] == [2, 3, 4]  # one batch after it, in call order
    assert counting.batches == [1, 3]
    assert [e.data for e in await storage.log.read("s", 1)] == [b"a", b"0", b"1", b"2"]
    assert await log.append("s", 1, [b"again"]) == 5 and counting.batches == [1, 3, 1]
