"""PostgreSQL :class:`~persistence.webhooks.base.WebhookStore` over the tables of
migration 0009. A claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP
LOCKED)``: senders on several instances each take different due rows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from persistence.drivers.postgres import PostgresDatabase
from persistence.errors import NotFound, StorageError
from persistence.webhooks.base import (
    Delivery,
    Notification,
    Status,
    Subscription,
    check_subscription,
    dump,
)

_SUB = "id, owner, url, events::text AS events, secret, score_id, created_at"
_DEL = (
    "id, webhook_id, event, payload::text AS payload, status, attempts, next_at, created_at, "
    "last_status, last_error, delivered_at"
)


def _subscription(row: Mapping[str, Any]) -> Subscription:
    return Subscription(
        row["id"],
        row["owner"],
        row["url"],
        tuple(json.loads(row["events"])),
        row["secret"],
        row["score_id"],
        float(row["created_at"]),
    )


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        int(row["id"]),
        row["webhook_id"],
        row["event"],
        json.loads(row["payload"]),
        row["status"],
        int(row["attempts"]),
        float(row["next_at"]),
        float(row["created_at"]),
        row["last_status"],
        row["last_error"],
        row["delivered_at"],
    )


class PostgresWebhookStore:
    """In the database of a :class:`~persistence.drivers.postgres.PostgresStorage` (pass
    its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def close(self) -> None:
        return None

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        check_subscription(subscription)
        created = subscription.created_at or self._clock()
        try:
            async with self.db.connection() as conn:
                await conn.execute(
                    "INSERT INTO webhooks (id, owner, url, events, secret, score_id, created_at)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
                    subscription.id,
                    subscription.owner,
                    subscription.url,
                    json.dumps(list(subscription.events)),
                    subscription.secret,
                    subscription.score_id,
                    created,
                )
        except StorageError as exc:
            if isinstance(exc.__cause__, asyncpg.ForeignKeyViolationError):
                raise NotFound(f"no score {subscription.score_id!r}") from None
            raise
        return Subscription(
            subscription.id,
            subscription.owner,
            subscription.url,
            tuple(subscription.events),
            subscription.secret,
            subscription.score_id,
            created,
        )

    async def get_subscription(self, subscription_id: str) -> Subscription:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(f"SELECT {_SUB} FROM webhooks WHERE id = $1", subscription_id)
        if row is None:
            raise NotFound(f"no webhook {subscription_id!r}")
        return _subscription(row)

    async def list_subscriptions(
        self, *, owner: str | None = None, score_id: str | None = None
    ) -> list[Subscription]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_SUB} FROM webhooks WHERE ($1::text IS NULL OR owner = $1) "
                "AND ($2::text IS NULL OR score_id = $2) ORDER BY created_at, id",
                owner,
                score_id,
            )
        return [_subscription(row) for row in rows]

    async def delete_subscription(self, subscription_id: str) -> None:
        async with self.db.connection() as conn:
            status = await conn.execute("DELETE FROM webhooks WHERE id = $1", subscription_id)
        if status.endswith(" 0"):
            raise NotFound(f"no webhook {subscription_id!r}")

    async def matching(
        self, event: str, *, score_id: str | None, users: tuple[str, ...] = ()
    ) -> list[Subscription]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_SUB} FROM webhooks WHERE events ? $1 AND (score_id = $2 OR "
                "(score_id IS NULL AND owner = ANY($3::text[]))) ORDER BY created_at, id",
                event,
                score_id,
                list(users),
            )
        return [_subscription(row) for row in rows]

    async def enqueue(
        self,
        subscription_ids: list[str],
        event: str,
        payload: dict[str, Any],
        *,
        now: float,
        key: str | None = None,
    ) -> list[int]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "INSERT INTO webhook_deliveries (webhook_id, event, payload, status, next_at, "
                "created_at, dedupe_key) SELECT id, $2, $3::jsonb, 'pending', $4, $4, $5 "
                "FROM webhooks WHERE id = ANY($1::text[]) ON CONFLICT DO NOTHING RETURNING id",
                subscription_ids,
                event,
                dump(payload),
                now,
                key,
            )
        return sorted(int(row["id"]) for row in rows)

    async def claim(self, *, now: float, lease: float, limit: int) -> list[Delivery]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"UPDATE webhook_deliveries SET leased_until = $2 WHERE id IN ("
                "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1 "
                "AND leased_until <= $1 ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_DEL}",
                now,
                now + lease,
                limit,
            )
        return sorted((_delivery(row) for row in rows), key=lambda d: (d.next_at, d.id))

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
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, "
                "next_at = COALESCE($3, next_at), leased_until = 0, last_status = $4, "
                "last_error = $5, delivered_at = $6 WHERE id = $1",
                delivery_id,
                status,
                next_at,
                http_status,
                error,
                now if status == "delivered" else None,
            )

    async def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[Delivery]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_DEL} FROM webhook_deliveries WHERE webhook_id = $1 "
                "ORDER BY id DESC LIMIT $2",
                subscription_id,
                limit,
            )
        return [_delivery(row) for row in rows]

    async def prune(self, before: float) -> int:
        async with self.db.connection() as conn:
            status = await conn.execute(
                "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1",
                before,
            )
        return int(status.split()[-1])

    async def notify(self, user_id: str, kind: str, payload: dict[str, Any], *, now: float) -> int:
        async with self.db.connection() as conn:
            value = await conn.fetchval(
                "INSERT INTO notifications (user_id, kind, payload, created_at) "
                "VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
                user_id,
                kind,
                dump(payload),
                now,
            )
        return int(value)

    async def notifications(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT id, user_id, kind, payload::text AS payload, created_at, read "
                "FROM notifications WHERE user_id = $1 AND (NOT $2 OR NOT read) "
                "ORDER BY id DESC LIMIT $3",
                user_id,
                unread_only,
                limit,
            )
        return [
            Notification(
                int(r["id"]),
                r["user_id"],
                r["kind"],
                json.loads(r["payload"]),
                float(r["created_at"]),
                bool(r["read"]),
            )
            for r in rows
        ]

    async def mark_read(self, user_id: str, ids: list[int]) -> int:
        async with self.db.connection() as conn:
            status = await conn.execute(
                "UPDATE notifications SET read = true WHERE user_id = $1 "
                "AND id = ANY($2::bigint[]) AND NOT read",
                user_id,
                [int(i) for i in ids],
            )
        return int(status.split()[-1])
