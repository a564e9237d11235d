"""Contract suite of :class:`~persistence.base.BlobStore`, over every blob store (the
``blobs`` fixture of conftest.py: memory, files, S3 on moto)."""

from __future__ import annotations

import pytest

from persistence.base import BlobStore
from persistence.errors import NotFound


async def test_blobs_put_get_delete(blobs: BlobStore) -> None:
    await blobs.put("a/b/c.bin", b"one")
    assert await blobs.get("a/b/c.bin") == b"one"
    await blobs.put("a/b/c.bin", b"two")
    assert await blobs.get("a/b/c.bin") == b"two"
    with pytest.raises(NotFound):
        await blobs.get("a/b/missing")
    with pytest.raises(NotFound):
        await blobs.get("a/b")  # a "folder" is not a blob
    await blobs.delete("a/b/c.bin")
    await blobs.delete("a/b/c.bin")
    with pytest.raises(NotFound):
        await blobs.get("a/b/c.bin")
    url = await blobs.url_for("a/x")  # presigned where the backend has direct URLs
    assert url is None or url.startswith(("http://", "https://"))


async def test_blobs_delete_prefix(blobs: BlobStore) -> None:
    keys = ["p/abc", "p/ab/x", "p/ab/y/z", "p/b", "q/ab/x"]
    for key in keys:
        await blobs.put(key, key.encode())
    await blobs.delete_prefix("p/ab/")
    assert await blobs.get("p/abc") == b"p/abc"
    for gone in ["p/ab/x", "p/ab/y/z"]:
        with pytest.raises(NotFound):
            await blobs.get(gone)
    await blobs.put("p/ab/x", b"again")
    await blobs.delete_prefix("p/a")  # a plain string prefix, as on S3
    for gone in ["p/ab/x", "p/abc"]:
        with pytest.raises(NotFound):
            await blobs.get(gone)
    assert await blobs.get("p/b") == b"p/b" and await blobs.get("q/ab/x") == b"q/ab/x"
    await blobs.delete_prefix("nothing/here/")


BAD_KEYS = [
    "",
    "/abs",
    "../up",
    "a/../../b",
    "a/./b",
    "a//b",
    "a/",
    "a\\b",
    ".hidden",
    "a/.tmp",
    "nul\x00",
    "sp ace",
    "é",
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_blobs_refuse_unsafe_keys(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        await blobs.put(key, b"x")
    with pytest.raises(ValueError):
        await blobs.get(key)
    with pytest.raises(ValueError):
        await blobs.delete(key)
    if key not in ("a/",):
        with pytest.raises(ValueError):
            await blobs.delete_prefix(key)
