"""The trash, over every backend: a trashed score is out of sight but whole until it is
purged; restoring brings it back as it was; the SQLite schema 1 file gains the column."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from persistence.base import ScoreRecord, Snapshot, Storage
from persistence.blobs import open_blob_store
from persistence.drivers.sqlite import SqliteStorage
from persistence.errors import NotFound


async def test_trash_hides_keeps_restores_and_purges(storage: Storage) -> None:
    catalog = storage.catalog
    for score_id, owner in (("s1", "ann"), ("s2", "ann"), ("s3", "bob")):
        await catalog.create_score(ScoreRecord(score_id, score_id.upper(), owner=owner))
    await storage.log.append("s1", 1, [b"\x00\x00"])
    await storage.snapshots.save_snapshot("s1", Snapshot(1, 1, b"state"))
    version = await storage.versions.create_version(
        "s1", name="v", author="ann", epoch=1, state=b"version"
    )
    before = time.time()
    trashed = await catalog.trash_score("s1")
    assert trashed.deleted_at is not None and trashed.deleted_at >= before - 1
    await asyncio.sleep(0.01)
    await catalog.trash_score("s3")
    # out of sight: reads, lists and renames say it is not there
    with pytest.raises(NotFound):
        await catalog.get_score("s1")
    with pytest.raises(NotFound):
        await catalog.update_score("s1", title="x")
    with pytest.raises(NotFound):
        await catalog.trash_score("s1")  # already in the trash
    assert [r.id for r in await catalog.list_scores()] == ["s2"]
    assert [r.id for r in await catalog.list_trash()] == ["s3", "s1"]  # newest first
    assert [r.id for r in await catalog.list_trash(owner="ann")] == ["s1"]
    assert await catalog.trashed_before(time.time() + 1) == ["s1", "s3"]
    assert await catalog.trashed_before(before - 60) == []
    # back as it was, with its log, snapshot and version
    restored = await catalog.untrash_score("s1")
    assert restored.deleted_at is None and restored.title == "S1"
    assert (await catalog.get_score("s1")).owner == "ann"
    assert [e.data for e in await storage.log.read("s1", 1)] == [b"\x00\x00"]
    assert (await storage.snapshots.load_snapshot("s1")) is not None
    assert (await storage.versions.get_version("s1", version.id))[1] == b"version"
    with pytest.raises(NotFound):
        await catalog.untrash_score("s1")  # not in the trash any more
    # purge: delete_score removes a trashed score for good
    await catalog.delete_score("s3")
    assert await catalog.list_trash() == []
    with pytest.raises(NotFound):
        await catalog.untrash_score("s3")


async def test_a_schema_1_sqlite_file_gains_the_trash_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE scores (id TEXT PRIMARY KEY, title TEXT NOT NULL, owner TEXT,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, epoch INTEGER NOT NULL);
        INSERT INTO scores VALUES ('old', 'Old', 'ann', 1.0, 1.0, 1);
        PRAGMA user_version=1;""")
    conn.close()
    storage = SqliteStorage(path, open_blob_store(f"file://{tmp_path / 'blobs'}"))
    try:
        assert (await storage.catalog.get_score("old")).title == "Old"
        await storage.catalog.trash_score("old")
        assert [r.id for r in await storage.catalog.list_trash()] == ["old"]
    finally:
        await storage.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
