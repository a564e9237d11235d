"""The account store that goes with a storage backend: the same database, new tables."""

from __future__ import annotations

from persistence.accounts.base import AccountStore
from persistence.accounts.memory import MemoryAccountStore
from persistence.accounts.postgres import PostgresAccountStore
from persistence.accounts.sqlite import SqliteAccountStore
from persistence.base import Storage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage


def open_accounts(storage: Storage) -> AccountStore:
    """Accounts stored beside ``storage`` (in memory for any other backend)."""
    if isinstance(storage, SqliteStorage):
        return SqliteAccountStore(storage.db)
    if isinstance(storage, PostgresStorage):
        return PostgresAccountStore(storage.db)
    return MemoryAccountStore()
