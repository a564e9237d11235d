"""Apply the SQL migrations of ``persistence/drivers/migrations`` to a PostgreSQL database.

Files are named ``NNNN_name.sql`` and applied in number order, each in its own
transaction together with its row in ``schema_migrations`` (version, name, SHA-256 of
the file, time). The whole run holds a session advisory lock, so instances starting at
once apply each migration exactly once: the others wait for the lock, then find
nothing left to do. Tables go to the first schema of the connection's ``search_path``.

:class:`MigrationError` refuses a database whose applied migrations do not match the
files (one was edited after it ran) or that holds migrations this code does not know
(the database is newer than the code).

Command line: ``python -m persistence.drivers.migrate postgresql://user@host/db``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from os import PathLike
from pathlib import Path

import asyncpg

from persistence.errors import StorageError

#: Key of the advisory lock held while migrating (any constant unique to Orpheus).
LOCK_KEY = 0x6F72_7068_6575_73  # "orpheus"

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


class MigrationError(StorageError):
    """A migration failed, or the database's history does not match the files."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # the file name
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Traversable | str | PathLike[str] | None = None) -> list[Migration]:
    """The ``NNNN_name.sql`` files of ``folder`` (default: the bundled ones) in order.

    ``ValueError`` for another ``.sql`` file name or two files with one number."""
    root: Traversable = (
        resources.files("persistence.drivers") / "migrations"
        if folder is None
        else folder
        if isinstance(folder, Traversable)
        else Path(folder)
    )
    migrations: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise ValueError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise ValueError(
                f"migrations {migrations[version].name!r} and {entry.name!r} share number {version}"
            )
        sql = entry.read_text(encoding="utf-8").replace("\r\n", "\n")
        migrations[version] = Migration(version, entry.name, sql)
    return [migrations[v] for v in sorted(migrations)]


async def migrate(
    conn: asyncpg.Connection, migrations: Sequence[Migration] | None = None
) -> list[Migration]:
    """Apply the pending ``migrations`` (default: the bundled ones) on ``conn``; return
    those applied now. Safe to run from several processes at once."""
    wanted = list(load_migrations() if migrations is None else migrations)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    except _DRIVER_ERRORS as exc:
        raise MigrationError(f"cannot take the migration lock: {exc}") from exc
    try:
        return await _apply(conn, wanted)
    finally:
        if not conn.is_closed():
            with contextlib.suppress(*_DRIVER_ERRORS):  # else the lock goes with conn
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def _apply(conn: asyncpg.Connection, wanted: list[Migration]) -> list[Migration]:
    try:
        await conn.execute(_TRACKING_TABLE)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    except _DRIVER_ERRORS as exc:
        raise MigrationError(f"cannot read schema_migrations: {exc}") from exc
    applied = {row["version"]: row for row in rows}
    known = {m.version for m in wanted}
    unknown = sorted(v for v in applied if v not in known)
    if unknown:
        names = ", ".join(applied[v]["name"] for v in unknown)
        raise MigrationError(
            f"the database has migrations this code does not know "
            f"({names}): it is newer than the code"
        )
    for migration in wanted:
        row = applied.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(
                f"migration {migration.name} changed after it was applied "
                f"(as {row['name']}); add a new migration instead"
            )
    done = []
    for migration in wanted:
        if migration.version in applied:
            continue
        try:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        except _DRIVER_ERRORS as exc:
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        done.append(migration)
    return done


async def migrate_database(dsn: str) -> list[Migration]:
    """Connect to ``dsn`` and apply every pending migration; returns those applied."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def _main(dsn: str) -> None:
    done = await migrate_database(dsn)
    print("\n".join(f"applied {m.name}" for m in done) or "nothing to apply")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m persistence.drivers.migrate postgresql://user@host/db")
    asyncio.run(_main(sys.argv[1]))
