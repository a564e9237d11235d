"""Backends for the contract suite: add one entry per backend to ``BACKENDS`` (and to
``BLOB_BACKENDS`` for blob stores); every contract test then runs against it.

Each entry builds a fresh, empty store for one test from the test's ``request`` (to
reach service fixtures lazily, so memory-only runs need no server) and ``tmp_path``.
``postgres`` is the production pairing: PostgreSQL rows, S3 (moto) blobs.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from persistence.base import BlobStore, Storage
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore, MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.s3 import S3BlobStore
from persistence.drivers.sqlite import SqliteStorage
from tests.services import (  # noqa: F401  (fixtures, used through getfixturevalue)
    S3Server,
    postgres_dsn,
    reset_postgres,
    s3_server,
    s3_test_bucket,
)

Factory = Callable[[pytest.FixtureRequest, Path], Awaitable[Storage]]
BlobFactory = Callable[[pytest.FixtureRequest, Path], Awaitable[BlobStore]]


async def _memory(request: pytest.FixtureRequest, tmp: Path) -> Storage:
    return MemoryStorage()


async def _sqlite(request: pytest.FixtureRequest, tmp: Path) -> Storage:
    storage = SqliteStorage(tmp / "orpheus.db", FileBlobStore(tmp / "blobs"))
    await storage.open()
    return storage


async def _postgres(request: pytest.FixtureRequest, tmp: Path) -> Storage:
    dsn: str = request.getfixturevalue("postgres_dsn")
    storage = PostgresStorage(dsn, await _s3(request, tmp), min_size=1, max_size=4,
                              application_name="orpheus-contract")
    await storage.open()  # migrates a fresh database
    await reset_postgres(dsn)
    return storage


async def _s3(request: pytest.FixtureRequest, tmp: Path) -> BlobStore:
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_test_bucket")
    return S3BlobStore(bucket, f"test-{secrets.token_hex(6)}", client=server.client())


async def _memory_blobs(request: pytest.FixtureRequest, tmp: Path) -> BlobStore:
    return MemoryBlobStore()


async def _file_blobs(request: pytest.FixtureRequest, tmp: Path) -> BlobStore:
    return FileBlobStore(tmp / "blobs")


BACKENDS: dict[str, Factory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}

BLOB_BACKENDS: dict[str, BlobFactory] = {
    "memory": _memory_blobs,
    "files": _file_blobs,
    "s3": _s3,
}

SERVICE_BACKENDS = {"postgres", "s3"}


def _params(names: list[str]) -> list[object]:
    return [pytest.param(name, marks=pytest.mark.services) if name in SERVICE_BACKENDS
            else name for name in names]


@pytest.fixture(params=_params(list(BACKENDS)))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store = await BACKENDS[request.param](request, tmp_path)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=_params(list(BLOB_BACKENDS)))
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return await BLOB_BACKENDS[request.param](request, tmp_path)
