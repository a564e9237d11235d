"""open_backend: URL schemes, defaults, options, clear errors, and one connection
shared by every store of a backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from persistence.backend import Backend, BackendConfig, migrate_backend
from persistence.backend import open_backend as _open_backend
from persistence.base import ScoreRecord, Storage
from persistence.blobs import open_blob_store
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore, MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage
from persistence.errors import StorageError
from persistence.results.base import DocVersion


async def open_backend(database_url: str, blob_url: str | None = None) -> Backend:
    return await _open_backend(BackendConfig(database_url, blob_url))


async def open_storage(database_url: str, blob_url: str | None = None) -> Storage:
    return (await open_backend(database_url, blob_url)).storage


async def test_memory_url() -> None:
    backend = await open_backend("memory://")
    storage = backend.storage
    assert isinstance(storage, MemoryStorage) and isinstance(storage.blobs, MemoryBlobStore)
    assert backend.embedded and backend.blobs is storage.blobs
    await storage.catalog.create_score(ScoreRecord("s"))
    assert (await storage.catalog.get_score("s")).id == "s"
    await backend.close()


async def test_memory_with_file_blobs(tmp_path: Path) -> None:
    storage = await open_storage("memory://", f"file://{tmp_path}/blobs")
    assert isinstance(storage.blobs, FileBlobStore) and storage.blobs.root == tmp_path / "blobs"


async def test_sqlite_stores_share_one_connection(tmp_path: Path) -> None:
    backend = await open_backend(f"sqlite:///{tmp_path}/o.db")
    try:
        assert isinstance(backend.storage, SqliteStorage) and backend.embedded
        db = backend.storage.db
        await backend.storage.catalog.create_score(ScoreRecord("s"))
        before = db.transactions
        await backend.results.save("s", "all", DocVersion(1, 1), "{}")
        await backend.accounts.count_users()
        assert db.transactions == before + 1  # the result's write, on the same connection
    finally:
        await backend.close()


@pytest.mark.services
async def test_postgres_stores_share_one_pool(postgres_dsn: str, tmp_path: Path) -> None:
    backend = await open_backend(postgres_dsn, f"file://{tmp_path}/blobs")
    try:
        assert isinstance(backend.storage, PostgresStorage) and not backend.embedded
        db = backend.storage.db
        await backend.storage.catalog.create_score(ScoreRecord("shared-pool"))
        await backend.results.save("shared-pool", "all", DocVersion(1, 1), "{}")
        assert backend.results.db is db  # type: ignore[attr-defined]
        assert backend.accounts._db is db  # type: ignore[attr-defined]
        assert backend.conversations.db is db  # type: ignore[attr-defined]
        await backend.storage.catalog.delete_score("shared-pool")
    finally:
        await backend.close()


def test_config_repr_hides_secrets() -> None:
    config = BackendConfig(
        "postgresql://orpheus:hunter2@db/orpheus", "s3://b/p", {"secret_access_key": "hunter3"}
    )
    assert "hunter2" not in repr(config) and "hunter3" not in repr(config)


async def test_sqlite_relative_path_and_default_blob_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = await open_storage("sqlite:///data/orpheus.db")
    try:
        assert isinstance(storage, SqliteStorage)
        assert (tmp_path / "data" / "orpheus.db").is_file()
        assert isinstance(storage.blobs, FileBlobStore)
        assert storage.blobs.root == tmp_path / "data" / "orpheus-blobs"
        assert storage.db.synchronous == "FULL"
    finally:
        await storage.close()


async def test_sqlite_absolute_path_options_and_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db?synchronous=normal&reserve_wal=false"
    assert url.startswith("sqlite:////")  # "sqlite:////abs/x.db"
    storage = await open_storage(url, f"file://{tmp_path}/b")
    assert isinstance(storage, SqliteStorage) and storage.db.synchronous == "NORMAL"
    assert not storage.db.reserve_wal
    await storage.catalog.create_score(ScoreRecord("s", "kept"))
    await storage.log.append("s", 1, [b"u"])
    await storage.close()
    reopened = await open_storage(url, f"file://{tmp_path}/b")  # schema creation is idempotent
    try:
        assert (await reopened.catalog.get_score("s")).title == "kept"
        assert [e.data for e in await reopened.log.read("s", 1)] == [b"u"]
    finally:
        await reopened.close()
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://orpheus:secret@db.example/orpheus",
        "mysql://x/y",
        "no-scheme",
        "",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite:///x.db?synchronous=OFF",
        "sqlite:///x.db?reserve_wal=maybe",
        "sqlite:///x.db?cache=shared",
        "memory://host",
        "memory:///path",
    ],
)
async def test_bad_database_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError) as info:
        await open_storage(url)
    assert "secret" not in str(info.value)
    if url.startswith("mysql"):
        assert "supported: memory://, sqlite://, postgresql://" in str(info.value)
    if url.startswith("postgresql"):
        assert "blob_url" in str(info.value)  # PostgreSQL keeps its bytes elsewhere


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3://key:secret@bucket/p", "file://otherhost/x", "file:", "memory://x", "nothing"],
)
def test_bad_blob_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(url)


def test_file_blob_urls() -> None:
    assert open_blob_store("file:///srv/blobs").root == Path("/srv/blobs")  # type: ignore[attr-defined]
    assert open_blob_store("file://localhost/srv/b").root == Path("/srv/b")  # type: ignore[attr-defined]
    relative = open_blob_store("file:rel/blobs")
    assert relative.root == Path("rel/blobs").absolute()  # type: ignore[attr-defined]


async def test_unusable_sqlite_files_raise_storage_error(tmp_path: Path) -> None:
    (tmp_path / "folder.db").mkdir()
    with pytest.raises(StorageError):
        await open_storage(f"sqlite:///{tmp_path}/folder.db")
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="newer"):
        await open_storage(f"sqlite:///{newer}")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError):
        await open_storage(f"sqlite:///{tmp_path}/junk.db")


async def test_migrate_backend_names_what_it_applied(tmp_path: Path) -> None:
    assert await migrate_backend(BackendConfig("memory://")) is None
    assert await migrate_backend(BackendConfig(f"sqlite:///{tmp_path}/x.db")) is None
    with pytest.raises(ValueError, match="supported"):
        await migrate_backend(BackendConfig("mysql://x/y"))


@pytest.mark.services
async def test_migrate_backend_on_postgres_ignores_pool_options(postgres_dsn: str) -> None:
    url = f"{postgres_dsn}{'&' if '?' in postgres_dsn else '?'}min_size=1&max_size=2"
    await migrate_backend(BackendConfig(url))  # whatever was pending
    assert await migrate_backend(BackendConfig(url)) == []
