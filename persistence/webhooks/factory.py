"""The :class:`~persistence.webhooks.base.WebhookStore` of an opened backend, in the same
database and on the same connection or pool as the rest of it.

A function beside :func:`~persistence.backend.open_backend` rather than a field of
:class:`~persistence.backend.Backend`; it returns the same store for the same backend.
"""

from __future__ import annotations

import weakref

from persistence.backend import Backend
from persistence.drivers.memory import MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage
from persistence.webhooks.base import WebhookStore
from persistence.webhooks.memory import MemoryWebhookStore
from persistence.webhooks.postgres import PostgresWebhookStore
from persistence.webhooks.sqlite import SqliteWebhookStore

_OPENED: weakref.WeakKeyDictionary[object, WebhookStore] = weakref.WeakKeyDictionary()


async def open_webhooks(backend: Backend) -> WebhookStore:
    """The backend's webhook store (tables created or migrated already for PostgreSQL)."""
    storage = backend.storage
    found = _OPENED.get(storage)
    if found is not None:
        return found
    store: WebhookStore
    if isinstance(storage, MemoryStorage):
        memory = MemoryWebhookStore(storage.catalog)
        storage.on_delete(memory.forget)
        store = memory
    elif isinstance(storage, SqliteStorage):
        sqlite = SqliteWebhookStore(storage.db)
        await sqlite.open()
        store = sqlite
    elif isinstance(storage, PostgresStorage):
        store = PostgresWebhookStore(storage.db)
    else:
        raise ValueError(f"no webhook store for {type(storage).__name__}")
    _OPENED[storage] = store
    return store
