"""Embedded storage: catalog, update log, snapshot and version rows in one SQLite file;
snapshot and version bytes in a :class:`~persistence.base.BlobStore`.

One connection, used only from one dedicated worker thread, so calls are serialized
and never block the event loop. WAL journal; each write is one ``BEGIN IMMEDIATE``
transaction (several processes may share the file: SQLite lets one write at a time).

``synchronous=FULL`` is the default: in WAL mode it fsyncs the WAL at every commit, so
an acknowledged append survives power loss, not only a process crash (``NORMAL`` only
guarantees the latter). With group commit the fsync is paid once per batch, and it is
cheap: ``bench/bench_persistence.py`` (commit window 0) measured 43.5k appends/s with
FULL against 42.9k with NORMAL at 100 rooms, 0.23 ms against 0.06 ms median latency for
a single room.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from persistence.base import (
    AppendRequest,
    BlobStore,
    LogEntry,
    ScoreCatalog,
    ScoreRecord,
    Snapshot,
    SnapshotStore,
    UpdateLog,
    Version,
    VersionStore,
    check_score_id,
    check_updates,
    new_version_id,
    score_prefix,
    snapshot_key,
    version_key,
)
from persistence.drivers.worker_thread import WorkerThread
from persistence.errors import AlreadyExists, NotFound, StaleEpoch, StorageError

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL"]
KEEP_SNAPSHOTS = 2
SCHEMA_VERSION = 2  # 2: scores.deleted_at (the trash)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    owner TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    epoch INTEGER NOT NULL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS scores_trash ON scores (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS scores_by_created ON scores (created_at, id);
CREATE TABLE IF NOT EXISTS log_heads (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (score_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (score_id, epoch, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    blob_key TEXT NOT NULL,
    retired TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (score_id, epoch, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY,
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    author TEXT,
    created_at REAL NOT NULL,
    epoch INTEGER NOT NULL,
    size INTEGER NOT NULL,
    blob_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_by_score ON versions (score_id, created_at);
"""


class SqliteDatabase:
    """The connection and its worker thread. ``transactions`` counts committed writes,
    ``inline_writes`` those committed on the caller's thread.

    Reads and, by default, writes run on the worker thread, so the event loop never waits
    for the disk. A write may instead run on the caller's thread (skipping two thread
    hand-offs, 0.01-0.07 ms of a 0.25-0.3 ms durable commit here) when that cannot hold the
    loop for long: the database is open and idle (nothing queued for the thread, the
    connection free), no other process holds the write lock (the transaction is begun
    without waiting: if it would wait, the write goes to the thread), and no write in the
    last ``SLOW_HOLD`` seconds took ``inline_below`` seconds or more (a slow disk sends
    every write to the thread). Off by default (``inline_below=0``): a commit on the
    loop's thread holds every other connection meanwhile, which shows in the tail of
    deliveries under load (docs/benchmarks.md).

    ``reserve_wal`` (default on) grows the write-ahead log to its checkpoint size when
    the connection opens (:func:`_reserve_wal`), so commits never extend the file.
    """

    SLOW_HOLD = 5.0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 10.0,
        inline_below: float = 0.0,
        reserve_wal: bool = True,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        if inline_below < 0:
            raise ValueError("inline_below must be 0 (off) or more")
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.inline_below = inline_below
        self.reserve_wal = reserve_wal
        self.transactions = 0
        self.inline_writes = 0
        self._conn: sqlite3.Connection | None = None
        self._conn_lock = threading.Lock()  # one user of the connection at a time
        self._slow_until = 0.0  # time.monotonic(): every write goes to the thread until then
        self._worker = WorkerThread("orpheus-sqlite")
        self._closed = False

    async def open(self) -> None:
        """Connect and create the schema (idempotent); later calls do nothing."""
        await self.run(lambda conn: None)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the worker thread, outside any transaction."""
        return await self._submit(lambda: fn(self._connection()))

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction; an exception rolls it back. On the
        caller's thread when that is quick (see the class), else on the worker thread."""
        if (
            self.inline_below
            and self._conn is not None
            and not self._closed
            and not self._worker.busy
            and time.monotonic() >= self._slow_until
            and self._conn_lock.acquire(blocking=False)
        ):
            try:
                done, result = self._write_inline(self._conn, fn)
            finally:
                self._conn_lock.release()
            if done:
                return cast(T, result)

        def job() -> T:
            conn = self._connection()
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            return self._finish(conn, fn, started)

        return await self._submit(job)

    def _write_inline(
        self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]
    ) -> tuple[bool, T | None]:
        """``(True, result)``, or ``(False, None)`` if another connection holds the write
        lock (the caller then waits for it on the worker thread)."""
        started = time.perf_counter()
        try:
            conn.execute("PRAGMA busy_timeout=0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return False, None
                raise StorageError(f"SQLite {self.path}: {exc}") from exc
            finally:
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            result = self._finish(conn, fn, started)
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite {self.path}: {exc}") from exc
        self.inline_writes += 1
        return True, result

    def _finish(
        self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], started: float
    ) -> T:
        """Run ``fn`` in the transaction just begun and commit it (roll back on error);
        a write that took ``inline_below`` or more keeps writes on the thread a while."""
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if self.inline_below and time.perf_counter() - started >= self.inline_below:
                self._slow_until = time.monotonic() + self.SLOW_HOLD
        self.transactions += 1
        return result

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._worker.run(shut)
        await self._worker.close()

    async def _submit(self, job: Callable[[], T]) -> T:
        if self._closed:
            raise StorageError("the SQLite database is closed")

        def locked() -> T:
            with self._conn_lock:
                return job()

        try:
            return await self._worker.run(locked)
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(  # used from the worker thread and, for quick writes, the loop's
                self.path, isolation_level=None, timeout=self.busy_timeout, check_same_thread=False
            )
            try:
                if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                    raise StorageError(f"SQLite {self.path}: WAL journal mode unavailable")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.execute("PRAGMA foreign_keys=ON")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"SQLite {self.path}: schema version {version} is "
                        f"newer than this code's {SCHEMA_VERSION}"
                    )
                if version == 1:
                    _add_trash(conn)
                conn.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                )
                if self.reserve_wal:
                    _reserve_wal(conn, self.path.with_name(self.path.name + "-wal"))
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn


