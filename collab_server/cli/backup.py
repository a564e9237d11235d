"""``orpheus backup DEST`` and ``orpheus restore SRC``: a consistent copy of the
database and of the blobs it references, taken while the server runs.

A backup is a folder::

    manifest.json      format, time, database kind, sha256 of the database file, blob count
    orpheus.db         SQLite: the online backup API's copy (one consistent read)
    database.pgdump    PostgreSQL: ``pg_dump -Fc`` of one exported snapshot
    blobs/<key>        every snapshot and version state the database references
    jwt_secret         the generated token secret, if the data directory has one

Consistency: the database is copied first, in one read transaction; then exactly the
blobs that copy references are read from the blob store (files or S3). A blob written
before its row, and deleted only after its row is gone, is therefore present, unless a
compaction replaced a snapshot between the two steps: then the whole backup is taken
again (a few attempts). Restore writes the blobs first and the database last, into a
data directory (or database) that holds nothing yet, so the server never sees a row
without its blob. Stop the server before restoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click

from collab_server.settings import Settings
from persistence.base import BlobStore
from persistence.blobs import open_blob_store
from persistence.errors import NotFound

FORMAT = 1
SQLITE_FILE = "orpheus.db"
PG_FILE = "database.pgdump"
BLOBS = "blobs"
MANIFEST = "manifest.json"
SECRET = "jwt_secret"
_REFERENCED = "SELECT blob_key FROM snapshots UNION SELECT blob_key FROM versions"


class BackupError(click.ClickException):
    """A backup or restore that cannot go on; the message says why."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    created: str
    database: str  # "sqlite" or "postgresql"
    database_sha256: str
    blobs: int
    blob_bytes: int
    attempts: int = 1


# --- commands ----------------------------------------------------------------------------


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The data directory (default: ORPHEUS_DATA_DIR or ./data).",
)
def backup(dest: Path, data_dir: Path | None) -> None:
    """Copy the database and its blobs into DEST (a new folder), while the server runs."""
    from collab_server.cli.main import read_settings

    manifest = asyncio.run(take_backup(read_settings(data_dir=data_dir), dest))
    click.echo(
        f"backup in {dest}: {manifest.database}, {manifest.blobs} blobs "
        f"({manifest.blob_bytes:,} bytes)"
    )


@click.command()
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The data directory to restore into (default: ORPHEUS_DATA_DIR or ./data).",
)
def restore(src: Path, data_dir: Path | None) -> None:
    """Restore a backup made by ``orpheus backup`` into an empty data directory or
    database (stop the server first)."""
    from collab_server.cli.main import read_settings

    manifest = asyncio.run(restore_backup(src, read_settings(data_dir=data_dir)))
    click.echo(f"restored {manifest.database} and {manifest.blobs} blobs from {src}")


# --- backup ------------------------------------------------------------------------------


async def take_backup(settings: Settings, dest: Path, *, attempts: int = 5) -> Manifest:
    """Write a backup of ``settings``' database and blobs into the new folder ``dest``."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: give a new folder")
    kind = _kind(settings.effective_database_url)
    blobs = open_blob_store(settings.effective_blob_url)
    staging = dest.with_name(dest.name + ".partial")
    try:
        for attempt in range(1, attempts + 1):
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            if kind == "sqlite":
                database = staging / SQLITE_FILE
                await asyncio.to_thread(_sqlite_copy, _sqlite_path(settings), database)
                keys = await asyncio.to_thread(_sqlite_keys, database)
            else:
                database = staging / PG_FILE
                keys = await _pg_dump(settings.effective_database_url, database)
            try:
                count, size = await _copy_blobs(blobs, keys, staging / BLOBS)
            except NotFound:  # a compaction replaced a snapshot meanwhile: again
                continue
            secret = Path(settings.data_dir) / SECRET
            if secret.exists():
                shutil.copy2(secret, staging / SECRET)
            manifest = Manifest(
                FORMAT,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                kind,
                _sha256(database),
                count,
                size,
                attempt,
            )
            (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1) + "\n")
            _fsync_tree(staging)
            if dest.exists():
                dest.rmdir()
            staging.rename(dest)
            return manifest
        raise BackupError(f"the blobs kept changing under {attempts} attempts; try again")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(Exception):
            await _close(blobs)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: one consistent copy even while the server writes."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def _sqlite_keys(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        return [row[0] for row in conn.execute(_REFERENCED)]
    finally:
        conn.close()


async def _pg_dump(url: str, target: Path) -> list[str]:
    """``pg_dump`` of one exported snapshot, and the blob keys read in that snapshot."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            keys = [row[0] for row in await conn.fetch(_REFERENCED)]
            done = await asyncio.to_thread(
                subprocess.run,
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(target),
                    "--dbname",
                    url,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
    finally:
        await conn.close()
    return keys


async def _copy_blobs(blobs: BlobStore, keys: list[str], folder: Path) -> tuple[int, int]:
    size = 0
    for key in keys:
        path = _blob_path(folder, key)
        data = await blobs.get(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        size += len(data)
    return len(keys), size


# --- restore -----------------------------------------------------------------------------


async def restore_backup(src: Path, settings: Settings) -> Manifest:
    """Restore ``src`` into ``settings``' (empty) database and blob store."""
    try:
        raw = json.loads((src / MANIFEST).read_text())
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{src} is not an Orpheus backup: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not {FORMAT}")
    kind = _kind(settings.effective_database_url)
    if kind != manifest.database:
        raise BackupError(
            f"this is a {manifest.database} backup; the settings name a {kind} database"
        )
    database = src / (SQLITE_FILE if kind == "sqlite" else PG_FILE)
    if _sha256(database) != manifest.database_sha256:
        raise BackupError(f"{database.name} does not match the manifest: damaged backup")
    if kind == "sqlite" and _sqlite_path(settings).exists():
        raise BackupError(
            f"{_sqlite_path(settings)} exists: restore into an empty data "
            "directory (move the old one aside first)"
        )
    if kind == "postgresql":
        await _require_empty_postgres(settings.effective_database_url)
    blobs = open_blob_store(settings.effective_blob_url)
    try:
        folder = src / BLOBS
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
        for path in files:  # blobs first: no row is ever without its blob
            await blobs.put(path.relative_to(folder).as_posix(), path.read_bytes())
    finally:
        with contextlib.suppress(Exception):
            await _close(blobs)
    secret = Path(settings.data_dir) / SECRET
    if (src / SECRET).exists() and not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / SECRET, secret)
        secret.chmod(0o600)
    if kind == "sqlite":
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".restoring")
        shutil.copyfile(database, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        partial.rename(target)
    else:
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                settings.effective_database_url,
                str(database),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[:500]}")
    return manifest


async def _require_empty_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    if tables:
        raise BackupError("the target database has tables: restore into an empty database")


# --- helpers -----------------------------------------------------------------------------


def _kind(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("postgresql:", "postgres:")):
        return "postgresql"
    raise BackupError(f"backups cover SQLite and PostgreSQL, not {url.split(':', 1)[0]}")


def _sqlite_path(settings: Settings) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    return Path(unquote(urlsplit(settings.effective_database_url).path[1:]))


def _blob_path(folder: Path, key: str) -> Path:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BackupError(f"refusing an unsafe blob key {key!r}")
    return folder.joinpath(*parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


async def _close(blobs: Any) -> None:
    close = getattr(blobs, "close", None)
    if close is not None:
        result = close()
        if asyncio.iscoroutine(result):
            await result
