"""Turns what happens to scores into outbox rows (:mod:`persistence.webhooks`), and
@mentions into notifications.

Who gets an event of a score: the subscriptions on that score, and the per-user
subscriptions of the score's owner. A ``mention`` goes to the mentioned user's
per-user subscriptions (and to their notifications, ``GET /api/me/notifications``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from persistence.base import ScoreCatalog
from persistence.errors import NotFound
from persistence.webhooks.base import WebhookStore

log = logging.getLogger("orpheus.webhooks")

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")
#: ``may_read(score_id, user_id)``: whether that user may see the score.
MayRead = Callable[[str, str], Awaitable[bool]]


def mentions(text: str) -> list[str]:
    """The user names ``@name`` in ``text``, in order, each once."""
    return list(dict.fromkeys(m.rstrip(".-").lower() for m in MENTION.findall(text)))


class WebhookEvents:
    """``wake`` is called after rows were added (the local sender's :meth:`wake`)."""

    def __init__(
        self,
        store: WebhookStore,
        catalog: ScoreCatalog,
        *,
        may_read: MayRead,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._catalog = catalog
        self._may_read = may_read
        self._wake = wake
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    async def emit(
        self,
        event: str,
        score_id: str | None,
        data: dict[str, Any],
        *,
        users: tuple[str, ...] | None = None,
        key: str | None = None,
    ) -> int:
        """Enqueue ``event`` for every subscription that wants it; how many rows."""
        if users is None:
            users = ()
            if score_id is not None:
                try:
                    owner = (await self._catalog.get_score(score_id)).owner
                except NotFound:
                    return 0
                users = (owner,) if owner else ()
        subscriptions = await self.store.matching(event, score_id=score_id, users=users)
        if not subscriptions:
            return 0
        payload = {"score_id": score_id, **data} if score_id is not None else dict(data)
        added = await self.store.enqueue(
            [s.id for s in subscriptions], event, payload, now=self._clock(), key=key
        )
        if added:
            self._wake()
        return len(added)

    def emit_soon(self, event: str, score_id: str | None, data: dict[str, Any], **kw: Any) -> None:
        """:meth:`emit` from synchronous code (callbacks); failures are logged."""
        self.soon(self.emit(event, score_id, data, **kw), f"{event} of {score_id}")

    def soon(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``work`` in the background (:meth:`drain` waits for it); log failures."""
        task = asyncio.get_running_loop().create_task(self._logged(work, what))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def comment_added(self, score_id: str, comment_id: str, comment: dict[str, Any]) -> None:
        """``comment.added``, and a notification plus a ``mention`` event for every user
        the text mentions who may read the score (not the author)."""
        data = {"comment_id": comment_id, "comment": comment}
        await self.emit("comment.added", score_id, data, key=f"comment:{comment_id}")
        author = comment.get("author")
        for user in mentions(str(comment.get("text", ""))):
            if user == author or not await self._may_read(score_id, user):
                continue
            payload = {
                "score_id": score_id,
                "comment_id": comment_id,
                "by": author,
                "text": comment.get("text", ""),
            }
            await self.store.notify(user, "mention", payload, now=self._clock())
            await self.emit("mention", None, payload, users=(user,))

    async def drain(self) -> None:
        """Wait for the events emitted with :meth:`emit_soon` so far."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _logged(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await work
        except Exception:
            log.exception("could not enqueue webhook event %s", what)
