"""Contract suite of :class:`~persistence.base.Storage` (catalog, update log, snapshots,
versions), over every backend (the ``storage`` fixture of conftest.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from persistence.base import ScoreRecord, Snapshot, Storage
from persistence.errors import AlreadyExists, NotFound, StaleEpoch, StorageError


async def _score(storage: Storage, score_id: str = "s1", title: str = "T") -> ScoreRecord:
    return await storage.catalog.create_score(ScoreRecord(score_id, title, owner="ann"))


# --- catalog -------------------------------------------------------------------------


async def test_catalog_create_get_list_update(storage: Storage) -> None:
    before = time.time()
    created = await _score(storage, "s1", "First")
    assert created.id == "s1" and created.title == "First" and created.owner == "ann"
    assert created.epoch == 1 and before - 1 <= created.created_at <= time.time() + 1
    assert created.updated_at >= created.created_at
    assert await storage.catalog.get_score("s1") == created
    for i in range(2, 6):
        await _score(storage, f"s{i}")
        await asyncio.sleep(0.001)
    ids = [r.id for r in await storage.catalog.list_scores()]
    assert ids == ["s1", "s2", "s3", "s4", "s5"]
    page = await storage.catalog.list_scores(limit=2, offset=1)
    assert [r.id for r in page] == ["s2", "s3"]
    updated = await storage.catalog.update_score("s1", title="Renamed")
    assert updated.title == "Renamed" and updated.epoch == 1
    assert updated.updated_at >= created.updated_at
    assert (await storage.catalog.get_score("s1")).title == "Renamed"


async def test_catalog_errors(storage: Storage) -> None:
    await _score(storage)
    with pytest.raises(AlreadyExists):
        await _score(storage)
    for bad in ["", "../x", "a/b", ".hidden", "x" * 200, "a b"]:
        with pytest.raises(ValueError):
            await storage.catalog.create_score(ScoreRecord(bad))
    with pytest.raises(NotFound):
        await storage.catalog.get_score("nope")
    with pytest.raises(NotFound):
        await storage.catalog.update_score("nope", title="x")
    with pytest.raises(NotFound):
        await storage.catalog.delete_score("nope")
    assert issubclass(NotFound, StorageError) and issubclass(StaleEpoch, StorageError)


async def test_update_score_epoch_only_moves_forward_and_empties_the_log(storage: Storage) -> None:
    await _score(storage)
    await storage.log.append("s1", 1, [b"a", b"b"])
    with pytest.raises(StaleEpoch):
        await storage.catalog.update_score("s1", epoch=1)
    record = await storage.catalog.update_score("s1", epoch=3)
    assert record.epoch == 3
    assert await storage.log.read("s1", 1) == []
    assert await storage.log.append("s1", 3, [b"c"]) == 1
    with pytest.raises(StaleEpoch):
        await storage.log.append("s1", 1, [b"d"])


async def test_delete_cascades_to_log_snapshots_versions_and_blobs(storage: Storage) -> None:
    await _score(storage, "s1")
    await _score(storage, "s2")
    for sid in ("s1", "s2"):
        await storage.log.append(sid, 1, [b"x", b"y"])
        await storage.snapshots.save_snapshot(sid, Snapshot(1, 1, b"state-" + sid.encode()))
    version = await storage.versions.create_version(
        "s1", name="v", author="ann", epoch=1, state=b"version"
    )
    await storage.catalog.delete_score("s1")
    with pytest.raises(NotFound):
        await storage.catalog.get_score("s1")
    assert await storage.log.read("s1", 1) == []
    assert await storage.snapshots.load_snapshot("s1") is None
    with pytest.raises(NotFound):
        await storage.versions.get_version("s1", version.id)
    with pytest.raises(NotFound):
        await storage.blobs.get(f"scores/s1/versions/{version.id}")
    # the other score is untouched, and a new score with the same id starts clean
    assert [e.data for e in await storage.log.read("s2", 1)] == [b"x", b"y"]
    assert (await storage.snapshots.load_snapshot("s2")) == Snapshot(1, 1, b"state-s2")
    await _score(storage, "s1")
    assert await storage.log.read("s1", 1) == []
    assert await storage.log.append("s1", 1, [b"z"]) == 1
    assert await storage.versions.list_versions("s1") == []


# --- update log ----------------------------------------------------------------------


async def test_log_append_read_trim_and_seq_monotonicity(storage: Storage) -> None:
    await _score(storage, "a")
    await _score(storage, "b")
    assert await storage.log.append("a", 1, [b"1", b"2", b"3"]) == 3
    assert await storage.log.append("b", 1, [b"x"]) == 1
    assert await storage.log.append("a", 1, [b"4"]) == 4
    entries = await storage.log.read("a", 1)
    assert [(e.seq, e.data) for e in entries] == [(1, b"1"), (2, b"2"), (3, b"3"), (4, b"4")]
    assert [e.seq for e in await storage.log.read("a", 1, after=2)] == [3, 4]
    await storage.log.trim("a", 1, through=3)
    assert [e.seq for e in await storage.log.read("a", 1)] == [4]
    await storage.log.trim("a", 1, through=4)
    assert await storage.log.read("a", 1) == []
    # trimmed seqs are never reused
    assert await storage.log.append("a", 1, [b"5"]) == 5
    assert [(e.seq, e.data) for e in await storage.log.read("b", 1)] == [(1, b"x")]
    assert await storage.log.read("unknown", 1) == []
    await storage.log.trim("unknown", 1, 10)


async def test_log_refuses_unknown_scores_stale_epochs_and_bad_updates(storage: Storage) -> None:
    await _score(storage)
    with pytest.raises(NotFound):
        await storage.log.append("nope", 1, [b"x"])
    with pytest.raises(StaleEpoch):
        await storage.log.append("s1", 2, [b"x"])
    for bad in ([], b"raw bytes", ["text"]):
        with pytest.raises(ValueError):
            await storage.log.append("s1", 1, bad)  # type: ignore[arg-type]
    assert await storage.log.read("s1", 1) == []


async def test_append_many_refuses_requests_individually(storage: Storage) -> None:
    await _score(storage, "a")
    await _score(storage, "b")
    await storage.catalog.update_score("b", epoch=2)
    results = await storage.log.append_many(
        [
            ("a", 1, [b"1"]),
            ("b", 1, [b"stale"]),
            ("nope", 1, [b"?"]),
            ("a", 1, [b"2", b"3"]),
            ("b", 2, [b"ok"]),
        ]
    )
    assert results[0] == 1 and results[3] == 3 and results[4] == 1
    assert isinstance(results[1], StaleEpoch) and isinstance(results[2], NotFound)
    assert [e.data for e in await storage.log.read("a", 1)] == [b"1", b"2", b"3"]
    assert [e.data for e in await storage.log.read("b", 2)] == [b"ok"]


async def test_concurrent_appends_get_distinct_contiguous_seqs(storage: Storage) -> None:
    await _score(storage)
    seqs = await asyncio.gather(*(storage.log.append("s1", 1, [bytes([i])] * 2) for i in range(20)))
    assert sorted(seqs) == list(range(2, 41, 2))
    entries = await storage.log.read("s1", 1)
    assert [e.seq for e in entries] == list(range(1, 41))


# --- snapshots -----------------------------------------------------------------------


async def test_snapshots_newest_wins_and_round_trip(storage: Storage) -> None:
    await _score(storage)
    assert await storage.snapshots.load_snapshot("s1") is None
    await storage.snapshots.save_snapshot("s1", Snapshot(1, 5, b"five", frozenset({7, 9})))
    await storage.snapshots.save_snapshot("s1", Snapshot(1, 9, b"nine"))
    await storage.snapshots.save_snapshot("s1", Snapshot(1, 3, b"three"))  # late, older
    assert await storage.snapshots.load_snapshot("s1") == Snapshot(1, 9, b"nine")
    await storage.snapshots.save_snapshot("s1", Snapshot(1, 12, b"x", frozenset({2**52 + 1})))
    snap = await storage.snapshots.load_snapshot("s1")
    assert snap == Snapshot(1, 12, b"x", frozenset({2**52 + 1}))


async def test_snapshot_refusals(storage: Storage) -> None:
    await _score(storage)
    with pytest.raises(StaleEpoch):
        await storage.snapshots.save_snapshot("s1", Snapshot(2, 1, b"future"))
    with pytest.raises(NotFound):
        await storage.snapshots.save_snapshot("nope", Snapshot(1, 1, b"x"))
    assert await storage.snapshots.load_snapshot("s1") is None
    assert await storage.snapshots.load_snapshot("nope") is None


async def test_old_snapshots_are_pruned(storage: Storage) -> None:
    await _score(storage)
    for seq in range(1, 6):
        await storage.snapshots.save_snapshot("s1", Snapshot(1, seq, b"s%d" % seq))
    assert (await storage.snapshots.load_snapshot("s1")) == Snapshot(1, 5, b"s5")
    await storage.catalog.delete_score("s1")  # and pruning left no stray rows behind
    assert await storage.snapshots.load_snapshot("s1") is None


async def test_start_epoch_is_a_compare_and_set(storage: Storage) -> None:
    await _score(storage)
    await storage.log.append("s1", 1, [b"a", b"b"])
    new = Snapshot(2, 0, b"restored", frozenset({1, 2}))
    with pytest.raises(StaleEpoch):  # the caller missed seq 2
        await storage.snapshots.start_epoch("s1", new, from_epoch=1, from_seq=1)
    with pytest.raises(StaleEpoch):  # wrong epoch
        await storage.snapshots.start_epoch("s1", new, from_epoch=2, from_seq=2)
    with pytest.raises(StaleEpoch):  # not a newer epoch
        await storage.snapshots.start_epoch("s1", Snapshot(1, 0, b""), from_epoch=1, from_seq=2)
    assert (await storage.catalog.get_score("s1")).epoch == 1
    await storage.snapshots.start_epoch("s1", new, from_epoch=1, from_seq=2)
    assert (await storage.catalog.get_score("s1")).epoch == 2
    assert await storage.snapshots.load_snapshot("s1") == new
    assert await storage.log.read("s1", 1) == []
    with pytest.raises(StaleEpoch):
        await storage.log.append("s1", 1, [b"late"])
    assert await storage.log.append("s1", 2, [b"c"]) == 1
    with pytest.raises(StaleEpoch):  # a second restore from the same starting point loses
        await storage.snapshots.start_epoch(
            "s1", Snapshot(2, 0, b"other"), from_epoch=1, from_seq=2
        )


# --- versions ------------------------------------------------------------------------


async def test_versions_create_list_get(storage: Storage) -> None:
    await _score(storage, "s1")
    await _score(storage, "s2")
    before = time.time()
    v1 = await storage.versions.create_version(
        "s1", name="draft", author="ann", epoch=1, state=b"one"
    )
    await asyncio.sleep(0.002)
    v2 = await storage.versions.create_version(
        "s1", name="final", author=None, epoch=1, state=b"two!"
    )
    assert v1.id != v2.id and v1.score_id == "s1" and v1.author == "ann" and v2.author is None
    assert before - 1 <= v1.created_at <= v2.created_at <= time.time() + 1
    assert (v1.size, v2.size, v1.epoch) == (3, 4, 1)
    assert await storage.versions.list_versions("s1") == [v1, v2]
    assert await storage.versions.list_versions("s2") == []
    assert await storage.versions.get_version("s1", v2.id) == (v2, b"two!")
    with pytest.raises(NotFound):
        await storage.versions.get_version("s2", v1.id)
    with pytest.raises(NotFound):
        await storage.versions.get_version("s1", "v_missing")
    with pytest.raises(NotFound):
        await storage.versions.list_versions("nope")
    with pytest.raises(NotFound):
        await storage.versions.create_version("nope", name="x", author=None, epoch=1, state=b"")
