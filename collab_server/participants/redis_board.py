"""Agent tasks and their events in Redis, shared by the servers (REST, SSE) and the
workers that run the tasks: one JSON value per task, one list of events per task (its
length is the next ``seq``), a flag per cancelled task; everything expires after a day.
Waiting for events polls the list (every ``poll`` seconds): cheap, and it survives a
Redis restart without resubscribing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from agents.tasks import TaskEvent, TaskRecord

PREFIX = "orpheus:agents:"
TTL_SECONDS = 24 * 3600


class RedisTaskBoard:
    """A :class:`~agents.tasks.TaskBoard` on the process's ``redis.asyncio`` client
    (not closed here)."""

    def __init__(self, client: Any, *, poll: float = 0.05) -> None:
        self.client = client
        self.poll = poll

    async def save(self, record: TaskRecord) -> None:
        await self.client.set(
            f"{PREFIX}task:{record.id}", json.dumps(record.to_json()), ex=TTL_SECONDS
        )

    async def get(self, task_id: str) -> TaskRecord | None:
        raw = await self.client.get(f"{PREFIX}task:{task_id}")
        return TaskRecord.from_json(json.loads(raw)) if raw else None

    async def emit(self, task_id: str, type: str, data: dict[str, Any]) -> TaskEvent:
        key = f"{PREFIX}events:{task_id}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps({"type": type, "data": data}))
            pipe.expire(key, TTL_SECONDS)
            seq, _ = await pipe.execute()
        return TaskEvent(int(seq), type, data)

    async def events(self, task_id: str, *, after: int = 0, wait: float = 0.0) -> list[TaskEvent]:
        deadline = time.monotonic() + wait
        while True:
            raw = await self.client.lrange(f"{PREFIX}events:{task_id}", after, -1)
            if raw or time.monotonic() >= deadline:
                out = []
                for offset, item in enumerate(raw):
                    value = json.loads(item)
                    out.append(TaskEvent(after + offset + 1, value["type"], value["data"]))
                return out
            await asyncio.sleep(self.poll)

    async def cancel(self, task_id: str) -> None:
        await self.client.set(f"{PREFIX}cancel:{task_id}", "1", ex=TTL_SECONDS)

    async def cancel_requested(self, task_id: str) -> bool:
        return bool(await self.client.exists(f"{PREFIX}cancel:{task_id}"))
