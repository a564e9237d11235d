"""PostgreSQL :class:`~persistence.conversations.base.ConversationStore` over the
``session_messages`` table (migrations 0003 and 0005): JSONB bodies, identity ids,
messages go with their score (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from persistence.base import check_score_id
from persistence.conversations.base import (
    Message,
    StoredMessage,
    check_keep,
    check_message,
    check_window,
    within_budget,
)
from persistence.drivers.postgres import PostgresDatabase
from persistence.errors import NotFound


class PostgresConversationStore:
    """Messages in the database of a :class:`~persistence.drivers.postgres.PostgresStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def append(self, score_id: str, message: Message) -> int:
        body = check_message(score_id, message)
        async with self.db.connection() as conn:
            try:
                new_id: int = await conn.fetchval(
                    "INSERT INTO session_messages (score_id, author_id, author_kind, body, "
                    "created_at) VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id",
                    score_id,
                    message.author_id,
                    message.author_kind,
                    body,
                    datetime.fromtimestamp(message.created_at, UTC),
                )
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no score {score_id!r}") from None
        return new_id

    async def recent(
        self, score_id: str, *, limit: int = 50, max_chars: int | None = None
    ) -> list[StoredMessage]:
        check_score_id(score_id)
        check_window(limit, max_chars)
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id, author_id, author_kind, body::text AS body, created_at "
                "FROM session_messages WHERE score_id = $1 ORDER BY id DESC LIMIT $2",
                score_id,
                limit,
            )
        return within_budget(
            [
                StoredMessage(
                    row["id"],
                    score_id,
                    row["author_id"],
                    row["author_kind"],
                    json.loads(row["body"]),
                    row["created_at"].timestamp(),
                )
                for row in rows
            ],
            max_chars,
        )

    async def trim(self, score_id: str, keep: int) -> int:
        check_score_id(score_id)
        check_keep(keep)
        async with self.db.connection() as conn:
            status = await conn.execute(
                "DELETE FROM session_messages WHERE score_id = $1 AND id NOT IN ("
                "SELECT id FROM session_messages WHERE score_id = $1 ORDER BY id DESC "
                "LIMIT $2)",
                score_id,
                keep,
            )
        return int(status.split()[-1])  # "DELETE <n>"
