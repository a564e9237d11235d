"""Errors raised by every storage backend."""


class StorageError(Exception):
    """A backend failed (I/O, connection, corrupt data). Usually transient: retry."""


class NotFound(StorageError):
    """No such score, version or blob."""


class AlreadyExists(StorageError):
    """A score with that id exists already."""


class StaleEpoch(StorageError):
    """The score was reset or restored: writes for an older epoch are refused."""
