"""Documents on top of a :class:`~persistence.base.Storage`: what a room calls.

- ``load`` merges the newest snapshot with the log entries after it;
- ``append`` goes through :class:`~persistence.documents.group_commit.GroupCommitLog` and
  schedules a background ``compact`` every ``compact_every`` entries per score;
- ``compact`` folds snapshot + log into a new snapshot, then trims the log;
- ``reset`` starts a new epoch (restore), retiring the old content's Yjs client ids.

Why no update is lost: seqs are assigned in commit order, a snapshot at seq ``S`` holds
everything through ``S`` and the log is trimmed only through ``S`` after the snapshot is
stored. ``load`` reads the log *before* the snapshot, so a trim in between cannot hide
an entry: whatever the log read misses is in the (newer) snapshot.

Every failure reaches the caller as :class:`StorageError`; the room keeps its document
in memory and retries (Yjs updates are idempotent, so a retried append is harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pycrdt

from persistence.base import LogEntry, ScoreRecord, Snapshot, Storage
from persistence.documents.group_commit import GroupCommitLog
from persistence.errors import NotFound, StaleEpoch, StorageError
from persistence.keyed_lock import KeyedLock

log = logging.getLogger(__name__)

_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A score's current content: one Yjs update (``b""`` if empty) covering the log
    through ``seq`` of ``epoch``."""

    epoch: int
    state: bytes
    seq: int
    retired_clients: frozenset[int]


