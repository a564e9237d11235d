"""Conversation memory per score, over :class:`persistence.conversations.base.ConversationStore`:
what people asked the agents and what they answered, read back (newest within a character
budget) so a follow-up question has its context, and trimmed to a number of messages."""

from __future__ import annotations

import time
from typing import Any

from agents.config import AgentConfig
from persistence.conversations.base import ConversationStore, Message


class Memory:
    """The conversation of one score."""

    def __init__(self, store: ConversationStore, score_id: str, config: AgentConfig) -> None:
        self.store = store
        self.score_id = score_id
        self.config = config

    async def remember_user(self, user: str | None, text: str, **extra: Any) -> int:
        return await self.store.append(
            self.score_id, Message(user, "user", {"text": text, **extra}, time.time())
        )

    async def remember_agent(self, agent: str, text: str, **extra: Any) -> int:
        message_id = await self.store.append(
            self.score_id, Message(agent, "agent", {"text": text, **extra}, time.time())
        )
        if message_id % 50 == 0:  # trim now and then, not on every message
            await self.store.trim(self.score_id, self.config.memory_keep)
        return message_id

    async def recall(self) -> list[dict[str, Any]]:
        """Recent messages, oldest first: ``{"author", "kind", "text"}``."""
        messages = await self.store.recent(
            self.score_id, limit=self.config.memory_messages, max_chars=self.config.memory_chars
        )
        return [
            {"author": m.author_id, "kind": m.author_kind, "text": str(m.body.get("text", ""))}
            for m in messages
        ]
