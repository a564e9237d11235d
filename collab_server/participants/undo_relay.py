"""Undo of agent tasks that ran on a worker: the worker that ran a task keeps its undo
manager (and its headless room) and serves undo requests for it; a server asks that
worker through an :class:`UndoRelay` and waits for the answer.
:class:`MemoryUndoRelay` relays within one process (tests);
:class:`~collab_server.participants.redis_undo_relay.RedisUndoRelay` between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from collab_server.errors import Conflict, OrpheusError, Unavailable

log = logging.getLogger("orpheus.agents")

UndoHere = Callable[[str], Awaitable[None]]
NO_HOLDER = (
    "this task cannot be undone: its undo was kept by the worker that ran it, "
    "which has stopped or restarted since (or the task is older than an hour)"
)


def no_answer(timeout: float) -> str:
    return f"the worker holding this task's undo did not answer within {timeout:g} s; try again"


class UndoRelay(Protocol):
    """Undo requests between the process that asks and the process that holds."""

    async def hold(self, task_id: str, seconds: float) -> None:
        """Announce that this process keeps ``task_id``'s undo for ``seconds``."""
        ...

    async def request(self, task_id: str, *, timeout: float) -> None:
        """Have the holder undo ``task_id`` and wait for it: :class:`Conflict` when no
        live process holds it or the holder refused, :class:`Unavailable` on timeout."""
        ...

    async def serve(self, undo: UndoHere) -> None:
        """Answer this process's requests with ``undo`` until cancelled."""
        ...

    async def leave(self) -> None:
        """Stop claiming anything (the process is stopping)."""
        ...


@dataclass
class UndoExchange:
    """What :class:`MemoryUndoRelay` s of one process share."""

    holders: dict[str, tuple[str, float]] = field(default_factory=dict)  # task -> holder
    inboxes: dict[str, asyncio.Queue[tuple[str, asyncio.Future[str]]]] = field(
        default_factory=dict
    )  # live holders' requests: task, future of the error ("": ok)


class MemoryUndoRelay:
    """An :class:`UndoRelay` within one process: relays sharing ``exchange`` reach each
    other (a server's and a worker's in tests)."""

    def __init__(self, exchange: UndoExchange | None = None) -> None:
        self.exchange = exchange or UndoExchange()
        self.holder = uuid.uuid4().hex

    async def hold(self, task_id: str, seconds: float) -> None:
        self.exchange.inboxes.setdefault(self.holder, asyncio.Queue())
        self.exchange.holders[task_id] = (self.holder, time.monotonic() + seconds)

    async def request(self, task_id: str, *, timeout: float) -> None:
        holder, until = self.exchange.holders.get(task_id, ("", 0.0))
        inbox = self.exchange.inboxes.get(holder)
        if inbox is None or time.monotonic() > until:
            raise Conflict(NO_HOLDER)
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        await inbox.put((task_id, answer))
        try:
            error = await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            raise Unavailable(no_answer(timeout)) from None
        if error:
            raise Conflict(error)

    async def serve(self, undo: UndoHere) -> None:
        inbox = self.exchange.inboxes.setdefault(self.holder, asyncio.Queue())
        while True:
            task_id, answer = await inbox.get()
            try:
                await undo(task_id)
                error = ""
            except OrpheusError as exc:
                error = exc.message
            except Exception as exc:
                log.exception("undo of an agent task failed", extra={"task": task_id})
                error = f"the undo failed: {type(exc).__name__}"
            with contextlib.suppress(asyncio.InvalidStateError):
                answer.set_result(error)

    async def leave(self) -> None:
        self.exchange.inboxes.pop(self.holder, None)