def _record(row: Sequence[Any]) -> ScoreRecord:
    return ScoreRecord(
        id=row[0],
        title=row[1],
        owner=row[2],
        created_at=row[3],
        updated_at=row[4],
        epoch=row[5],
        deleted_at=row[6] if len(row) > 6 else None,
    )


_SCORE_COLUMNS = "id, title, owner, created_at, updated_at, epoch"
_READ_COLUMNS = _SCORE_COLUMNS + ", deleted_at"


def _get_record(conn: sqlite3.Connection, score_id: str) -> ScoreRecord:
    row = conn.execute(
        f"SELECT {_READ_COLUMNS} FROM scores WHERE id = ? AND deleted_at IS NULL", (score_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no score {score_id!r}")
    return _record(row)


def _head(conn: sqlite3.Connection, score_id: str, epoch: int) -> int:
    row = conn.execute(
        "SELECT seq FROM log_heads WHERE score_id = ? AND epoch = ?", (score_id, epoch)
    ).fetchone()
    return row[0] if row else 0


def _move_epoch(
    conn: sqlite3.Connection, score_id: str, current: int, epoch: int, now: float
) -> None:
    if epoch <= current:
        raise StaleEpoch(f"epoch {epoch} is not after {current}")
    conn.execute("UPDATE scores SET epoch = ?, updated_at = ? WHERE id = ?", (epoch, now, score_id))
    conn.execute("DELETE FROM log WHERE score_id = ? AND epoch < ?", (score_id, epoch))
    conn.execute("DELETE FROM log_heads WHERE score_id = ? AND epoch < ?", (score_id, epoch))


def _reserve_wal(conn: sqlite3.Connection, wal: Path) -> None:
    """Grow the write-ahead log to its checkpoint size once per open, so that commits
    overwrite blocks the file already has. A flush that extends the file also commits the
    file system's journal (its size changed). SQLite reuses a checkpointed log from its
    start and never shrinks it, so a long-running server reaches that state after its
    first checkpoint; but the last connection to close removes the log, and every start
    began with commits that grew it (the first 330 or so edits: latency p50 0.91 against
    0.74 ms reserved, docs/benchmarks.md). Two transactions of the checkpoint's size, one
    that fills a scratch table and one that drops it, leave the log that long and the
    database with free pages that later rows reuse (and the next reservation: the file
    does not grow on each start). About 45 ms per open."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    size = page_size * pages
    with contextlib.suppress(OSError):
        if wal.stat().st_size >= size:
            return
    for statement in (
        "CREATE TABLE IF NOT EXISTS wal_reserve (b BLOB); "
        f"INSERT INTO wal_reserve VALUES (zeroblob({size}))",
        "DROP TABLE IF EXISTS wal_reserve",
    ):
        conn.executescript(f"BEGIN IMMEDIATE; {statement}; COMMIT;")


def _add_trash(conn: sqlite3.Connection) -> None:
    """Schema 1 to 2: the trash column (under the write lock, once, whoever comes first)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
            conn.execute("ALTER TABLE scores ADD COLUMN deleted_at REAL")
            conn.execute("PRAGMA user_version=2")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SqliteCatalog:
    def __init__(self, db: SqliteDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._db, self._blobs, self._clock = db, blobs, clock

    async def create_score(self, record: ScoreRecord) -> ScoreRecord:
        check_score_id(record.id)
        created = record.created_at or self._clock()
        row = (
            record.id,
            record.title,
            record.owner,
            created,
            record.updated_at or created,
            record.epoch,
        )

        def insert(conn: sqlite3.Connection) -> ScoreRecord:
            try:
                conn.execute(f"INSERT INTO scores ({_SCORE_COLUMNS}) VALUES (?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"score {record.id!r} exists") from None
            return _record(row)

        return await self._db.write(insert)

    async def get_score(self, score_id: str) -> ScoreRecord:
        return await self._db.run(lambda conn: _get_record(conn, score_id))

    async def list_scores(self, *, limit: int = 100, offset: int = 0) -> list[ScoreRecord]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_READ_COLUMNS} FROM scores WHERE deleted_at IS NULL "
                "ORDER BY created_at, id LIMIT ? OFFSET ?",
                (max(limit, 0), max(offset, 0)),
            ).fetchall()
        )
        return [_record(r) for r in rows]

    async def trash_score(self, score_id: str) -> ScoreRecord:
        now = self._clock()

        def trash(conn: sqlite3.Connection) -> ScoreRecord:
            record = _get_record(conn, score_id)
            conn.execute("UPDATE scores SET deleted_at = ? WHERE id = ?", (now, score_id))
            return replace(record, deleted_at=now)

        return await self._db.write(trash)

    async def untrash_score(self, score_id: str) -> ScoreRecord:
        def untrash(conn: sqlite3.Connection) -> ScoreRecord:
            if (
                conn.execute(
                    "UPDATE scores SET deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL",
                    (score_id,),
                ).rowcount
                == 0
            ):
                raise NotFound(f"score {score_id!r} is not in the trash")
            return _get_record(conn, score_id)

        return await self._db.write(untrash)

    async def list_trash(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ScoreRecord]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_READ_COLUMNS} FROM scores WHERE deleted_at IS NOT NULL "
                "AND (? IS NULL OR owner = ?) ORDER BY deleted_at DESC, id LIMIT ? OFFSET ?",
                (owner, owner, max(limit, 0), max(offset, 0)),
            ).fetchall()
        )
        return [_record(r) for r in rows]

    async def trashed_before(self, before: float) -> list[str]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT id FROM scores WHERE deleted_at < ? ORDER BY id", (before,)
            ).fetchall()
        )
        return [r[0] for r in rows]

    async def update_score(
        self, score_id: str, *, title: str | None = None, epoch: int | None = None
    ) -> ScoreRecord:
        now = self._clock()

        def update(conn: sqlite3.Connection) -> ScoreRecord:
            current = _get_record(conn, score_id)
            if epoch is not None:
                _move_epoch(conn, score_id, current.epoch, epoch, now)
            if title is not None:
                conn.execute(
                    "UPDATE scores SET title = ?, updated_at = ? WHERE id = ?",
                    (title, now, score_id),
                )
            return _get_record(conn, score_id)

        return await self._db.write(update)

    async def delete_score(self, score_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM scores WHERE id = ?", (score_id,)).rowcount == 0:
                raise NotFound(f"no score {score_id!r}")

        await self._db.write(delete)
        await self._blobs.delete_prefix(score_prefix(score_id))


class SqliteUpdateLog:
    def __init__(self, db: SqliteDatabase, clock: Callable[[], float]) -> None:
        self._db, self._clock = db, clock

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        [result] = await self.append_many([(score_id, epoch, updates)])
        if isinstance(result, StorageError):
            raise result
        return result

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        for _, _, updates in batch:
            check_updates(updates)
        items = [(s, e, list(u)) for s, e, u in batch]
        now = self._clock()

        def append(conn: sqlite3.Connection) -> list[int | StorageError]:
            results: list[int | StorageError] = []
            epochs: dict[str, int | None] = {}
            heads: dict[tuple[str, int], int] = {}
            for score_id, epoch, updates in items:
                if score_id not in epochs:
                    row = conn.execute(
                        "SELECT epoch FROM scores WHERE id = ?", (score_id,)
                    ).fetchone()
                    epochs[score_id] = row[0] if row else None
                current = epochs[score_id]
                if current is None:
                    results.append(NotFound(f"no score {score_id!r}"))
                    continue
                if epoch != current:
                    results.append(
                        StaleEpoch(f"score {score_id!r} is at epoch {current}, not {epoch}")
                    )
                    continue
                head = heads.get((score_id, epoch))
                if head is None:
                    head = _head(conn, score_id, epoch)
                conn.executemany(
                    "INSERT INTO log (score_id, epoch, seq, data) VALUES (?, ?, ?, ?)",
                    [(score_id, epoch, head + i, u) for i, u in enumerate(updates, 1)],
                )
                heads[(score_id, epoch)] = head = head + len(updates)
                results.append(head)
            conn.executemany(
                "INSERT INTO log_heads (score_id, epoch, seq) VALUES (?, ?, ?) "
                "ON CONFLICT (score_id, epoch) DO UPDATE SET seq = excluded.seq",
                [(s, e, h) for (s, e), h in heads.items()],
            )
            conn.executemany(
                "UPDATE scores SET updated_at = ? WHERE id = ?",
                [(now, s) for s in {s for s, _ in heads}],
            )
            return results

        return await self._db.write(append)

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT seq, data FROM log WHERE score_id = ? AND epoch = ? AND seq > ? "
                "ORDER BY seq",
                (score_id, epoch, after),
            ).fetchall()
        )
        return [LogEntry(seq, bytes(data)) for seq, data in rows]

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "DELETE FROM log WHERE score_id = ? AND epoch = ? AND seq <= ?",
                (score_id, epoch, through),
            )
        )


