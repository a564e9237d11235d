"""SQLite :class:`~persistence.conversations.base.ConversationStore`: table
``session_messages`` beside the storage's tables, on the storage's connection and thread
(the same columns as the PostgreSQL table). ``AUTOINCREMENT`` keeps ids growing after a
trim; messages go with their score (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from persistence.base import check_score_id
from persistence.conversations.base import (
    Message,
    StoredMessage,
    check_keep,
    check_message,
    check_window,
    within_budget,
)
from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import NotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS session_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    author_id TEXT,
    author_kind TEXT NOT NULL CHECK (author_kind IN ('user', 'agent', 'system')),
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS session_messages_by_score ON session_messages (score_id, id);
"""


class SqliteConversationStore:
    """Messages beside a :class:`~persistence.drivers.sqlite.SqliteStorage` (pass its
    ``db``); :meth:`open` creates the table, closing is left to the storage."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    async def open(self) -> None:
        await self.db.run(
            lambda conn: conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;") and None
        )

    async def append(self, score_id: str, message: Message) -> int:
        body = check_message(score_id, message)

        def insert(conn: sqlite3.Connection) -> int:
            if conn.execute("SELECT 1 FROM scores WHERE id = ?", (score_id,)).fetchone() is None:
                raise NotFound(f"no score {score_id!r}")
            cursor = conn.execute(
                "INSERT INTO session_messages (score_id, author_id, author_kind, body, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (score_id, message.author_id, message.author_kind, body, float(message.created_at)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self.db.write(insert)

    async def recent(
        self, score_id: str, *, limit: int = 50, max_chars: int | None = None
    ) -> list[StoredMessage]:
        check_score_id(score_id)
        check_window(limit, max_chars)

        def select(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "SELECT id, author_id, author_kind, body, created_at FROM session_messages "
                "WHERE score_id = ? ORDER BY id DESC LIMIT ?",
                (score_id, limit),
            ).fetchall()

        rows = await self.db.run(select)
        return within_budget(
            [
                StoredMessage(id, score_id, author, kind, json.loads(body), at)
                for id, author, kind, body, at in rows
            ],
            max_chars,
        )

    async def trim(self, score_id: str, keep: int) -> int:
        check_score_id(score_id)
        check_keep(keep)

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM session_messages WHERE score_id = ? AND id NOT IN ("
                "SELECT id FROM session_messages WHERE score_id = ? ORDER BY id DESC "
                "LIMIT ?)",
                (score_id, score_id, keep),
            ).rowcount

        return await self.db.write(delete)
