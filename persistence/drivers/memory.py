"""In-memory storage: for tests and throw-away servers. Same contract as every backend.

Each method mutates plain dicts without awaiting in between, so it is atomic within the
event loop. Snapshot and version bytes go to the blob store, as in the other backends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from persistence.base import (
    AppendRequest,
    BlobStore,
    LogEntry,
    ScoreCatalog,
    ScoreRecord,
    Snapshot,
    SnapshotStore,
    UpdateLog,
    Version,
    VersionStore,
    check_blob_key,
    check_score_id,
    check_updates,
    new_version_id,
    score_prefix,
    snapshot_key,
    version_key,
)
from persistence.errors import AlreadyExists, NotFound, StaleEpoch, StorageError

KEEP_SNAPSHOTS = 2


class MemoryBlobStore:
    """Blobs in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.data[check_blob_key(key)] = bytes(data)

    async def get(self, key: str) -> bytes:
        try:
            return self.data[check_blob_key(key)]
        except KeyError:
            raise NotFound(f"no blob {key!r}") from None

    async def delete(self, key: str) -> None:
        self.data.pop(check_blob_key(key), None)

    async def delete_prefix(self, prefix: str) -> None:
        check_blob_key(prefix, prefix=True)
        for key in [k for k in self.data if k.startswith(prefix)]:
            del self.data[key]

    async def url_for(
        self, key: str, *, expires: int = 3600, filename: str | None = None
    ) -> str | None:
        check_blob_key(key)
        return None


@dataclass(slots=True)
class _SnapshotRow:
    epoch: int
    seq: int
    key: str
    retired: frozenset[int]


@dataclass(slots=True)
class _Score:
    record: ScoreRecord
    heads: dict[int, int] = field(default_factory=dict)  # epoch -> last seq
    log: dict[int, list[LogEntry]] = field(default_factory=dict)  # epoch -> entries
    snapshots: list[_SnapshotRow] = field(default_factory=list)  # oldest first
    versions: list[tuple[Version, str]] = field(default_factory=list)


class _State:
    def __init__(self, blobs: BlobStore, clock: Callable[[], float]) -> None:
        self.blobs = blobs
        self.clock = clock
        self.scores: dict[str, _Score] = {}
        self.on_delete: list[Callable[[str], None]] = []

    def score(self, score_id: str) -> _Score:
        try:
            return self.scores[score_id]
        except KeyError:
            raise NotFound(f"no score {score_id!r}") from None

    def touch(self, score: _Score, **changes: object) -> None:
        score.record = replace(score.record, updated_at=self.clock(), **changes)  # type: ignore[arg-type]

    def move_epoch(self, score: _Score, epoch: int) -> None:
        if epoch <= score.record.epoch:
            raise StaleEpoch(f"epoch {epoch} is not after {score.record.epoch}")
        self.touch(score, epoch=epoch)
        score.heads = {e: s for e, s in score.heads.items() if e >= epoch}
        score.log = {e: entries for e, entries in score.log.items() if e >= epoch}

    def add_snapshot(self, score: _Score, row: _SnapshotRow) -> list[str]:
        """Insert ``row`` and prune; return the blob keys no longer referenced."""
        dropped = [r.key for r in score.snapshots if (r.epoch, r.seq) == (row.epoch, row.seq)]
        rows = [r for r in score.snapshots if (r.epoch, r.seq) != (row.epoch, row.seq)]
        rows.append(row)
        rows.sort(key=lambda r: (r.epoch, r.seq))
        dropped += [r.key for r in rows[:-KEEP_SNAPSHOTS]]
        score.snapshots = rows[-KEEP_SNAPSHOTS:]
        return dropped


class MemoryCatalog:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def create_score(self, record: ScoreRecord) -> ScoreRecord:
        check_score_id(record.id)
        if record.id in self._s.scores:
            raise AlreadyExists(f"score {record.id!r} exists")
        now = self._s.clock()
        created = record.created_at or now
        record = replace(record, created_at=created, updated_at=record.updated_at or created)
        self._s.scores[record.id] = _Score(record)
        return record

    def _live(self, score_id: str) -> _Score:
        score = self._s.score(score_id)
        if score.record.deleted_at is not None:
            raise NotFound(f"no score {score_id!r} (it is in the trash)")
        return score

    async def get_score(self, score_id: str) -> ScoreRecord:
        return self._live(score_id).record

    async def list_scores(self, *, limit: int = 100, offset: int = 0) -> list[ScoreRecord]:
        records = sorted(
            (s.record for s in self._s.scores.values() if s.record.deleted_at is None),
            key=lambda r: (r.created_at, r.id),
        )
        return records[max(offset, 0) : max(offset, 0) + max(limit, 0)]

    async def trash_score(self, score_id: str) -> ScoreRecord:
        score = self._live(score_id)
        score.record = replace(score.record, deleted_at=self._s.clock())
        return score.record

    async def untrash_score(self, score_id: str) -> ScoreRecord:
        score = self._s.score(score_id)
        if score.record.deleted_at is None:
            raise NotFound(f"score {score_id!r} is not in the trash")
        score.record = replace(score.record, deleted_at=None)
        return score.record

    async def list_trash(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ScoreRecord]:
        records = sorted(
            (
                s.record
                for s in self._s.scores.values()
                if s.record.deleted_at is not None and (owner is None or s.record.owner == owner)
            ),
            key=lambda r: (-(r.deleted_at or 0.0), r.id),
        )
        return records[max(offset, 0) : max(offset, 0) + max(limit, 0)]

    async def trashed_before(self, before: float) -> list[str]:
        return sorted(
            s.record.id
            for s in self._s.scores.values()
            if s.record.deleted_at is not None and s.record.deleted_at < before
        )

    async def update_score(
        self, score_id: str, *, title: str | None = None, epoch: int | None = None
    ) -> ScoreRecord:
        score = self._live(score_id)
        if epoch is not None:
            self._s.move_epoch(score, epoch)
        if title is not None:
            self._s.touch(score, title=title)
        return score.record

    async def delete_score(self, score_id: str) -> None:
        self._s.score(score_id)
        del self._s.scores[score_id]
        for listener in self._s.on_delete:
            listener(score_id)
        await self._s.blobs.delete_prefix(score_prefix(score_id))


