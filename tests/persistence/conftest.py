"""Backends for the contract suite: add one entry per backend to ``BACKENDS`` (and to
``BLOB_BACKENDS`` for blob stores); every contract test then runs against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from persistence.base import BlobStore, Storage
from persistence.files import FileBlobStore
from persistence.memory import MemoryBlobStore, MemoryStorage
from persistence.sqlite import SqliteStorage


async def _memory(tmp: Path) -> Storage:
    return MemoryStorage()


async def _sqlite(tmp: Path) -> Storage:
    storage = SqliteStorage(tmp / "orpheus.db", FileBlobStore(tmp / "blobs"))
    await storage.open()
    return storage


BACKENDS: dict[str, Callable[[Path], Awaitable[Storage]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}

BLOB_BACKENDS: dict[str, Callable[[Path], Awaitable[BlobStore]]] = {
    "memory": lambda tmp: _ready(MemoryBlobStore()),
    "files": lambda tmp: _ready(FileBlobStore(tmp / "blobs")),
}


async def _ready(blobs: BlobStore) -> BlobStore:
    return blobs


@pytest.fixture(params=list(BACKENDS))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store = await BACKENDS[request.param](tmp_path)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=list(BLOB_BACKENDS))
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return await BLOB_BACKENDS[request.param](tmp_path)
