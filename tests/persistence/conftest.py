"""Backends for the contract suites: add one entry to ``BACKENDS`` (and to
``BLOB_BACKENDS`` for blob stores); every contract test then runs against it.

``BACKENDS`` entries build a fresh, empty :class:`~persistence.backend.Backend` through
:func:`~persistence.backend.open_backend`, as the server does, from the test's
``request`` (to reach service fixtures lazily, so memory-only runs need no server) and
``tmp_path``. ``postgres`` is the production pairing: PostgreSQL rows, S3 (moto) blobs.
Each protocol has one suite over the ``backend`` fixture (or a part of it): documents
(``storage``, test_storage.py), blobs (``blobs``, test_blobs.py), accounts,
results and conversations. Service backends are marked ``services``: when the service
is down they fail, never skip.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from persistence.backend import Backend, BackendConfig, open_backend
from persistence.base import BlobStore, Storage
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore
from persistence.drivers.s3 import S3BlobStore
from tests.services import (  # noqa: F401  (fixtures, used through getfixturevalue)
    S3Server,
    postgres_dsn,
    reset_postgres,
    s3_server,
    s3_test_bucket,
)

Factory = Callable[[pytest.FixtureRequest, Path], Awaitable[Backend]]
BlobFactory = Callable[[pytest.FixtureRequest, Path], Awaitable[BlobStore]]


async def _memory(request: pytest.FixtureRequest, tmp: Path) -> Backend:
    return await open_backend(BackendConfig("memory://"))


async def _sqlite(request: pytest.FixtureRequest, tmp: Path) -> Backend:
    return await open_backend(
        BackendConfig(f"sqlite:///{tmp / 'orpheus.db'}", f"file://{tmp / 'blobs'}")
    )


async def _postgres(request: pytest.FixtureRequest, tmp: Path) -> Backend:
    dsn: str = request.getfixturevalue("postgres_dsn")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_test_bucket")
    backend = await open_backend(
        BackendConfig(
            f"{dsn}{'&' if '?' in dsn else '?'}max_size=4",
            f"s3://{bucket}/test-{secrets.token_hex(6)}",
            server.options(),
            application_name="orpheus-contract",
        )
    )  # migrates a fresh database
    await reset_postgres(dsn)
    return backend


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
    return [
        pytest.param(name, marks=pytest.mark.services) if name in SERVICE_BACKENDS else name
        for name in names
    ]


@pytest.fixture(params=_params(list(BACKENDS)))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh, empty backend of each kind."""
    opened = await BACKENDS[request.param](request, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def storage(backend: Backend) -> Storage:
    return backend.storage


@pytest.fixture(params=_params(list(BLOB_BACKENDS)))
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return await BLOB_BACKENDS[request.param](request, tmp_path)
