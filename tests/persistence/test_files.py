"""FileBlobStore specifics: layout on disk, atomic writes, I/O failures."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from persistence.drivers.files import FileBlobStore
from persistence.errors import StorageError


async def test_blobs_live_under_the_root_without_leftovers(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "root")
    await blobs.put("scores/s1/versions/v_1", b"data")
    assert (tmp_path / "root/scores/s1/versions/v_1").read_bytes() == b"data"
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert files == [tmp_path / "root/scores/s1/versions/v_1"]
    assert not list(tmp_path.glob("*.tmp"))


async def test_concurrent_writes_never_leave_a_partial_blob(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    payloads = [bytes([i]) * (1000 * (i + 1)) for i in range(12)]

    async def read_while_writing() -> set[bytes]:
        seen = set()
        for _ in range(30):
            with contextlib.suppress(StorageError):  # NotFound before the first write
                seen.add(await blobs.get("k"))
            await asyncio.sleep(0)
        return seen

    reader = asyncio.ensure_future(read_while_writing())
    await asyncio.gather(*(blobs.put("k", p) for p in payloads))
    assert await reader <= set(payloads)
    assert await blobs.get("k") in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


async def test_a_key_cannot_be_a_blob_and_a_folder(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    await blobs.put("a/b", b"x")
    with pytest.raises(ValueError):
        await blobs.put("a/b/c", b"y")
    with pytest.raises(ValueError):
        await blobs.put("a", b"y")
    assert await blobs.get("a/b") == b"x"


async def test_io_failures_raise_storage_error(tmp_path: Path) -> None:
    (tmp_path / "root").write_text("a file where the folder should be")
    blobs = FileBlobStore(tmp_path / "root")
    with pytest.raises(StorageError):
        await blobs.put("k", b"x")
