"""Storage protocols. Each backend module implements these; one contract test suite
(``tests/persistence/test_storage.py``, ``test_blobs.py``) runs against every backend.

Document state is stored as Yjs updates (opaque bytes here): an append-only update
log per score and epoch, compacted into snapshots. A score's *epoch* changes when it is
reset or restored; writes for an older epoch raise :class:`~persistence.errors.StaleEpoch`.

Shape shared by every backend: metadata (catalog, log, snapshot and version rows) lives
in one database, so the epoch check and a log append are one transaction; snapshot and
version *bytes* live in a :class:`BlobStore` under the keys built below.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from persistence.errors import StorageError


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """A score's metadata row."""

    id: str
    title: str = ""
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    epoch: int = 1
    deleted_at: float | None = None  # in the trash since (see ScoreCatalog.trash_score)


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Compacted state of a score at an epoch, covering the log through ``seq``.

    ``retired_clients`` are Yjs client ids seen in earlier epochs: a client that
    presents one of them holds stale content and must reload.
    """

    epoch: int
    seq: int
    state: bytes
    retired_clients: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Version:
    """A named, immutable snapshot of a score."""

    id: str
    score_id: str
    name: str
    author: str | None
    created_at: float
    epoch: int
    size: int


#: One item of :meth:`UpdateLog.append_many`: ``(score_id, epoch, updates)``.
AppendRequest = tuple[str, int, Sequence[bytes]]


class ScoreCatalog(Protocol):
    async def create_score(self, record: ScoreRecord) -> ScoreRecord:
        """Insert ``record`` (timestamps of 0 are set to now); :class:`AlreadyExists`
        if the id is taken, ``ValueError`` if it is not a valid score id."""
        ...

    async def get_score(self, score_id: str) -> ScoreRecord: ...
    async def list_scores(self, *, limit: int = 100, offset: int = 0) -> list[ScoreRecord]:
        """Scores ordered by creation time, then id."""
        ...

    async def update_score(
        self, score_id: str, *, title: str | None = None, epoch: int | None = None
    ) -> ScoreRecord:
        """Change the title and/or move to a new, empty epoch. ``epoch`` must be greater
        than the current one (else :class:`StaleEpoch`); the old epoch's log is dropped."""
        ...

    async def delete_score(self, score_id: str) -> None:
        """Delete the score with its log, snapshots and versions (rows and blobs), in the
        trash or not."""
        ...

    async def trash_score(self, score_id: str) -> ScoreRecord:
        """Put the score in the trash (``deleted_at`` = now). From then on it is absent
        for :meth:`get_score`, :meth:`list_scores` and :meth:`update_score`, but its data
        stays until :meth:`delete_score`. :class:`NotFound` if it is absent already."""
        ...

    async def untrash_score(self, score_id: str) -> ScoreRecord:
        """Take the score out of the trash; :class:`NotFound` unless it is in it."""
        ...

    async def list_trash(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ScoreRecord]:
        """Scores in the trash (``owner``'s, or everyone's), most recently deleted first."""
        ...

    async def trashed_before(self, before: float) -> list[str]:
        """Ids of the scores put in the trash before ``before`` (Unix time): to purge."""
        ...


class UpdateLog(Protocol):
    """Sequence numbers count per score and epoch from 1 and are never reused, even
    after a trim. An entry becomes visible only after every lower seq is visible."""

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        """Durably append updates in order; return the sequence number of the last one.

        :class:`NotFound` for an unknown score, :class:`StaleEpoch` unless ``epoch`` is
        the score's current epoch, ``ValueError`` for an empty or non-bytes ``updates``.
        """
        ...

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        """Append several requests (any scores) in ONE backend transaction.

        Returns, per request and in order, the last seq or the error refusing that
        request alone (:class:`NotFound`, :class:`StaleEpoch`); the others commit.
        A backend failure raises and commits nothing.
        """
        ...

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        """Entries with ``seq > after`` in seq order (``[]`` for an unknown score)."""
        ...

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        """Drop entries with ``seq <= through`` (they are in a snapshot)."""
        ...


