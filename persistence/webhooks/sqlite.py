"""SQLite :class:`~persistence.webhooks.base.WebhookStore`: tables ``webhooks``,
``webhook_deliveries`` and ``notifications`` beside the storage's tables, on its
connection and thread (the same columns as PostgreSQL's, migration 0009). A claim is one
``BEGIN IMMEDIATE`` transaction, so processes sharing the file never take the same row."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import NotFound
from persistence.webhooks.base import (
    Delivery,
    Notification,
    Status,
    Subscription,
    check_subscription,
    dump,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    score_id TEXT REFERENCES scores (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_score ON webhooks (score_id);
CREATE INDEX IF NOT EXISTS webhooks_by_owner ON webhooks (owner);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    leased_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    dedupe_key TEXT,
    UNIQUE (webhook_id, dedupe_key)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (user_id, id);
"""
_SUB = "id, owner, url, events, secret, score_id, created_at"
_DEL = (
    "id, webhook_id, event, payload, status, attempts, next_at, created_at, last_status, "
    "last_error, delivered_at"
)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        row[0], row[1], row[2], tuple(json.loads(row[3])), row[4], row[5], float(row[6])
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        int(row[0]),
        row[1],
        row[2],
        json.loads(row[3]),
        row[4],
        int(row[5]),
        float(row[6]),
        float(row[7]),
        row[8],
        row[9],
        row[10],
    )


class SqliteWebhookStore:
    """Beside a :class:`~persistence.drivers.sqlite.SqliteStorage` (pass its ``db``);
    :meth:`open` creates the tables, closing is left to the storage."""

    def __init__(self, db: SqliteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def open(self) -> None:
        await self.db.run(
            lambda conn: conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;") and None
        )

    async def close(self) -> None:
        return None

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        check_subscription(subscription)
        created = subscription.created_at or self._clock()
        stored = Subscription(
            subscription.id,
            subscription.owner,
            subscription.url,
            tuple(subscription.events),
            subscription.secret,
            subscription.score_id,
            created,
        )

        def insert(conn: sqlite3.Connection) -> None:
            if (
                stored.score_id is not None
                and conn.execute("SELECT 1 FROM scores WHERE id = ?", (stored.score_id,)).fetchone()
                is None
            ):
                raise NotFound(f"no score {stored.score_id!r}")
            conn.execute(
                f"INSERT INTO webhooks ({_SUB}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.id,
                    stored.owner,
                    stored.url,
                    json.dumps(list(stored.events)),
                    stored.secret,
                    stored.score_id,
                    created,
                ),
            )

        await self.db.write(insert)
        return stored

    async def get_subscription(self, subscription_id: str) -> Subscription:
        row = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT {_SUB} FROM webhooks WHERE id = ?", (subscription_id,)
            ).fetchone()
        )
        if row is None:
            raise NotFound(f"no webhook {subscription_id!r}")
        return _subscription(row)

    async def list_subscriptions(
        self, *, owner: str | None = None, score_id: str | None = None
    ) -> list[Subscription]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT {_SUB} FROM webhooks WHERE (?1 IS NULL OR owner = ?1) "
                "AND (?2 IS NULL OR score_id = ?2) ORDER BY created_at, id",
                (owner, score_id),
            ).fetchall()
        )
        return [_subscription(row) for row in rows]

    async def delete_subscription(self, subscription_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM webhooks WHERE id = ?", (subscription_id,)).rowcount == 0:
                raise NotFound(f"no webhook {subscription_id!r}")

        await self.db.write(delete)

    async def matching(
        self, event: str, *, score_id: str | None, users: tuple[str, ...] = ()
    ) -> list[Subscription]:
        marks = ",".join("?" * len(users)) or "NULL"
        rows = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT {_SUB} FROM webhooks WHERE (score_id = ? OR "
                f"(score_id IS NULL AND owner IN ({marks}))) ORDER BY created_at, id",
                (score_id, *users),
            ).fetchall()
        )
        return [s for s in map(_subscription, rows) if event in s.events]

    async def enqueue(
        self,
        subscription_ids: list[str],
        event: str,
        payload: dict[str, Any],
        *,
        now: float,
        key: str | None = None,
    ) -> list[int]:
        body = dump(payload)

        def insert(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for subscription_id in subscription_ids:
                cursor = conn.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event, payload, status, "
                    "next_at, created_at, dedupe_key) SELECT id, ?, ?, 'pending', ?, ?, ? "
                    "FROM webhooks WHERE id = ? ON CONFLICT DO NOTHING",
                    (event, body, now, now, key, subscription_id),
                )
                if cursor.rowcount:
                    assert cursor.lastrowid is not None
                    ids.append(cursor.lastrowid)
            return ids

        return await self.db.write(insert)

    async def claim(self, *, now: float, lease: float, limit: int) -> list[Delivery]:
        def take(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(
                f"SELECT {_DEL} FROM webhook_deliveries WHERE status = 'pending' "
                "AND next_at <= ? AND leased_until <= ? ORDER BY next_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE webhook_deliveries SET leased_until = ? WHERE id = ?",
                [(now + lease, row[0]) for row in rows],
            )
            return rows

        return [_delivery(row) for row in await self.db.write(take)]

    async def finish(
        self,
        delivery_id: int,
        *,
        now: float,
        status: Status,
        http_status: int | None,
        error: str | None,
        next_at: float | None = None,
    ) -> None:
        await self.db.write(
            lambda conn: (
                conn.execute(
                    "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, "
                    "next_at = COALESCE(?, next_at), leased_until = 0, last_status = ?, "
                    "last_error = ?, delivered_at = ? WHERE id = ?",
                    (
                        status,
                        next_at,
                        http_status,
                        error,
                        now if status == "delivered" else None,
                        delivery_id,
                    ),
                )
                and None
            )
        )

    async def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[Delivery]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT {_DEL} FROM webhook_deliveries WHERE webhook_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (subscription_id, limit),
            ).fetchall()
        )
        return [_delivery(row) for row in rows]

    async def prune(self, before: float) -> int:
        return await self.db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?",
                    (before,),
                ).rowcount
            )
        )

    async def notify(self, user_id: str, kind: str, payload: dict[str, Any], *, now: float) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO notifications (user_id, kind, payload, created_at) "
                "VALUES (?, ?, ?, ?)",
                (user_id, kind, dump(payload), now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self.db.write(insert)

    async def notifications(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT id, user_id, kind, payload, created_at, read FROM notifications "
                "WHERE user_id = ? AND (? = 0 OR read = 0) ORDER BY id DESC LIMIT ?",
                (user_id, int(unread_only), limit),
            ).fetchall()
        )
        return [
            Notification(int(r[0]), r[1], r[2], json.loads(r[3]), float(r[4]), bool(r[5]))
            for r in rows
        ]

    async def mark_read(self, user_id: str, ids: list[int]) -> int:
        def update(conn: sqlite3.Connection) -> int:
            return sum(
                conn.execute(
                    "UPDATE notifications SET read = 1 WHERE id = ? AND user_id = ? AND read = 0",
                    (int(i), user_id),
                ).rowcount
                for i in ids
            )

        return await self.db.write(update)
