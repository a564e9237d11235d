"""Room hooks that raise webhook events from document changes made on this instance
(changes from other instances are theirs to report, so each is reported once):

- ``score.changed``, debounced: at most one per score every ``debounce`` seconds, sent
  ``debounce`` seconds after the first change of a burst;
- ``comment.added`` for each comment that appears in the ``comments`` root, whoever
  wrote it (a browser, REST, an agent), with @mention notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from collab_server.sync.hooks import RoomHooks
from collab_server.webhooks.events import WebhookEvents
from score_model.origin import Origin, OriginKind

if TYPE_CHECKING:
    from collab_server.sync.room import Room

log = logging.getLogger("orpheus.webhooks")
_NOT_LOCAL = {OriginKind.REMOTE, OriginKind.STORE}


def _comment_ids(room: Room) -> set[str]:
    return {str(key) for key in room.score.comments.keys()}  # noqa: SIM118 (pycrdt typing)


class WebhookRoomHooks(RoomHooks):
    def __init__(self, events: WebhookEvents, *, debounce: float = 5.0) -> None:
        self.events = events
        self.debounce = debounce
        self._comments: dict[str, set[str]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}

    async def on_load(self, room: Room) -> None:
        self._comments[room.score_id] = _comment_ids(room)

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        score_id = room.score_id
        current = _comment_ids(room)
        added = current - self._comments.get(score_id, set())
        self._comments[score_id] = current
        if all(origin.kind in _NOT_LOCAL for origin in origins):
            return
        if score_id not in self._timers:
            self._timers[score_id] = asyncio.get_running_loop().create_task(
                self._changed_later(score_id), name=f"webhooks-changed-{score_id}"
            )
        for comment_id in sorted(added):  # in the background: the room does not wait
            value: Any = room.score.comments.get(comment_id)
            if isinstance(value, dict):
                self.events.soon(
                    self.events.comment_added(score_id, comment_id, dict(value)),
                    f"comment.added {comment_id} of {score_id}",
                )

    async def on_unload(self, room: Room) -> None:
        self._comments.pop(room.score_id, None)  # a pending score.changed still goes out

    async def close(self) -> None:
        for task in list(self._timers.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers.clear()

    async def _changed_later(self, score_id: str) -> None:
        try:
            await asyncio.sleep(self.debounce)
        finally:
            self._timers.pop(score_id, None)
        try:
            await self.events.emit("score.changed", score_id, {})
        except Exception:
            log.exception("could not report a change of %s", score_id)
