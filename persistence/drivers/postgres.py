"""Production storage: catalog, update log, snapshot and version rows in PostgreSQL
(asyncpg pool); snapshot and version bytes in a :class:`~persistence.base.BlobStore`.

Schema: ``persistence/drivers/migrations`` (applied by :mod:`persistence.drivers.migrate` on open).

Concurrency (several server instances may share the database): every write to a
score's data first locks its ``scores`` row (``FOR NO KEY UPDATE``), so an append, a
snapshot, an epoch change and a delete of one score are serialised, while different
scores proceed in parallel. ``append_many`` locks all its scores in id order (no
deadlock between two batches), checks their epochs, bumps ``log_heads`` with
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` and inserts the entries, all in ONE
transaction. Seqs are therefore gap-free and a later seq commits after an earlier one.

Every driver or network failure (connection lost, server restarting, statement
timeout) is raised as :class:`~persistence.errors.StorageError`; the pool replaces
broken connections, so a retry after the server is back succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

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
from persistence.drivers.migrate import migrate
from persistence.errors import AlreadyExists, NotFound, StaleEpoch, StorageError

KEEP_SNAPSHOTS = 2

#: Driver and network failures, all reported as :class:`StorageError`.
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _stamp(seconds: float) -> float:
    """``seconds`` as it reads back from a timestamptz column (microsecond precision)."""
    return _seconds(_time(seconds))


class PostgresDatabase:
    """The asyncpg pool. ``transactions`` counts committed write transactions."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float | None = 30.0,
        application_name: str = "orpheus",
        run_migrations: bool = True,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("pool sizes must satisfy 0 <= min_size <= max_size, max_size >= 1")
        self.dsn = dsn
        self.min_size, self.max_size = min_size, max_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.application_name = application_name
        self.run_migrations = run_migrations
        self.connect_options = dict(connect_options or {})
        self.transactions = 0
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False

    async def open(self) -> None:
        """Create the pool and apply pending migrations; later calls do nothing."""
        await self._get_pool()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, outside any transaction (each statement commits)."""
        pool = await self._get_pool()
        try:
            async with pool.acquire(timeout=self.connect_timeout) as conn:
                yield conn
        except asyncpg.DataError as exc:  # a value of the wrong type for its column
            raise ValueError(str(exc)) from exc
        except _DRIVER_ERRORS as exc:
            raise StorageError(f"PostgreSQL: {exc!r}") from exc

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a transaction, committed when the block ends without an
        exception and rolled back otherwise."""
        async with self.connection() as conn, conn.transaction():
            yield conn
        self.transactions += 1

    async def close(self, timeout: float = 10.0) -> None:
        """Close the pool, waiting up to ``timeout`` seconds for connections in use."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout)
        except (TimeoutError, *_DRIVER_ERRORS):
            pool.terminate()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._closed:
            raise StorageError("the PostgreSQL storage is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                pool = await self._create_pool()
                if self._closed:  # closed while we connected
                    pool.terminate()
                    raise StorageError("the PostgreSQL storage is closed")
                self._pool = pool
        return self._pool

    async def _create_pool(self) -> asyncpg.Pool:
        options = dict(self.connect_options)
        settings = {"application_name": self.application_name, **options.pop("server_settings", {})}
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                server_settings=settings,
                **options,
            )
        except asyncpg.ClientConfigurationError as exc:
            raise ValueError(f"bad PostgreSQL settings: {exc}") from None
        except _DRIVER_ERRORS as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc!r}") from exc
        try:
            if self.run_migrations:
                async with pool.acquire(timeout=self.connect_timeout) as conn:
                    await migrate(conn)
        except BaseException as exc:
            pool.terminate()
            if isinstance(exc, _DRIVER_ERRORS):
                raise StorageError(f"PostgreSQL migration failed: {exc!r}") from exc
            raise
        return pool


def _record(row: Mapping[str, Any]) -> ScoreRecord:
    deleted = row.get("deleted_at")
    return ScoreRecord(
        id=row["id"],
        title=row["title"],
        owner=row["owner"],
        created_at=_seconds(row["created_at"]),
        updated_at=_seconds(row["updated_at"]),
        epoch=row["epoch"],
        deleted_at=None if deleted is None else _seconds(deleted),
    )


_SCORE_COLUMNS = "id, title, owner, created_at, updated_at, epoch"
_READ_COLUMNS = _SCORE_COLUMNS + ", deleted_at"


async def _lock_score(conn: asyncpg.Connection, score_id: str) -> int:
    """Lock the score's row for this transaction; return its epoch, or NotFound."""
    epoch = await conn.fetchval(
        "SELECT epoch FROM scores WHERE id = $1 FOR NO KEY UPDATE", score_id
    )
    if epoch is None:
        raise NotFound(f"no score {score_id!r}")
    return int(epoch)