class DocumentStore:
    """Load, append, compact and reset score documents. Safe for concurrent use from one
    event loop; several processes may share a backend.

    ``commit_window`` (seconds) defaults to the server's ``ORPHEUS_COMMIT_WINDOW_MS``
    default, 0: a commit takes whatever arrived while the previous one ran."""

    def __init__(
        self,
        storage: Storage,
        *,
        commit_window: float = 0.0,
        compact_every: int = 500,
        max_batch: int = 1000,
    ) -> None:
        if compact_every < 1:
            raise ValueError("compact_every must be >= 1")
        self.storage = storage
        self.log = GroupCommitLog(storage.log, commit_window, max_batch=max_batch)
        self.compact_every = compact_every
        self._pending_entries: dict[str, int] = {}
        self._compactions: dict[str, asyncio.Task[int | None]] = {}
        self._lock = KeyedLock()  # serialises compactions and resets of one score
        self._resets: dict[str, asyncio.Event] = {}
        self._closed = False

    async def create(
        self, score_id: str, title: str = "", owner: str | None = None, state: bytes = b""
    ) -> ScoreRecord:
        """Create a score, optionally with initial content (a Yjs update)."""
        if state:
            await asyncio.to_thread(client_ids, state)
        record = await self.storage.catalog.create_score(ScoreRecord(score_id, title, owner))
        if state:
            try:
                await self.storage.snapshots.save_snapshot(
                    score_id, Snapshot(record.epoch, 0, state)
                )
            except BaseException:
                with contextlib.suppress(StorageError):
                    await self.storage.catalog.delete_score(score_id)
                raise
        return record

    async def load(self, score_id: str) -> LoadedDocument:
        """The score's content; :class:`NotFound` for an unknown score."""
        doc, in_log = await self._read(score_id)
        self._pending_entries[score_id] = in_log
        if in_log >= self.compact_every:
            self._schedule_compaction(score_id)
        return doc

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        """Durably append updates (group-committed); return the seq of the last one.
        :class:`StaleEpoch` if the score was reset since the caller loaded it."""
        gate = self._resets.get(score_id)
        if gate is not None:
            await gate.wait()  # a reset is under way: it decides whether ``epoch`` is stale
        seq = await self.log.append(score_id, epoch, updates)
        count = self._pending_entries.get(score_id, 0) + len(updates)
        self._pending_entries[score_id] = count
        if count >= self.compact_every:
            self._schedule_compaction(score_id)
        return seq

    async def compact(self, score_id: str) -> int | None:
        """Fold the log into a new snapshot; return its seq, or ``None`` if the log was
        empty or the score was reset meanwhile."""
        async with self._lock(score_id):
            doc, in_log = await self._read(score_id)
            if in_log == 0:
                return None
            snapshot = Snapshot(doc.epoch, doc.seq, doc.state, doc.retired_clients)
            try:
                await self.storage.snapshots.save_snapshot(score_id, snapshot)
            except StaleEpoch:
                return None
            await self.storage.log.trim(score_id, doc.epoch, doc.seq)
            return doc.seq

    async def reset(self, score_id: str, state: bytes) -> int:
        """Start a new epoch whose content is ``state``; return the new epoch.

        The Yjs client ids of the old content join ``retired_clients``, including ids
        that ``state`` holds too (a restored version shares its authors with the current
        content): a client is stale when it holds a retired client's content *beyond*
        what the new state holds. ``ValueError`` if ``state`` is not a Yjs update.

        This store's appends to the score wait for the reset (then get
        :class:`StaleEpoch`); appends from other processes make it read again, and fail
        after a few attempts.
        """
        await asyncio.to_thread(client_ids, state)
        async with self._lock(score_id), self._appends_held(score_id):
            for _ in range(_ATTEMPTS):
                await self.log.flush()
                old, _ = await self._read(score_id)
                retired = old.retired_clients | await asyncio.to_thread(client_ids, old.state)
                snapshot = Snapshot(old.epoch + 1, 0, state, retired)
                try:
                    await self.storage.snapshots.start_epoch(
                        score_id, snapshot, from_epoch=old.epoch, from_seq=old.seq
                    )
                except StaleEpoch:
                    if (await self.storage.catalog.get_score(score_id)).epoch != old.epoch:
                        raise
                    continue  # appends landed after our read: read again
                self._pending_entries.pop(score_id, None)
                return snapshot.epoch
        raise StaleEpoch(f"score {score_id!r} kept changing during reset: pause its writes")

    async def flush(self) -> None:
        """Wait until every pending append is committed."""
        await self.log.flush()

    async def close(self) -> None:
        """Flush pending appends and wait for running compactions. The storage stays
        open: whoever built it closes it."""
        self._closed = True
        await self.log.close()
        tasks = list(self._compactions.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- internals ------------------------------------------------------------------

    async def _read(self, score_id: str) -> tuple[LoadedDocument, int]:
        """The document and how many log entries it merged."""
        for _ in range(_ATTEMPTS):
            record = await self.storage.catalog.get_score(score_id)
            entries = await self.storage.log.read(score_id, record.epoch)
            snapshot = await self.storage.snapshots.load_snapshot(score_id)
            if snapshot is not None and snapshot.epoch > record.epoch:
                continue  # reset between our reads
            retired = snapshot.retired_clients if snapshot else frozenset[int]()
            if snapshot is not None and snapshot.epoch < record.epoch:
                snapshot = None  # epoch moved on without a snapshot: starts empty
            base_seq = snapshot.seq if snapshot else 0
            entries = [e for e in entries if e.seq > base_seq]
            state = await asyncio.to_thread(_merge, snapshot.state if snapshot else b"", entries)
            seq = entries[-1].seq if entries else base_seq
            return LoadedDocument(record.epoch, state, seq, retired), len(entries)
        raise StorageError(f"score {score_id!r} kept changing while loading")

    def _schedule_compaction(self, score_id: str) -> None:
        if self._closed or score_id in self._compactions:
            return
        self._pending_entries[score_id] = 0
        task = asyncio.get_running_loop().create_task(
            self._compact_in_background(score_id), name=f"compact:{score_id}"
        )
        self._compactions[score_id] = task
        task.add_done_callback(lambda _: self._compactions.pop(score_id, None))

    async def _compact_in_background(self, score_id: str) -> int | None:
        try:
            return await self.compact(score_id)
        except NotFound:
            return None
        except Exception:
            log.warning("compaction of score %r failed; retrying later", score_id, exc_info=True)
            return None

    @asynccontextmanager
    async def _appends_held(self, score_id: str) -> AsyncIterator[None]:
        """Make this process's new appends to ``score_id`` wait until the block ends."""
        gate = self._resets[score_id] = asyncio.Event()
        try:
            yield
        finally:
            del self._resets[score_id]
            gate.set()


def _merge(base: bytes, entries: list[LogEntry]) -> bytes:
    """Merge a state and log entries into one garbage-collected Yjs update."""
    if not entries:
        return base
    doc: pycrdt.Doc = pycrdt.Doc()
    try:
        if base:
            doc.apply_update(base)
        for entry in entries:
            doc.apply_update(entry.data)
    except ValueError as exc:
        raise StorageError(f"stored update is corrupt: {exc}") from exc
    return doc.get_update()


def client_ids(update: bytes) -> frozenset[int]:
    """The Yjs client ids whose content ``update`` holds (its state vector's keys);
    ``ValueError`` if it is not a Yjs update. ``b""`` is the empty document."""
    if not update:
        return frozenset()
    try:
        decoder = pycrdt.Decoder(pycrdt.get_state(update))
        ids = set()
        for _ in range(decoder.read_var_uint()):
            ids.add(decoder.read_var_uint())
            decoder.read_var_uint()  # clock
    except (ValueError, RuntimeError, IndexError) as exc:
        raise ValueError(f"not a Yjs update: {exc}") from exc
    return frozenset(ids)