class MemoryUpdateLog:
    def __init__(self, state: _State) -> None:
        self._s = state
        self.transactions = 0

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        [result] = await self.append_many([(score_id, epoch, updates)])
        if isinstance(result, StorageError):
            raise result
        return result

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        for _, _, updates in batch:
            check_updates(updates)
        self.transactions += 1
        results: list[int | StorageError] = []
        for score_id, epoch, updates in batch:
            score = self._s.scores.get(score_id)
            if score is None:
                results.append(NotFound(f"no score {score_id!r}"))
                continue
            if epoch != score.record.epoch:
                results.append(
                    StaleEpoch(f"score {score_id!r} is at epoch {score.record.epoch}, not {epoch}")
                )
                continue
            head = score.heads.get(epoch, 0)
            entries = score.log.setdefault(epoch, [])
            entries.extend(LogEntry(head + i, bytes(u)) for i, u in enumerate(updates, 1))
            score.heads[epoch] = head + len(updates)
            self._s.touch(score)
            results.append(head + len(updates))
        return results

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        score = self._s.scores.get(score_id)
        if score is None:
            return []
        return [e for e in score.log.get(epoch, []) if e.seq > after]

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        score = self._s.scores.get(score_id)
        if score is not None and epoch in score.log:
            score.log[epoch] = [e for e in score.log[epoch] if e.seq > through]


class MemorySnapshotStore:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def save_snapshot(self, score_id: str, snapshot: Snapshot) -> None:
        await self._store(score_id, snapshot, None)

    async def start_epoch(
        self, score_id: str, snapshot: Snapshot, *, from_epoch: int, from_seq: int
    ) -> None:
        await self._store(score_id, snapshot, (from_epoch, from_seq))

    async def _store(
        self, score_id: str, snapshot: Snapshot, start_from: tuple[int, int] | None
    ) -> None:
        self._s.score(score_id)
        key = snapshot_key(score_id, snapshot.epoch, snapshot.seq)
        await self._s.blobs.put(key, snapshot.state)
        try:
            score = self._s.score(score_id)
            if start_from is None:
                if snapshot.epoch != score.record.epoch:
                    raise StaleEpoch(f"score {score_id!r} is at epoch {score.record.epoch}")
            else:
                from_epoch, from_seq = start_from
                head = score.heads.get(from_epoch, 0)
                if (score.record.epoch, head) != (from_epoch, from_seq):
                    raise StaleEpoch(
                        f"score {score_id!r} moved on to epoch {score.record.epoch}, seq {head}"
                    )
                self._s.move_epoch(score, snapshot.epoch)
        except BaseException:
            await self._s.blobs.delete(key)
            raise
        row = _SnapshotRow(snapshot.epoch, snapshot.seq, key, frozenset(snapshot.retired_clients))
        for old in self._s.add_snapshot(score, row):
            await self._s.blobs.delete(old)

    async def load_snapshot(self, score_id: str) -> Snapshot | None:
        for _ in range(5):
            score = self._s.scores.get(score_id)
            if score is None or not score.snapshots:
                return None
            row = score.snapshots[-1]
            try:
                state = await self._s.blobs.get(row.key)
            except NotFound:
                continue  # replaced while we read: read the newer one
            return Snapshot(row.epoch, row.seq, state, row.retired)
        raise StorageError(f"snapshot of {score_id!r} keeps changing")


class MemoryVersionStore:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def create_version(
        self, score_id: str, *, name: str, author: str | None, epoch: int, state: bytes
    ) -> Version:
        self._s.score(score_id)
        version = Version(
            new_version_id(), score_id, name, author, self._s.clock(), epoch, len(state)
        )
        key = version_key(score_id, version.id)
        await self._s.blobs.put(key, state)
        score = self._s.scores.get(score_id)
        if score is None:
            await self._s.blobs.delete(key)
            raise NotFound(f"no score {score_id!r}")
        score.versions.append((version, key))
        return version

    async def list_versions(self, score_id: str) -> list[Version]:
        return [v for v, _ in self._s.score(score_id).versions]

    async def get_version(self, score_id: str, version_id: str) -> tuple[Version, bytes]:
        for version, key in self._s.score(score_id).versions:
            if version.id == version_id:
                return version, await self._s.blobs.get(key)
        raise NotFound(f"no version {version_id!r} of score {score_id!r}")


class MemoryStorage:
    """All five parts in memory; pass ``blobs`` to keep the bytes elsewhere."""

    def __init__(
        self, blobs: BlobStore | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.blobs: BlobStore = blobs if blobs is not None else MemoryBlobStore()
        state = self._state = _State(self.blobs, clock)
        self.catalog: ScoreCatalog = MemoryCatalog(state)
        self.log: UpdateLog = MemoryUpdateLog(state)
        self.snapshots: SnapshotStore = MemorySnapshotStore(state)
        self.versions: VersionStore = MemoryVersionStore(state)

    def on_delete(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(score_id)`` when a score is deleted (rows kept beside the
        storage, like conversations, go with it as a foreign key would take them)."""
        self._state.on_delete.append(listener)

    async def close(self) -> None:
        return None