async def _move_epoch(
    conn: asyncpg.Connection, score_id: str, current: int, epoch: int, now: datetime
) -> None:
    """Make ``epoch`` current and drop the older epochs' log (row lock held)."""
    if epoch <= current:
        raise StaleEpoch(f"epoch {epoch} is not after {current}")
    await conn.execute(
        "UPDATE scores SET epoch = $2, updated_at = $3 WHERE id = $1", score_id, epoch, now
    )
    await conn.execute("DELETE FROM update_log WHERE score_id = $1 AND epoch < $2", score_id, epoch)
    await conn.execute("DELETE FROM log_heads WHERE score_id = $1 AND epoch < $2", score_id, epoch)


async def _require_score(db: PostgresDatabase, score_id: str) -> None:
    async with db.connection() as conn:
        if await conn.fetchval("SELECT 1 FROM scores WHERE id = $1", score_id) is None:
            raise NotFound(f"no score {score_id!r}")


class PostgresCatalog:
    def __init__(self, db: PostgresDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._db, self._blobs, self._clock = db, blobs, clock

    async def create_score(self, record: ScoreRecord) -> ScoreRecord:
        check_score_id(record.id)
        created = record.created_at or self._clock()
        try:
            async with self._db.transaction() as conn:
                row = await conn.fetchrow(
                    f"INSERT INTO scores ({_SCORE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
                    f"RETURNING {_SCORE_COLUMNS}",
                    record.id,
                    record.title,
                    record.owner,
                    _time(created),
                    _time(record.updated_at or created),
                    record.epoch,
                )
        except StorageError as exc:
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                raise AlreadyExists(f"score {record.id!r} exists") from None
            raise
        return _record(row)

    async def get_score(self, score_id: str) -> ScoreRecord:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_READ_COLUMNS} FROM scores WHERE id = $1 AND deleted_at IS NULL", score_id
            )
        if row is None:
            raise NotFound(f"no score {score_id!r}")
        return _record(row)

    async def list_scores(self, *, limit: int = 100, offset: int = 0) -> list[ScoreRecord]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_READ_COLUMNS} FROM scores WHERE deleted_at IS NULL "
                "ORDER BY created_at, id LIMIT $1 OFFSET $2",
                max(limit, 0),
                max(offset, 0),
            )
        return [_record(r) for r in rows]

    async def trash_score(self, score_id: str) -> ScoreRecord:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                f"UPDATE scores SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL "
                f"RETURNING {_READ_COLUMNS}",
                score_id,
                _time(self._clock()),
            )
        if row is None:
            raise NotFound(f"no score {score_id!r}")
        return _record(row)

    async def untrash_score(self, score_id: str) -> ScoreRecord:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE scores SET deleted_at = NULL WHERE id = $1 AND deleted_at IS NOT NULL "
                f"RETURNING {_READ_COLUMNS}",
                score_id,
            )
        if row is None:
            raise NotFound(f"score {score_id!r} is not in the trash")
        return _record(row)

    async def list_trash(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ScoreRecord]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_READ_COLUMNS} FROM scores WHERE deleted_at IS NOT NULL "
                "AND ($1::text IS NULL OR owner = $1) ORDER BY deleted_at DESC, id "
                "LIMIT $2 OFFSET $3",
                owner,
                max(limit, 0),
                max(offset, 0),
            )
        return [_record(r) for r in rows]

    async def trashed_before(self, before: float) -> list[str]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id FROM scores WHERE deleted_at < $1 ORDER BY id", _time(before)
            )
        return [r["id"] for r in rows]

    async def update_score(
        self, score_id: str, *, title: str | None = None, epoch: int | None = None
    ) -> ScoreRecord:
        now = _time(self._clock())
        async with self._db.transaction() as conn:
            current = await _lock_score(conn, score_id)
            if (
                await conn.fetchval("SELECT deleted_at FROM scores WHERE id = $1", score_id)
                is not None
            ):
                raise NotFound(f"no score {score_id!r} (it is in the trash)")
            if epoch is not None:
                await _move_epoch(conn, score_id, current, epoch, now)
            if title is not None:
                await conn.execute(
                    "UPDATE scores SET title = $2, updated_at = $3 WHERE id = $1",
                    score_id,
                    title,
                    now,
                )
            row = await conn.fetchrow(f"SELECT {_READ_COLUMNS} FROM scores WHERE id = $1", score_id)
        return _record(row)

    async def delete_score(self, score_id: str) -> None:
        async with self._db.transaction() as conn:
            if (
                await conn.fetchval("DELETE FROM scores WHERE id = $1 RETURNING 1", score_id)
                is None
            ):
                raise NotFound(f"no score {score_id!r}")
        await self._blobs.delete_prefix(score_prefix(score_id))


