"""The :class:`~collab_server.participants.undo_relay.UndoRelay` between servers and
workers, through Redis.

Keys (all under ``orpheus:agents:``): ``undo-holder:{task}`` names the process holding a
task's undo (expires with the undo); ``alive:{holder}`` is refreshed while that process
serves (gone within seconds after it stops); ``undo-requests:{holder}`` is its inbox of
``{"task", "reply"}`` requests; ``undo-reply:{reply}`` the outcome of one request. Every
holder id is fresh per process, so a restarted worker never claims its predecessor's
tasks: their undo was in the old process's memory and is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from collab_server.errors import Conflict, OrpheusError, Unavailable
from collab_server.participants.undo_relay import NO_HOLDER, UndoHere, no_answer

log = logging.getLogger("orpheus.agents")

PREFIX = "orpheus:agents:"
ALIVE_SECONDS = 5.0
REPLY_SECONDS = 120


class RedisUndoRelay:
    """An :class:`~collab_server.participants.undo_relay.UndoRelay` on the process's
    ``redis.asyncio`` client (not closed here); ``poll`` is how often requests and
    replies are looked for."""

    def __init__(self, client: Any, *, poll: float = 0.05) -> None:
        self.client = client
        self.poll = poll
        self.holder = uuid.uuid4().hex

    async def hold(self, task_id: str, seconds: float) -> None:
        await self._alive()
        await self.client.set(
            f"{PREFIX}undo-holder:{task_id}", self.holder, ex=max(1, int(seconds))
        )

    async def request(self, task_id: str, *, timeout: float) -> None:
        holder = await self.client.get(f"{PREFIX}undo-holder:{task_id}")
        if isinstance(holder, bytes):
            holder = holder.decode()
        if not holder or not await self.client.exists(f"{PREFIX}alive:{holder}"):
            raise Conflict(NO_HOLDER)
        reply = uuid.uuid4().hex
        await self.client.rpush(
            f"{PREFIX}undo-requests:{holder}", json.dumps({"task": task_id, "reply": reply})
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await self.client.get(f"{PREFIX}undo-reply:{reply}")
            if raw:
                outcome = json.loads(raw)
                if outcome.get("error"):
                    raise Conflict(outcome["error"])
                return
            await asyncio.sleep(self.poll)
        raise Unavailable(no_answer(timeout))

    async def serve(self, undo: UndoHere) -> None:
        inbox = f"{PREFIX}undo-requests:{self.holder}"
        refreshed = 0.0
        me = asyncio.current_task()
        while True:
            # redis-py may swallow a cancellation that lands inside a command: stop anyway
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            if time.monotonic() - refreshed > ALIVE_SECONDS / 3:
                await self._alive()
                refreshed = time.monotonic()
            raw = await self.client.lpop(inbox)
            if raw is None:
                await asyncio.sleep(self.poll)
                continue
            asked = json.loads(raw)
            try:
                await undo(asked["task"])
                outcome: dict[str, Any] = {"ok": True}
            except OrpheusError as exc:
                outcome = {"error": exc.message}
            except Exception as exc:
                log.exception("undo of an agent task failed", extra={"task": asked["task"]})
                outcome = {"error": f"the undo failed: {type(exc).__name__}"}
            await self.client.set(
                f"{PREFIX}undo-reply:{asked['reply']}", json.dumps(outcome), ex=REPLY_SECONDS
            )

    async def leave(self) -> None:
        await self.client.delete(
            f"{PREFIX}alive:{self.holder}", f"{PREFIX}undo-requests:{self.holder}"
        )

    async def _alive(self) -> None:
        await self.client.set(f"{PREFIX}alive:{self.holder}", "1", ex=max(1, int(ALIVE_SECONDS)))
