"""Pick a storage backend from URLs: the one place that maps schemes to implementations.

=============================  ======================================================
``memory://``                  everything in memory (blobs too, unless ``blob_url``)
``sqlite:///data/orpheus.db``  SQLite file, relative path (SQLAlchemy style);
``sqlite:////srv/orpheus.db``  absolute path; ``?synchronous=NORMAL`` trades power-loss
                               durability for speed (default ``FULL``)
``postgresql://u:p@host/db``   PostgreSQL (``postgres://`` too), migrated on open;
                               options ``min_size``, ``max_size`` (pool, default 1 and
                               10), ``connect_timeout``, ``command_timeout`` (seconds);
                               other query parameters go to asyncpg (``sslmode`` ...).
                               Needs a ``blob_url``.
``file:///srv/blobs``          blobs in a folder (``file:relative/dir`` also works);
                               default for SQLite: ``<db folder>/<db name>-blobs``
``s3://bucket/some/prefix``    blobs in an S3 bucket under a prefix; options
                               ``endpoint_url``, ``region``, ``path_style`` in the query
                               or as keyword arguments; credentials
                               (``access_key_id``, ``secret_access_key``,
                               ``session_token``) only as keyword arguments, or left
                               to boto3's own chain (environment, profile, IAM role)
``memory://`` (blob_url)       blobs in memory
=============================  ======================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

from persistence.base import BlobStore, Storage
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore, MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.s3 import S3BlobStore
from persistence.drivers.sqlite import SqliteStorage


async def open_storage(database_url: str, blob_url: str | None = None,
                       **blob_options: Any) -> Storage:
    """Open the storage named by ``database_url`` (bytes in ``blob_url`` if given;
    ``blob_options`` are the blob store's keyword options, e.g. S3 credentials).

    ``ValueError`` for an unknown scheme or a malformed URL; :class:`StorageError` if
    the backend cannot be reached.
    """
    url = _split(database_url, "database")
    opener = _DATABASES.get(url.scheme)
    if opener is None:
        raise ValueError(f"unsupported database URL scheme {url.scheme!r} in "
                         f"{_redact(database_url)!r}; supported: {_names(_DATABASES)}")
    if blob_url is None and blob_options:
        raise ValueError("blob options given without a blob_url")
    blobs = open_blob_store(blob_url, **blob_options) if blob_url is not None else None
    return await opener(url, blobs)


def open_blob_store(blob_url: str, **options: Any) -> BlobStore:
    """The blob store named by ``blob_url``; ``options`` are keyword options of the
    store (only ``s3://`` has any)."""
    url = _split(blob_url, "blob")
    opener = _BLOBS.get(url.scheme)
    if opener is None:
        raise ValueError(f"unsupported blob URL scheme {url.scheme!r} in "
                         f"{_redact(blob_url)!r}; supported: {_names(_BLOBS)}")
    if options and url.scheme != "s3":
        raise ValueError(f"{url.scheme}:// blob stores take no options")
    return opener(url, options)


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
    return await _opened(SqliteStorage(path, blobs, synchronous="FULL" if synchronous == "FULL"
                                       else "NORMAL"))


_POSTGRES_INTS = {"min_size", "max_size"}
_POSTGRES_FLOATS = {"connect_timeout", "command_timeout"}


async def _open_postgres(url: SplitResult, blobs: BlobStore | None) -> Storage:
    if blobs is None:
        raise ValueError("PostgreSQL storage needs a blob_url for snapshot and version "
                         "bytes (s3://bucket/prefix or file:///dir)")
    options: dict[str, Any] = {}
    rest = []
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        try:
            if name in _POSTGRES_INTS:
                options[name] = int(value)
            elif name in _POSTGRES_FLOATS:
                options[name] = float(value)
            else:
                rest.append((name, value))
        except ValueError:
            raise ValueError(f"PostgreSQL URL option {name} must be a number, "
                             f"not {value!r}") from None
    dsn = url._replace(query=urlencode(rest)).geturl()
    return await _opened(PostgresStorage(dsn, blobs, **options))


async def _opened(storage: SqliteStorage | PostgresStorage) -> Storage:
    """Open ``storage``; if that fails, release what it acquired and re-raise."""
    try:
        await storage.open()
    except BaseException:
        await storage.close()
        raise
    return storage


def _file_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if url.netloc not in ("", "localhost") or not url.path or url.query:
        raise ValueError("blob URL must look like file:///absolute/dir or file:relative/dir")
    return FileBlobStore(unquote(url.path))


def _memory_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if url.netloc or url.path or url.query:
        raise ValueError("memory:// takes no host, path or options")
    return MemoryBlobStore()


_S3_URL_OPTIONS = {"endpoint_url", "region", "path_style"}
_S3_SECRETS = {"access_key_id", "secret_access_key", "session_token"}
_S3_KEYWORDS = _S3_URL_OPTIONS | _S3_SECRETS | {"connect_timeout", "read_timeout",
                                                 "max_attempts"}


def _s3_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if not url.hostname or "@" in url.netloc or url.port is not None:
        raise ValueError("S3 blob URL must look like s3://bucket/optional/prefix; pass "
                         "credentials as keyword arguments, not in the URL")
    settings: dict[str, Any] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        if name in _S3_SECRETS:
            raise ValueError(f"pass {name} as a keyword argument, not in the URL")
        if name not in _S3_URL_OPTIONS:
            raise ValueError(f"unknown S3 URL option {name!r}; known: "
                             f"{', '.join(sorted(_S3_URL_OPTIONS))}")
        if name == "path_style":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError("path_style must be true or false")
            settings[name] = value.lower() in ("true", "1")
        else:
            settings[name] = value
    unknown = set(options) - _S3_KEYWORDS
    if unknown:
        raise ValueError(f"unknown S3 option(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(_S3_KEYWORDS))}")
    twice = set(options) & set(settings)
    if twice:
        raise ValueError(f"S3 option(s) {', '.join(sorted(twice))} given both in the URL "
                         f"and as keyword arguments")
    return S3BlobStore(url.netloc, unquote(url.path), **settings, **options)


_DATABASES: dict[str, Callable[[SplitResult, BlobStore | None], Awaitable[Storage]]] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}

_BLOBS: dict[str, Callable[[SplitResult, Mapping[str, Any]], BlobStore]] = {
    "file": _file_blobs,
    "memory": _memory_blobs,
    "s3": _s3_blobs,
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