_LOCK_AND_TOUCH = """
UPDATE scores SET updated_at = $2
FROM (SELECT id FROM scores WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE) locked
WHERE scores.id = locked.id
RETURNING scores.id, scores.epoch"""

_BUMP_HEADS = """
INSERT INTO log_heads (score_id, epoch, seq)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
ON CONFLICT (score_id, epoch) DO UPDATE SET seq = log_heads.seq + excluded.seq
RETURNING score_id, epoch, seq"""

_INSERT_ENTRIES = """
INSERT INTO update_log (score_id, epoch, seq, data)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[])"""


class PostgresUpdateLog:
    def __init__(self, db: PostgresDatabase, clock: Callable[[], float]) -> None:
        self._db, self._clock = db, clock

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        [result] = await self.append_many([(score_id, epoch, updates)])
        if isinstance(result, StorageError):
            raise result
        return result

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        for _, _, updates in batch:
            check_updates(updates)
        if not batch:
            return []
        items = [(s, e, list(u)) for s, e, u in batch]
        now = _time(self._clock())
        async with self._db.transaction() as conn:
            rows = await conn.fetch(_LOCK_AND_TOUCH, sorted({s for s, _, _ in items}), now)
            epochs = {row["id"]: row["epoch"] for row in rows}
            results: list[int | StorageError] = []
            counts: dict[tuple[str, int], int] = {}
            for score_id, epoch, updates in items:
                current = epochs.get(score_id)
                if current is None:
                    results.append(NotFound(f"no score {score_id!r}"))
                elif epoch != current:
                    results.append(
                        StaleEpoch(f"score {score_id!r} is at epoch {current}, not {epoch}")
                    )
                else:
                    counts[(score_id, epoch)] = counts.get((score_id, epoch), 0) + len(updates)
                    results.append(0)  # placeholder: the seq, once the head is known
            if not counts:
                return results
            keys = list(counts)
            heads = await conn.fetch(
                _BUMP_HEADS, [s for s, _ in keys], [e for _, e in keys], [counts[k] for k in keys]
            )
            # the seq before this batch's first entry, per score and epoch
            last = {
                (h["score_id"], h["epoch"]): h["seq"] - counts[(h["score_id"], h["epoch"])]
                for h in heads
            }
            columns: tuple[list[str], list[int], list[int], list[bytes]] = ([], [], [], [])
            for i, (score_id, epoch, updates) in enumerate(items):
                if isinstance(results[i], StorageError):
                    continue
                seq = last[(score_id, epoch)]
                for update in updates:
                    seq += 1
                    columns[0].append(score_id)
                    columns[1].append(epoch)
                    columns[2].append(seq)
                    columns[3].append(update)
                last[(score_id, epoch)] = results[i] = seq
            await conn.execute(_INSERT_ENTRIES, *columns)
        return results

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT seq, data FROM update_log WHERE score_id = $1 AND epoch = $2 "
                "AND seq > $3 ORDER BY seq",
                score_id,
                epoch,
                after,
            )
        return [LogEntry(row["seq"], bytes(row["data"])) for row in rows]

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM update_log WHERE score_id = $1 AND epoch = $2 AND seq <= $3",
                score_id,
                epoch,
                through,
            )


