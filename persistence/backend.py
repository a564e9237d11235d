"""Open a backend from a :class:`BackendConfig`: the one place that maps database URL
schemes to implementations. The server, the worker and the CLI all call
:func:`open_backend`; everything else receives the :class:`Backend` (or a part of it).

=============================  ======================================================
``memory://``                  everything in memory (blobs too, unless ``blob_url``)
``sqlite:///data/orpheus.db``  SQLite file, relative path (SQLAlchemy style);
``sqlite:////srv/orpheus.db``  absolute path; ``?synchronous=NORMAL`` trades power-loss
                               durability for speed (default ``FULL``); ``inline_ms``
                               (default 0: off; 5 is a good value): a write is
                               committed on the event loop's thread while the
                               database is idle and writes take less than this;
                               ``reserve_wal=false``: the write-ahead log is not
                               grown to its checkpoint size on open (``SqliteDatabase``)
``postgresql://u:p@host/db``   PostgreSQL (``postgres://`` too), migrated on open;
                               options ``min_size``, ``max_size`` (pool, default 1 and
                               10), ``connect_timeout``, ``command_timeout`` (seconds);
                               other query parameters go to asyncpg (``sslmode`` ...).
                               Needs a ``blob_url``.
=============================  ======================================================

Blob URLs are listed in :mod:`persistence.blobs`; SQLite's default is the folder
``<db folder>/<db name>-blobs``. Every part of a backend lives in the same database and
shares its connection (SQLite) or pool (PostgreSQL): documents, accounts, analysis
results, conversations, search indexes and webhooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode

from persistence.accounts.base import AccountStore
from persistence.accounts.memory import MemoryAccountStore
from persistence.accounts.postgres import PostgresAccountStore
from persistence.accounts.sqlite import SqliteAccountStore
from persistence.base import BlobStore, Storage
from persistence.blobs import open_blob_store, schemes, split_url
from persistence.config import BackendConfig, redact
from persistence.conversations.base import ConversationStore
from persistence.conversations.memory import MemoryConversationStore
from persistence.conversations.postgres import PostgresConversationStore
from persistence.conversations.sqlite import SqliteConversationStore
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryStorage
from persistence.drivers.migrate import migrate_database
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage
from persistence.results.base import ResultStore
from persistence.results.memory import MemoryResultStore
from persistence.results.postgres import PostgresResultStore
from persistence.results.sqlite import SqliteResultStore
from persistence.search.base import SearchIndex
from persistence.search.memory import MemorySearchIndex
from persistence.search.postgres import PostgresSearchIndex
from persistence.search.sqlite import SqliteSearchIndex
from persistence.vectors.base import VectorStore
from persistence.vectors.memory import MemoryVectorStore
from persistence.vectors.postgres import PostgresVectorStore
from persistence.vectors.sqlite import SqliteVectorStore
from persistence.webhooks.base import WebhookStore
from persistence.webhooks.memory import MemoryWebhookStore
from persistence.webhooks.postgres import PostgresWebhookStore
from persistence.webhooks.sqlite import SqliteWebhookStore


@dataclass(frozen=True, slots=True)
class Backend:
    """Every store of one backend, in one database.

    ``embedded``: the data stays on this machine (a SQLite file or memory), so files
    beside it (a generated JWT secret) reach every process that uses it, and an
    in-process cache sees every change; ``False`` for a database several machines share.
    """

    storage: Storage
    accounts: AccountStore
    results: ResultStore
    conversations: ConversationStore
    embedded: bool
    search: SearchIndex  # melodic and text search (persistence/search)
    vectors: VectorStore  # semantic search (persistence/vectors)
    webhooks: WebhookStore  # subscriptions, delivery outbox, notifications

    @property
    def blobs(self) -> BlobStore:
        return self.storage.blobs

    async def close(self) -> None:
        """Release the connection or pool (the stores share it)."""
        await self.results.close()
        await self.accounts.close()
        await self.storage.close()


async def open_backend(config: BackendConfig) -> Backend:
    """Open the backend named by ``config``, migrated and ready.

    ``ValueError`` for an unknown scheme or a malformed URL;
    :class:`~persistence.errors.StorageError` if the database cannot be reached.
    """
    url = split_url(config.database_url, "database")
    opener = _DATABASES.get(url.scheme)
    if opener is None:
        raise ValueError(
            f"unsupported database URL scheme {url.scheme!r} in "
            f"{redact(config.database_url)!r}; supported: {schemes(_DATABASES)}"
        )
    if config.blob_url is None and config.blob_options:
        raise ValueError("blob options given without a blob_url")
    blobs = (
        open_blob_store(config.blob_url, **config.blob_options)
        if config.blob_url is not None
        else None
    )
    return await opener(url, blobs, config)


async def _open_memory(url: SplitResult, blobs: BlobStore | None, config: BackendConfig) -> Backend:
    if url.netloc or url.path or url.query:
        raise ValueError("memory:// takes no host, path or options")
    storage = MemoryStorage(blobs)
    conversations = MemoryConversationStore(storage.catalog)
    results = MemoryResultStore()
    storage.on_delete(conversations.forget)
    storage.on_delete(results.forget)
    search = MemorySearchIndex(storage.catalog)
    storage.on_delete(search.forget)
    vectors = MemoryVectorStore(storage.catalog)
    storage.on_delete(vectors.forget)
    webhooks = MemoryWebhookStore(storage.catalog)
    storage.on_delete(webhooks.forget)
    return Backend(
        storage,
        MemoryAccountStore(),
        results,
        conversations,
        embedded=True,
        search=search,
        vectors=vectors,
        webhooks=webhooks,
    )


async def _open_sqlite(url: SplitResult, blobs: BlobStore | None, config: BackendConfig) -> Backend:
    if url.netloc or not url.path.startswith("/") or len(url.path) < 2:
        raise ValueError(
            "SQLite URL must look like sqlite:///relative/file.db or sqlite:////absolute/file.db"
        )
    path = Path(unquote(url.path[1:]))
    options = dict(parse_qsl(url.query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "FULL").upper()
    inline_ms = options.pop("inline_ms", "0")
    reserve_wal = options.pop("reserve_wal", "true").lower()
    if options:
        raise ValueError(f"unknown SQLite URL option(s): {', '.join(sorted(options))}")
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError("synchronous must be NORMAL or FULL")
    if reserve_wal not in ("true", "false"):
        raise ValueError("reserve_wal must be true or false")
    try:
        inline_below = float(inline_ms) / 1000
    except ValueError:
        raise ValueError("inline_ms must be a number of milliseconds") from None
    if not inline_below >= 0:
        raise ValueError("inline_ms must be 0 (off) or more")
    if blobs is None:
        blobs = FileBlobStore(path.with_name(f"{path.stem}-blobs"))
    storage = SqliteStorage(
        path,
        blobs,
        synchronous="FULL" if synchronous == "FULL" else "NORMAL",
        inline_below=inline_below,
        reserve_wal=reserve_wal == "true",
    )
    results = SqliteResultStore(storage.db)
    conversations = SqliteConversationStore(storage.db)
    search = SqliteSearchIndex(storage.db)
    vectors = SqliteVectorStore(storage.db)
    webhooks = SqliteWebhookStore(storage.db)

    async def open_all() -> None:
        await storage.open()
        await results.open()
        await conversations.open()
        await search.open()
        await vectors.open()
        await webhooks.open()

    await _opened(open_all, storage)
    return Backend(
        storage,
        SqliteAccountStore(storage.db),
        results,
        conversations,
        embedded=True,
        search=search,
        vectors=vectors,
        webhooks=webhooks,
    )


_POSTGRES_INTS = {"min_size", "max_size"}
_POSTGRES_FLOATS = {"connect_timeout", "command_timeout"}


async def _open_postgres(
    url: SplitResult, blobs: BlobStore | None, config: BackendConfig
) -> Backend:
    if blobs is None:
        raise ValueError(
            "PostgreSQL storage needs a blob_url for snapshot and version "
            "bytes (s3://bucket/prefix or file:///dir)"
        )
    dsn, options = _postgres_dsn(url)
    storage = PostgresStorage(dsn, blobs, application_name=config.application_name, **options)
    await _opened(storage.open, storage)  # migrates: every table below exists after it
    return Backend(
        storage,
        PostgresAccountStore(storage.db),
        PostgresResultStore(storage.db),
        PostgresConversationStore(storage.db),
        embedded=False,
        search=PostgresSearchIndex(storage.db),
        vectors=PostgresVectorStore(storage.db),
        webhooks=PostgresWebhookStore(storage.db),
    )


def _postgres_dsn(url: SplitResult) -> tuple[str, dict[str, Any]]:
    """asyncpg's DSN and the pool options read from the URL's query."""
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
            raise ValueError(
                f"PostgreSQL URL option {name} must be a number, not {value!r}"
            ) from None
    return url._replace(query=urlencode(rest)).geturl(), options


async def migrate_backend(config: BackendConfig) -> list[str] | None:
    """Apply the pending migrations of the backend named by ``config`` (without opening
    the rest of it); return the names of those applied, or ``None`` for a backend that
    creates its tables when it is opened (memory, SQLite)."""
    url = split_url(config.database_url, "database")
    if url.scheme not in _DATABASES:
        raise ValueError(
            f"unsupported database URL scheme {url.scheme!r} in "
            f"{redact(config.database_url)!r}; supported: {schemes(_DATABASES)}"
        )
    if _DATABASES[url.scheme] is not _open_postgres:
        return None
    dsn, _ = _postgres_dsn(url)
    return [migration.name for migration in await migrate_database(dsn)]


async def _opened(
    open_all: Callable[[], Awaitable[None]], storage: SqliteStorage | PostgresStorage
) -> None:
    """Run ``open_all``; if that fails, release what the storage acquired and re-raise."""
    try:
        await open_all()
    except BaseException:
        await storage.close()
        raise


_DATABASES: dict[
    str, Callable[[SplitResult, BlobStore | None, BackendConfig], Awaitable[Backend]]
] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}

__all__ = ["Backend", "BackendConfig", "migrate_backend", "open_backend"]
