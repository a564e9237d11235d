"""A :class:`~persistence.base.BlobStore` on a local folder (the embedded mode's blobs).

Writes are atomic and durable: temp file in the same folder, fsync, ``os.replace``,
fsync of the folder. Keys map to paths below the root and are validated first, so no
key can escape it. As on any file system, a key cannot be both a blob and a folder of
other blobs (``a`` and ``a/b``): that is refused with ``ValueError``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from persistence.base import check_blob_key
from persistence.errors import NotFound, StorageError

P = ParamSpec("P")
T = TypeVar("T")


class FileBlobStore:
    """Blobs as files under ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(key)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("blob data must be bytes")
        await _io(self._write, path, bytes(data))

    async def get(self, key: str) -> bytes:
        data = await _io(_read_file, self._path(key))
        if data is None:
            raise NotFound(f"no blob {key!r}")
        return data

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await _io(_unlink_file, path)

    async def delete_prefix(self, prefix: str) -> None:
        check_blob_key(prefix, prefix=True)
        folder, _, start = prefix.rpartition("/")
        await _io(self._delete_prefix, self.root / folder if folder else self.root, start)

    async def url_for(
        self, key: str, *, expires: int = 3600, filename: str | None = None
    ) -> str | None:
        self._path(key)
        return None

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_blob_key(key).split("/"))

    def _write(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
            if (
                blocking is not None
                and blocking.is_relative_to(self.root)
                and blocking != self.root
            ):
                raise ValueError(f"blob {path}: a parent of its key is a blob") from None
            raise
        if path.is_dir():
            raise ValueError(f"blob {path}: its key is a folder of other blobs")
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    @staticmethod
    def _delete_prefix(folder: Path, start: str) -> None:
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.name.startswith(".") or not entry.name.startswith(start):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _unlink_file(path: Path) -> None:
    if path.is_dir():
        return
    path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _io(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking file I/O in a thread; OS errors become :class:`StorageError`."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except OSError as exc:
        raise StorageError(f"blob store I/O failed: {exc}") from exc
