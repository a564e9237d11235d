"""Group commit: appends from many rooms within a few milliseconds share one transaction.

:class:`GroupCommitLog` wraps any :class:`~persistence.base.UpdateLog` and is one too.
The first pending append opens a window of ``window`` seconds; every append that arrives
meanwhile (any score) joins the batch, which is written with one ``append_many`` call.
Batches commit one after another, so seqs follow call order. With no window, an append
that finds nothing queued or in flight is committed from its caller, a loop turn sooner.
Each caller gets its own seq, or its own refusal (:class:`StaleEpoch`,
:class:`NotFound`); if the batch fails as a whole, every caller in it gets a
:class:`StorageError`. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from persistence.base import AppendRequest, LogEntry, UpdateLog, check_updates
from persistence.errors import StorageError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    request: AppendRequest
    future: asyncio.Future[int]
    arrived: float
    number: int


class GroupCommitLog:
    """An :class:`UpdateLog` batching ``append`` calls into ``log.append_many``.

    ``batches`` counts the backend calls made (for metrics and tests).
    """

    def __init__(self, log: UpdateLog, window: float = 0.002, *, max_batch: int = 1000) -> None:
        if window < 0 or max_batch < 1:
            raise ValueError("window must be >= 0 and max_batch >= 1")
        self.inner = log
        self.window = window
        self.max_batch = max_batch
        self.batches = 0
        self._pending: list[_Pending] = []
        self._in_flight: list[_Pending] = []
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._numbered = 0  # appends queued so far
        self._flush_through = 0  # appends up to this number skip the window
        self._closed = False

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        """Queue the updates for the next batch and wait until they are durable."""
        check_updates(updates)
        if self._closed:
            raise StorageError("the update log is closed")
        loop = asyncio.get_running_loop()
        self._numbered += 1
        item = _Pending(
            (score_id, epoch, tuple(updates)), loop.create_future(), loop.time(), self._numbered
        )
        self._pending.append(item)
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        if self._in_flight or (self._runner is not None and not self._runner.done()):
            return await item.future  # the running batch's committer takes it next
        if self.window == 0 and len(self._pending) == 1:
            return await self._commit_alone(item)
        self._runner = loop.create_task(self._run(), name="group-commit")
        return await item.future

    async def _commit_alone(self, item: _Pending) -> int:
        """With no window and nothing else queued or in flight, commit from the caller:
        no task to start and wait a turn for. Appends arriving meanwhile queue for a
        runner started when this commit ends."""
        self._pending.remove(item)
        self._in_flight = [item]
        try:
            await self._commit([item])
        finally:
            self._in_flight = []
            if self._pending:
                self._runner = asyncio.get_running_loop().create_task(
                    self._run(), name="group-commit"
                )
        return await item.future

    async def append_many(self, batch: Sequence[AppendRequest]) -> list[int | StorageError]:
        results = await asyncio.gather(
            *(self.append(*request) for request in batch), return_exceptions=True
        )
        out: list[int | StorageError] = []
        for result in results:
            if isinstance(result, int) or (
                isinstance(result, StorageError) and not _is_batch_error(result)
            ):
                out.append(result)
            else:
                raise result
        return out

    async def read(self, score_id: str, epoch: int, after: int = 0) -> list[LogEntry]:
        return await self.inner.read(score_id, epoch, after)

    async def trim(self, score_id: str, epoch: int, through: int) -> None:
        await self.inner.trim(score_id, epoch, through)

    async def flush(self) -> None:
        """Commit the appends queued so far without waiting for the window, and wait for
        them (their errors go to their callers). Later appends do not delay it."""
        waiting = [p.future for p in (*self._in_flight, *self._pending)]
        if not waiting:
            return
        self._flush_through = self._numbered
        self._wake.set()
        await asyncio.wait(waiting)

    async def close(self) -> None:
        """Refuse new appends and flush the pending ones (the inner log stays open)."""
        self._closed = True
        await self.flush()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            first = self._pending[0]
            delay = first.arrived + self.window - loop.time()
            if (
                delay > 0
                and first.number > self._flush_through
                and len(self._pending) < self.max_batch
            ):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            batch = [p for p in self._pending[: self.max_batch] if not p.future.done()]
            del self._pending[: self.max_batch]
            if batch:
                self._in_flight = batch
                try:
                    await self._commit(batch)
                finally:
                    self._in_flight = []

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            self.batches += 1
            results = await self.inner.append_many([p.request for p in batch])
            if len(results) != len(batch):
                raise StorageError(
                    f"backend returned {len(results)} results for {len(batch)} appends"
                )
        except BaseException as exc:
            log.warning("group commit of %d appends failed: %r", len(batch), exc)
            for p in batch:
                if not p.future.done():
                    error = _BatchFailed(f"update batch of {len(batch)} appends failed: {exc!r}")
                    error.__cause__ = exc
                    p.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        for p, result in zip(batch, results, strict=True):
            if p.future.done():
                continue
            if isinstance(result, BaseException):
                p.future.set_exception(result)
            else:
                p.future.set_result(result)


class _BatchFailed(StorageError):
    """The whole batch failed (backend error): the caller may retry."""


def _is_batch_error(exc: BaseException) -> bool:
    return isinstance(exc, _BatchFailed)
