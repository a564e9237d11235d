"""Agent tasks as records, their progress events, and the board that holds them.

A :class:`TaskRecord` is what REST, the CLI and server-sent events show: who asked which
agent what, its status and counters. Progress is a list of :class:`TaskEvent` s with
increasing ``seq`` (an SSE ``id``), so a client that reconnects resumes where it stopped.
The :class:`TaskBoard` protocol keeps both; :class:`MemoryTaskBoard` is the in-process one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from score_model.ids import new_id

TaskStatus = Literal["queued", "running", "done", "failed", "cancelled", "undone"]
FINISHED = frozenset({"done", "failed", "cancelled", "undone"})


@dataclass
class TaskRecord:
    """One agent task."""

    score_id: str
    agent: str
    instruction: str
    mode: Literal["suggest", "direct"] = "suggest"
    measures: tuple[str, ...] | None = None
    parts: tuple[str, ...] | None = None
    requested_by: str | None = None
    source: str = "rest"  # rest, chat, cli, mcp
    id: str = field(default_factory=lambda: new_id("t"))
    status: TaskStatus = "queued"
    summary: str = ""
    error: str = ""
    notes_written: int = 0
    tokens_used: int = 0
    suggestions: list[str] = field(default_factory=list)
    stale_measures: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["measures"] = list(self.measures) if self.measures is not None else None
        out["parts"] = list(self.parts) if self.parts is not None else None
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TaskRecord:
        values = dict(raw)
        for name in ("measures", "parts"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One step of a task: ``type`` is status, write, stale, say, gate, done, failed,
    cancelled or undone; ``data`` its JSON details."""

    seq: int
    type: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, **self.data}


class TaskBoard(Protocol):
    async def save(self, record: TaskRecord) -> None: ...

    async def get(self, task_id: str) -> TaskRecord | None: ...

    async def emit(self, task_id: str, type: str, data: dict[str, Any]) -> TaskEvent: ...

    async def events(self, task_id: str, *, after: int = 0, wait: float = 0.0) -> list[TaskEvent]:
        """Events with ``seq > after``; with ``wait``, wait up to that long for one."""
        ...

    async def cancel(self, task_id: str) -> None:
        """Ask a running task to stop (it stops at its next step)."""
        ...

    async def cancel_requested(self, task_id: str) -> bool: ...


class MemoryTaskBoard:
    """Tasks and events in this process (the embedded mode, and tests)."""

    def __init__(self, *, keep: int = 1000) -> None:
        self._records: dict[str, TaskRecord] = {}
        self._events: dict[str, list[TaskEvent]] = {}
        self._cancelled: set[str] = set()
        self._changed = asyncio.Condition()
        self._keep = keep

    async def save(self, record: TaskRecord) -> None:
        self._records[record.id] = record
        while len(self._records) > self._keep:
            oldest = next(iter(self._records))
            self._records.pop(oldest)
            self._events.pop(oldest, None)

    async def get(self, task_id: str) -> TaskRecord | None:
        return self._records.get(task_id)

    async def emit(self, task_id: str, type: str, data: dict[str, Any]) -> TaskEvent:
        events = self._events.setdefault(task_id, [])
        event = TaskEvent(len(events) + 1, type, data)
        events.append(event)
        async with self._changed:
            self._changed.notify_all()
        return event

    async def events(self, task_id: str, *, after: int = 0, wait: float = 0.0) -> list[TaskEvent]:
        def fresh() -> list[TaskEvent]:
            return self._events.get(task_id, [])[after:]

        if not fresh() and wait > 0:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(fresh())), wait)
        return fresh()

    async def cancel(self, task_id: str) -> None:
        self._cancelled.add(task_id)

    async def cancel_requested(self, task_id: str) -> bool:
        return task_id in self._cancelled
