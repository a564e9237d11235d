"""The SQLite connection's writes (persistence/drivers/sqlite.py, ``SqliteDatabase``): on
the caller's thread while that is quick, on the worker thread otherwise, the same
transactions either way."""

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