class SnapshotStore(Protocol):
    async def save_snapshot(self, score_id: str, snapshot: Snapshot) -> None:
        """Store a snapshot of the current epoch (else :class:`StaleEpoch`). The newest
        two snapshots per score are kept, older ones are deleted."""
        ...

    async def load_snapshot(self, score_id: str) -> Snapshot | None:
        """The newest snapshot (highest epoch, then seq), or ``None``."""
        ...

    async def start_epoch(
        self, score_id: str, snapshot: Snapshot, *, from_epoch: int, from_seq: int
    ) -> None:
        """Atomically make ``snapshot.epoch`` the score's epoch with ``snapshot`` as its
        content, and drop the older epochs' log.

        Refused with :class:`StaleEpoch` unless the score is still at ``from_epoch``
        with log head ``from_seq`` (nothing was appended since the caller read it) and
        ``snapshot.epoch > from_epoch``.
        """
        ...


class VersionStore(Protocol):
    async def create_version(
        self, score_id: str, *, name: str, author: str | None, epoch: int, state: bytes
    ) -> Version: ...
    async def list_versions(self, score_id: str) -> list[Version]:
        """Oldest first."""
        ...

    async def get_version(self, score_id: str, version_id: str) -> tuple[Version, bytes]: ...


class BlobStore(Protocol):
    """Bytes by key. Keys are ``/``-separated segments of ``[A-Za-z0-9._-]`` that do not
    start with ``.``; anything else is refused with ``ValueError``. Portable layouts never
    use a key as a folder of other keys (``a`` and ``a/b``): file systems cannot."""

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Store atomically: a reader sees the old bytes or the new, never a part."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes, or :class:`NotFound`."""
        ...

    async def delete(self, key: str) -> None:
        """Delete one key; no error if it is absent."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key starting with ``prefix`` (a non-empty string)."""
        ...

    async def url_for(
        self, key: str, *, expires: int = 3600, filename: str | None = None
    ) -> str | None:
        """A direct download URL (presigned on S3), or ``None`` if the backend has none."""
        ...


class Storage(Protocol):
    """Everything a server needs, from one backend or a composition of backends."""

    catalog: ScoreCatalog
    log: UpdateLog
    snapshots: SnapshotStore
    versions: VersionStore
    blobs: BlobStore

    async def close(self) -> None: ...


# --- conventions shared by every backend -------------------------------------------

_SCORE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_score_id(score_id: str) -> str:
    """Return ``score_id`` if valid (1-128 chars of ``[A-Za-z0-9._-]``, starting with a
    letter or digit), else raise ``ValueError``. Score ids appear in blob keys."""
    if not isinstance(score_id, str) or not _SCORE_ID.fullmatch(score_id):
        raise ValueError(f"invalid score id {score_id!r}: use 1-128 of [A-Za-z0-9._-]")
    return score_id


def check_blob_key(key: str, *, prefix: bool = False) -> str:
    """Return ``key`` if it is a valid blob key (or, with ``prefix``, a non-empty start
    of one), else raise ``ValueError``. Rejects ``..``, absolute paths and backslashes."""
    if not isinstance(key, str) or not key:
        raise ValueError("blob key must be a non-empty string")
    segments = key.split("/")
    if prefix and segments[-1] == "":
        segments = segments[:-1]
    if len(key) > 1024 or not all(_KEY_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"invalid blob key {key!r}")
    return key


def check_updates(updates: Sequence[bytes]) -> None:
    """``ValueError`` unless ``updates`` is a non-empty sequence of bytes."""
    if isinstance(updates, bytes | bytearray | str) or not updates:
        raise ValueError("updates must be a non-empty sequence of bytes")
    if not all(isinstance(u, bytes) for u in updates):
        raise ValueError("every update must be bytes")


def score_prefix(score_id: str) -> str:
    """Blob key prefix holding everything of one score."""
    return f"scores/{check_score_id(score_id)}/"


def snapshot_key(score_id: str, epoch: int, seq: int) -> str:
    """A fresh, unique blob key for a snapshot (never overwrites another's bytes)."""
    return f"{score_prefix(score_id)}snapshots/{epoch}-{seq}-{secrets.token_hex(8)}"


def version_key(score_id: str, version_id: str) -> str:
    return f"{score_prefix(score_id)}versions/{version_id}"


def new_version_id() -> str:
    return "v_" + secrets.token_hex(8)
