"""Storage protocols. Each backend module implements these; one contract test suite
(``tests/persistence/test_contract.py``) runs against every backend.

Document state is stored as Yjs updates (opaque bytes here): an append-only update
log per score and epoch, compacted into snapshots. A score's *epoch* changes when it is
reset or restored; writes for an older epoch raise :class:`~persistence.errors.StaleEpoch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """A score's metadata row."""

    id: str
    title: str = ""
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    epoch: int = 1


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


class ScoreCatalog(Protocol):
    async def create_score(self, record: ScoreRecord) -> ScoreRecord: ...
    async def get_score(self, score_id: str) -> ScoreRecord: ...
    async def list_scores(self, *, limit: int = 100, offset: int = 0) -> list[ScoreRecord]: ...
    async def update_score(self, score_id: str, *, title: str | None = None,
                           epoch: int | None = None) -> ScoreRecord: ...
    async def delete_score(self, score_id: str) -> None:
        """Delete the score with its log, snapshots and versions."""
        ...


class UpdateLog(Protocol):
    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        """Durably append updates in order; return the sequence number of the last one."""
        ...

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]: ...

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        """Drop entries with ``seq <= through`` (they are in a snapshot)."""
        ...


class SnapshotStore(Protocol):
    async def save_snapshot(self, score_id: str, snapshot: Snapshot) -> None: ...
    async def load_snapshot(self, score_id: str) -> Snapshot | None:
        """The newest snapshot (highest epoch, then seq), or ``None``."""
        ...


class VersionStore(Protocol):
    async def create_version(self, score_id: str, *, name: str, author: str | None,
                             epoch: int, state: bytes) -> Version: ...
    async def list_versions(self, score_id: str) -> list[Version]: ...
    async def get_version(self, score_id: str, version_id: str) -> tuple[Version, bytes]: ...


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream"
                  ) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete_prefix(self, prefix: str) -> None: ...
    async def url_for(self, key: str, *, expires: int = 3600, filename: str | None = None
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