class SqliteSnapshotStore:
    def __init__(self, db: SqliteDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._db, self._blobs, self._clock = db, blobs, clock

    async def save_snapshot(self, score_id: str, snapshot: Snapshot) -> None:
        await self._store(score_id, snapshot, None)

    async def start_epoch(
        self, score_id: str, snapshot: Snapshot, *, from_epoch: int, from_seq: int
    ) -> None:
        await self._store(score_id, snapshot, (from_epoch, from_seq))

    async def _store(
        self, score_id: str, snapshot: Snapshot, start_from: tuple[int, int] | None
    ) -> None:
        check_score_id(score_id)
        await self._db.run(lambda conn: _get_record(conn, score_id))
        key = snapshot_key(score_id, snapshot.epoch, snapshot.seq)
        retired = json.dumps(sorted(snapshot.retired_clients))
        now = self._clock()

        def insert(conn: sqlite3.Connection) -> list[str]:
            current = _get_record(conn, score_id).epoch
            if start_from is None:
                if snapshot.epoch != current:
                    raise StaleEpoch(f"score {score_id!r} is at epoch {current}")
            else:
                from_epoch, from_seq = start_from
                head = _head(conn, score_id, current)
                if (current, head) != (from_epoch, from_seq):
                    raise StaleEpoch(f"score {score_id!r} moved on to epoch {current}, seq {head}")
                _move_epoch(conn, score_id, current, snapshot.epoch, now)
            dropped = [
                r[0]
                for r in conn.execute(
                    "SELECT blob_key FROM snapshots WHERE score_id = ? AND epoch = ? AND seq = ?",
                    (score_id, snapshot.epoch, snapshot.seq),
                )
            ]
            conn.execute(
                "INSERT OR REPLACE INTO snapshots (score_id, epoch, seq, blob_key, retired, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (score_id, snapshot.epoch, snapshot.seq, key, retired, now),
            )
            old = conn.execute(
                "SELECT epoch, seq, blob_key FROM snapshots WHERE score_id = ? "
                "ORDER BY epoch DESC, seq DESC LIMIT -1 OFFSET ?",
                (score_id, KEEP_SNAPSHOTS),
            ).fetchall()
            conn.executemany(
                "DELETE FROM snapshots WHERE score_id = ? AND epoch = ? AND seq = ?",
                [(score_id, e, s) for e, s, _ in old],
            )
            return dropped + [k for _, _, k in old]

        await self._blobs.put(key, snapshot.state)
        try:
            dropped = await self._db.write(insert)
        except BaseException:
            await _forget(self._blobs, key)
            raise
        for old_key in dropped:
            await _forget(self._blobs, old_key)

    async def load_snapshot(self, score_id: str) -> Snapshot | None:
        for _ in range(5):
            row = await self._db.run(
                lambda conn: conn.execute(
                    "SELECT epoch, seq, blob_key, retired FROM snapshots WHERE score_id = ? "
                    "ORDER BY epoch DESC, seq DESC LIMIT 1",
                    (score_id,),
                ).fetchone()
            )
            if row is None:
                return None
            epoch, seq, key, retired = row
            try:
                state = await self._blobs.get(key)
            except NotFound:
                continue  # replaced and pruned while we read: read the newer one
            return Snapshot(epoch, seq, state, frozenset(json.loads(retired)))
        raise StorageError(f"snapshot of {score_id!r} keeps changing")


class SqliteVersionStore:
    def __init__(self, db: SqliteDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._db, self._blobs, self._clock = db, blobs, clock

    async def create_version(
        self, score_id: str, *, name: str, author: str | None, epoch: int, state: bytes
    ) -> Version:
        check_score_id(score_id)
        await self._db.run(lambda conn: _get_record(conn, score_id))
        version = Version(
            new_version_id(), score_id, name, author, self._clock(), epoch, len(state)
        )
        key = version_key(score_id, version.id)

        def insert(conn: sqlite3.Connection) -> None:
            _get_record(conn, score_id)
            conn.execute(
                "INSERT INTO versions (id, score_id, name, author, created_at, epoch, size, "
                "blob_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (version.id, score_id, name, author, version.created_at, epoch, version.size, key),
            )

        await self._blobs.put(key, state)
        try:
            await self._db.write(insert)
        except BaseException:
            await _forget(self._blobs, key)
            raise
        return version

    async def list_versions(self, score_id: str) -> list[Version]:
        def select(conn: sqlite3.Connection) -> list[Any]:
            _get_record(conn, score_id)
            return conn.execute(
                "SELECT id, score_id, name, author, created_at, epoch, size FROM versions "
                "WHERE score_id = ? ORDER BY created_at, rowid",
                (score_id,),
            ).fetchall()

        return [Version(*row) for row in await self._db.run(select)]

    async def get_version(self, score_id: str, version_id: str) -> tuple[Version, bytes]:
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT id, score_id, name, author, created_at, epoch, size, blob_key "
                "FROM versions WHERE score_id = ? AND id = ?",
                (score_id, version_id),
            ).fetchone()
        )
        if row is None:
            raise NotFound(f"no version {version_id!r} of score {score_id!r}")
        return Version(*row[:7]), await self._blobs.get(row[7])


async def _forget(blobs: BlobStore, key: str) -> None:
    """Delete a blob nobody references; a failure only leaves garbage behind."""
    with contextlib.suppress(StorageError):
        await blobs.delete(key)


class SqliteStorage:
    """Catalog, log, snapshot and version rows in the SQLite file at ``path``; bytes in
    ``blobs``. Call :meth:`open` to connect early (otherwise the first call does)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        blobs: BlobStore,
        *,
        synchronous: Synchronous = "FULL",
        inline_below: float = 0.0,
        reserve_wal: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = SqliteDatabase(
            path, synchronous=synchronous, inline_below=inline_below, reserve_wal=reserve_wal
        )
        self.blobs: BlobStore = blobs
        self.catalog: ScoreCatalog = SqliteCatalog(self.db, blobs, clock)
        self.log: UpdateLog = SqliteUpdateLog(self.db, clock)
        self.snapshots: SnapshotStore = SqliteSnapshotStore(self.db, blobs, clock)
        self.versions: VersionStore = SqliteVersionStore(self.db, blobs, clock)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()
