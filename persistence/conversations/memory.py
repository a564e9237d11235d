"""In-memory :class:`~persistence.conversations.base.ConversationStore` (tests,
``memory://``). Bound to a catalog, it refuses unknown scores like the SQL backends;
the memory backend calls :meth:`MemoryConversationStore.forget` when a score is deleted.
"""

from __future__ import annotations

import json
from itertools import count

from persistence.base import ScoreCatalog, check_score_id
from persistence.conversations.base import (
    Message,
    StoredMessage,
    check_keep,
    check_message,
    check_window,
    within_budget,
)


class MemoryConversationStore:
    """Messages in lists per score; safe within one event loop."""

    def __init__(self, catalog: ScoreCatalog | None = None) -> None:
        self._catalog = catalog
        self._ids = count(1)
        self._messages: dict[str, list[StoredMessage]] = {}

    async def append(self, score_id: str, message: Message) -> int:
        text = check_message(score_id, message)
        if self._catalog is not None:
            await self._catalog.get_score(score_id)  # NotFound for an unknown score
        stored = StoredMessage(
            next(self._ids),
            score_id,
            message.author_id,
            message.author_kind,
            json.loads(text),
            float(message.created_at),
        )
        self._messages.setdefault(score_id, []).append(stored)
        return stored.id

    async def recent(
        self, score_id: str, *, limit: int = 50, max_chars: int | None = None
    ) -> list[StoredMessage]:
        check_score_id(score_id)
        check_window(limit, max_chars)
        messages = self._messages.get(score_id, [])
        newest = messages[::-1][:limit]
        return within_budget(newest, max_chars)

    async def trim(self, score_id: str, keep: int) -> int:
        check_score_id(score_id)
        check_keep(keep)
        messages = self._messages.get(score_id, [])
        dropped = max(len(messages) - keep, 0)
        if dropped:
            self._messages[score_id] = messages[dropped:]
        return dropped

    def forget(self, score_id: str) -> None:
        """Drop every message of a score (its score was deleted)."""
        self._messages.pop(score_id, None)