class PostgresSnapshotStore:
    def __init__(self, db: PostgresDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
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
        await _require_score(self._db, score_id)
        key = snapshot_key(score_id, snapshot.epoch, snapshot.seq)
        await self._blobs.put(key, snapshot.state)
        try:
            dropped = await self._insert(score_id, snapshot, key, start_from)
        except (StaleEpoch, NotFound):
            await _forget(self._blobs, key)
            raise
        # on any other failure the commit may have happened (connection lost while
        # committing): the blob stays, at worst as garbage
        for old_key in dropped:
            await _forget(self._blobs, old_key)

    async def _insert(
        self, score_id: str, snapshot: Snapshot, key: str, start_from: tuple[int, int] | None
    ) -> list[str]:
        """Insert the row (moving the epoch for ``start_from``) and prune; return the
        blob keys no row references any more."""
        now = _time(self._clock())
        async with self._db.transaction() as conn:
            current = await _lock_score(conn, score_id)
            if start_from is None:
                if snapshot.epoch != current:
                    raise StaleEpoch(f"score {score_id!r} is at epoch {current}")
            else:
                head = (
                    await conn.fetchval(
                        "SELECT seq FROM log_heads WHERE score_id = $1 AND epoch = $2",
                        score_id,
                        current,
                    )
                    or 0
                )
                if (current, head) != start_from:
                    raise StaleEpoch(f"score {score_id!r} moved on to epoch {current}, seq {head}")
                await _move_epoch(conn, score_id, current, snapshot.epoch, now)
            dropped = await conn.fetch(
                "DELETE FROM snapshots WHERE score_id = $1 AND epoch = $2 AND seq = $3 "
                "RETURNING blob_key",
                score_id,
                snapshot.epoch,
                snapshot.seq,
            )
            await conn.execute(
                "INSERT INTO snapshots (score_id, epoch, seq, blob_key, retired_clients, "
                "size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                score_id,
                snapshot.epoch,
                snapshot.seq,
                key,
                sorted(snapshot.retired_clients),
                len(snapshot.state),
                now,
            )
            pruned = await conn.fetch(
                "DELETE FROM snapshots WHERE (score_id, epoch, seq) IN ("
                "  SELECT score_id, epoch, seq FROM snapshots WHERE score_id = $1"
                "  ORDER BY epoch DESC, seq DESC OFFSET $2) RETURNING blob_key",
                score_id,
                KEEP_SNAPSHOTS,
            )
        return [row["blob_key"] for row in (*dropped, *pruned)]

    async def load_snapshot(self, score_id: str) -> Snapshot | None:
        for _ in range(5):
            async with self._db.connection() as conn:
                row = await conn.fetchrow(
                    "SELECT epoch, seq, blob_key, retired_clients FROM snapshots "
                    "WHERE score_id = $1 ORDER BY epoch DESC, seq DESC LIMIT 1",
                    score_id,
                )
            if row is None:
                return None
            try:
                state = await self._blobs.get(row["blob_key"])
            except NotFound:
                continue  # replaced and pruned while we read: read the newer one
            return Snapshot(row["epoch"], row["seq"], state, frozenset(row["retired_clients"]))
        raise StorageError(f"snapshot of {score_id!r} keeps changing")


_VERSION_COLUMNS = "id, score_id, name, author, created_at, epoch, size"


def _version(row: Mapping[str, Any]) -> Version:
    return Version(
        row["id"],
        row["score_id"],
        row["name"],
        row["author"],
        _seconds(row["created_at"]),
        row["epoch"],
        row["size"],
    )


class PostgresVersionStore:
    def __init__(self, db: PostgresDatabase, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self._db, self._blobs, self._clock = db, blobs, clock

    async def create_version(
        self, score_id: str, *, name: str, author: str | None, epoch: int, state: bytes
    ) -> Version:
        check_score_id(score_id)
        await _require_score(self._db, score_id)
        version = Version(
            new_version_id(), score_id, name, author, _stamp(self._clock()), epoch, len(state)
        )
        key = version_key(score_id, version.id)
        await self._blobs.put(key, state)
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO versions ({_VERSION_COLUMNS}, blob_key) "
                    f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    version.id,
                    score_id,
                    name,
                    author,
                    _time(version.created_at),
                    epoch,
                    version.size,
                    key,
                )
        except StorageError as exc:
            if not isinstance(exc.__cause__, asyncpg.ForeignKeyViolationError):
                raise  # the commit may have happened: keep the blob
            await _forget(self._blobs, key)
            raise NotFound(f"no score {score_id!r}") from None
        return version

    async def list_versions(self, score_id: str) -> list[Version]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_VERSION_COLUMNS} FROM versions WHERE score_id = $1 "
                f"ORDER BY created_at, ordinal",
                score_id,
            )
            if (
                not rows
                and await conn.fetchval("SELECT 1 FROM scores WHERE id = $1", score_id) is None
            ):
                raise NotFound(f"no score {score_id!r}")
        return [_version(row) for row in rows]

    async def get_version(self, score_id: str, version_id: str) -> tuple[Version, bytes]:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_VERSION_COLUMNS}, blob_key FROM versions "
                f"WHERE score_id = $1 AND id = $2",
                score_id,
                version_id,
            )
        if row is None:
            raise NotFound(f"no version {version_id!r} of score {score_id!r}")
        return _version(row), await self._blobs.get(row["blob_key"])


