"""Pick a storage backend from URLs: the one place that maps schemes to implementations.

=============================  ======================================================
``memory://``                  everything in memory (blobs too, unless ``blob_url``)
``sqlite:///data/orpheus.db``  SQLite file, relative path (SQLAlchemy style);
``sqlite:////srv/orpheus.db``  absolute path; ``?synchronous=NORMAL`` trades power-loss
                               durability for speed (default ``FULL``)
``file:///srv/blobs``          blobs in a folder (``file:relative/dir`` also works);
                               default for SQLite: ``<db folder>/<db name>-blobs``
``memory://`` (blob_url)       blobs in memory
=============================  ======================================================

PostgreSQL (``postgresql://``) and S3 (``s3://bucket/prefix``) join the tables later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from persistence.base import BlobStore, Storage
from persistence.files import FileBlobStore
from persistence.memory import MemoryBlobStore, MemoryStorage
from persistence.sqlite import SqliteStorage


async def open_storage(database_url: str, blob_url: str | None = None) -> Storage:
    """Open the storage named by ``database_url`` (bytes in ``blob_url`` if given).

    ``ValueError`` for an unknown scheme or a malformed URL; :class:`StorageError` if
    the backend cannot be reached.
    """
    url = _split(database_url, "database")
    opener = _DATABASES.get(url.scheme)
    if opener is None:
        raise ValueError(f"unsupported database URL scheme {url.scheme!r} in "
                         f"{_redact(database_url)!r}; supported: {_names(_DATABASES)}")
    blobs = open_blob_store(blob_url) if blob_url is not None else None
    return await opener(url, blobs)


def open_blob_store(blob_url: str) -> BlobStore:
    """The blob store named by ``blob_url``."""
    url = _split(blob_url, "blob")
    opener = _BLOBS.get(url.scheme)
    if opener is None:
        raise ValueError(f"unsupported blob URL scheme {url.scheme!r} in {blob_url!r}; "
                         f"supported: {_names(_BLOBS)}")
    return opener(url)


async def _open_memory(url: SplitResult, blobs: BlobStore | None) -> Storage:
    if url.netloc or url.path or url.query:
        raise ValueError("memory:// takes no host, path or options")
    return MemoryStorage(blobs)


async def _open_sqlite(url: SplitResult, blobs: BlobStore | None) -> Storage:
    if url.netloc or not url.path.startswith("/") or len(url.path) < 2:
        raise ValueError("SQLite URL must look like sqlite:///relative/file.db or "
                         "sqlite:////absolute/file.db")
    path = Path(unquote(url.path[1:]))
    options = dict(parse_qsl(url.query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "FULL").upper()
    if options:
        raise ValueError(f"unknown SQLite URL option(s): {', '.join(sorted(options))}")
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError("synchronous must be NORMAL or FULL")
    if blobs is None:
        blobs = FileBlobStore(path.with_name(f"{path.stem}-blobs"))
    storage = SqliteStorage(path, blobs, synchronous="FULL" if synchronous == "FULL"
                            else "NORMAL")
    try:
        await storage.open()
    except BaseException:
        await storage.close()
        raise
    return storage


def _file_blobs(url: SplitResult) -> BlobStore:
    if url.netloc not in ("", "localhost") or not url.path or url.query:
        raise ValueError("blob URL must look like file:///absolute/dir or file:relative/dir")
    return FileBlobStore(unquote(url.path))


def _memory_blobs(url: SplitResult) -> BlobStore:
    if url.netloc or url.path or url.query:
        raise ValueError("memory:// takes no host, path or options")
    return MemoryBlobStore()


_DATABASES: dict[str, Callable[[SplitResult, BlobStore | None], Awaitable[Storage]]] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
}

_BLOBS: dict[str, Callable[[SplitResult], BlobStore]] = {
    "file": _file_blobs,
    "memory": _memory_blobs,
}


def _split(url: str, what: str) -> SplitResult:
    if not isinstance(url, str) or ":" not in url:
        raise ValueError(f"{what} URL {url!r} has no scheme")
    return urlsplit(url)


def _names(table: Mapping[str, object]) -> str:
    return ", ".join(f"{scheme}://" for scheme in table)


def _redact(url: str) -> str:
    """Hide a password in a URL before it goes into an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
