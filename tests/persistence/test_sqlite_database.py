"""The SQLite connection's writes (persistence/drivers/sqlite.py, ``SqliteDatabase``): on
the caller's thread while that is quick, on the worker thread otherwise, the same
transactions either way; the write-ahead log reserved when the connection opens."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from persistence.drivers.sqlite import SqliteDatabase


def insert(value: str) -> object:
    def fn(conn: sqlite3.Connection) -> str:
        conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        return threading.current_thread().name

    return fn


async def opened(tmp_path: Path, inline_below: float = 0.005) -> SqliteDatabase:
    db = SqliteDatabase(tmp_path / "x.db", inline_below=inline_below)
    await db.open()
    return db


def rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute("SELECT v FROM t ORDER BY rowid")]


async def test_an_idle_database_commits_a_write_on_the_caller_s_thread(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    assert await db.write(insert("a")) == threading.current_thread().name
    assert await db.write(insert("b")) == threading.current_thread().name
    assert db.inline_writes == 2 and db.transactions == 2
    reader = await db.run(lambda conn: threading.current_thread().name)
    assert reader == "orpheus-sqlite"  # reads stay on the worker thread
    await db.close()
    assert rows(tmp_path / "x.db") == ["a", "b"]  # committed, in order


async def test_writes_go_to_the_thread_by_default(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "x.db")
    await db.open()
    assert await db.write(insert("a")) == "orpheus-sqlite"
    assert db.inline_writes == 0
    await db.close()


async def test_a_slow_write_sends_the_next_ones_to_the_thread_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await opened(tmp_path, inline_below=0.01)

    def slow(conn: sqlite3.Connection) -> None:
        insert("slow")(conn)
        time.sleep(0.02)  # a disk that takes 20 ms to flush

    await db.write(slow)
    assert await db.write(insert("a")) == "orpheus-sqlite"
    monkeypatch.setattr(db, "_slow_until", time.monotonic() - 1)  # the hold is over
    assert await db.write(insert("b")) == threading.current_thread().name
    await db.close()
    assert rows(tmp_path / "x.db") == ["slow", "a", "b"]


async def test_a_write_waits_on_the_thread_while_another_connection_holds_the_lock(
    tmp_path: Path,
) -> None:
    db = await opened(tmp_path)
    await db.write(insert("first"))
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    other.execute("INSERT INTO t VALUES ('other')")
    write = asyncio.create_task(db.write(insert("mine")))
    ticks = 0
    for _ in range(10):  # the event loop is not held while the write waits
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 10 and not write.done()
    other.execute("COMMIT")
    assert await asyncio.wait_for(write, 5) == "orpheus-sqlite"
    other.close()
    await db.close()
    assert rows(tmp_path / "x.db") == ["first", "other", "mine"]


async def test_a_write_behind_a_queued_job_goes_after_it_on_the_thread(tmp_path: Path) -> None:
    db = await opened(tmp_path)
    await db.write(insert("first"))
    order: list[str] = []

    def slow_read(conn: sqlite3.Connection) -> None:
        time.sleep(0.05)
        order.append("read")

    read = asyncio.create_task(db.run(slow_read))
    await asyncio.sleep(0)  # the read is queued
    assert await db.write(insert("second")) == "orpheus-sqlite"
    order.append("write")
    await read
    assert order == ["read", "write"]
    await db.close()


async def test_a_failing_write_is_rolled_back_inline_and_the_next_one_commits(
    tmp_path: Path,
) -> None:
    db = await opened(tmp_path)
    await db.write(insert("a"))

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES ('lost')")
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await db.write(bad)
    assert await db.write(insert("b")) == threading.current_thread().name
    await db.close()
    assert rows(tmp_path / "x.db") == ["a", "b"]


def wal_size(path: Path) -> int:
    return path.with_name(path.name + "-wal").stat().st_size


async def test_the_write_ahead_log_is_reserved_on_open_and_commits_do_not_grow_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    db = SqliteDatabase(path)
    await db.open()
    page_size, pages = await db.run(
        lambda conn: (
            conn.execute("PRAGMA page_size").fetchone()[0],
            conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
        )
    )
    reserved = wal_size(path)
    assert reserved >= page_size * pages
    for i in range(300):  # every commit overwrites the log's blocks instead of extending it
        await db.write(insert(f"v{i}"))
    assert wal_size(path) == reserved
    tables = await db.run(
        lambda conn: [n for (n,) in conn.execute("SELECT name FROM sqlite_master")]
    )
    assert "wal_reserve" not in tables
    await db.close()
    assert rows(path) == [f"v{i}" for i in range(300)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_reserving_again_on_each_open_reuses_the_database_s_free_pages(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    sizes = []
    for i in range(4):
        db = SqliteDatabase(path)
        await db.open()
        await db.write(insert(f"v{i}"))
        await db.close()  # the last connection checkpoints and removes the log
        assert not path.with_name("x.db-wal").exists()
        sizes.append(path.stat().st_size)
    assert sizes[3] - sizes[0] <= 4096  # the table's page at most, not a reserve per open
    assert sizes[1] == sizes[2] == sizes[3]
    assert rows(path) == ["v0", "v1", "v2", "v3"]


async def test_a_second_connection_finds_the_log_reserved(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    first = SqliteDatabase(path)
    await first.open()
    await first.write(insert("a"))
    reserved, before = wal_size(path), path.stat().st_size
    second = SqliteDatabase(path)  # another process would open it so too
    await second.open()
    await second.write(insert("b"))
    assert (wal_size(path), path.stat().st_size) == (reserved, before)
    await second.close()
    await first.close()
    assert rows(path) == ["a", "b"]


async def test_without_the_reservation_the_log_grows_with_the_commits(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = SqliteDatabase(path, reserve_wal=False)
    await db.open()
    opened_at = wal_size(path)
    for i in range(50):
        await db.write(insert(f"v{i}"))
    assert wal_size(path) > opened_at
    await db.close()