async def _forget(blobs: BlobStore, key: str) -> None:
    """Delete a blob nobody references; a failure only leaves garbage behind."""
    with contextlib.suppress(StorageError):
        await blobs.delete(key)


class PostgresStorage:
    """Catalog, log, snapshot and version rows in the PostgreSQL database at ``dsn``;
    bytes in ``blobs``. :meth:`open` connects and migrates (otherwise the first call
    does); :meth:`close` closes the pool (not the blob store).

    ``min_size``/``max_size`` bound the pool; ``command_timeout`` (seconds) bounds each
    statement; ``connect_options`` go to :func:`asyncpg.create_pool` as they are.
    """

    def __init__(
        self,
        dsn: str,
        blobs: BlobStore,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float | None = 30.0,
        application_name: str = "orpheus",
        run_migrations: bool = True,
        connect_options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = PostgresDatabase(
            dsn,
            min_size=min_size,
            max_size=max_size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            application_name=application_name,
            run_migrations=run_migrations,
            connect_options=connect_options,
        )
        self.blobs: BlobStore = blobs
        self.catalog: ScoreCatalog = PostgresCatalog(self.db, blobs, clock)
        self.log: UpdateLog = PostgresUpdateLog(self.db, clock)
        self.snapshots: SnapshotStore = PostgresSnapshotStore(self.db, blobs, clock)
        self.versions: VersionStore = PostgresVersionStore(self.db, blobs, clock)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()
