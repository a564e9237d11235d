"""In-memory :class:`~persistence.webhooks.base.WebhookStore` (tests, ``memory://``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from persistence.base import ScoreCatalog
from persistence.errors import NotFound
from persistence.webhooks.base import (
    Delivery,
    Notification,
    Status,
    Subscription,
    check_subscription,
)


class MemoryWebhookStore:
    """Dictionaries; safe within one event loop (one instance: claims cannot race)."""

    def __init__(self, catalog: ScoreCatalog, *, clock: Callable[[], float] = time.time) -> None:
        self._catalog = catalog
        self._clock = clock
        self._subscriptions: dict[str, Subscription] = {}
        self._deliveries: dict[int, Delivery] = {}
        self._leases: dict[int, float] = {}
        self._keys: set[tuple[str, str]] = set()
        self._notifications: dict[int, Notification] = {}
        self._next_id = 0

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        check_subscription(subscription)
        if subscription.score_id is not None:
            await self._catalog.get_score(subscription.score_id)  # NotFound
        if not subscription.created_at:
            subscription = dataclasses.replace(subscription, created_at=self._clock())
        self._subscriptions[subscription.id] = subscription
        return subscription

    async def get_subscription(self, subscription_id: str) -> Subscription:
        try:
            return self._subscriptions[subscription_id]
        except KeyError:
            raise NotFound(f"no webhook {subscription_id!r}") from None

    async def list_subscriptions(
        self, *, owner: str | None = None, score_id: str | None = None
    ) -> list[Subscription]:
        found = [
            s
            for s in self._subscriptions.values()
            if (owner is None or s.owner == owner) and (score_id is None or s.score_id == score_id)
        ]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def delete_subscription(self, subscription_id: str) -> None:
        await self.get_subscription(subscription_id)
        del self._subscriptions[subscription_id]
        for key in [k for k, d in self._deliveries.items() if d.subscription_id == subscription_id]:
            del self._deliveries[key]

    async def matching(
        self, event: str, *, score_id: str | None, users: tuple[str, ...] = ()
    ) -> list[Subscription]:
        found = [
            s
            for s in self._subscriptions.values()
            if event in s.events
            and (
                (score_id is not None and s.score_id == score_id)
                or (s.score_id is None and s.owner in users)
            )
        ]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def enqueue(
        self,
        subscription_ids: list[str],
        event: str,
        payload: dict[str, Any],
        *,
        now: float,
        key: str | None = None,
    ) -> list[int]:
        ids = []
        for subscription_id in subscription_ids:
            if subscription_id not in self._subscriptions:
                continue
            if key is not None:
                if (subscription_id, key) in self._keys:
                    continue
                self._keys.add((subscription_id, key))
            self._next_id += 1
            self._deliveries[self._next_id] = Delivery(
                self._next_id, subscription_id, event, payload, "pending", 0, now, now
            )
            ids.append(self._next_id)
        return ids

    async def claim(self, *, now: float, lease: float, limit: int) -> list[Delivery]:
        due = [
            d
            for d in sorted(self._deliveries.values(), key=lambda d: (d.next_at, d.id))
            if d.status == "pending" and d.next_at <= now and self._leases.get(d.id, 0.0) <= now
        ][:limit]
        for delivery in due:
            self._leases[delivery.id] = now + lease
        return due

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
        current = self._deliveries.get(delivery_id)
        self._leases.pop(delivery_id, None)
        if current is None:
            return
        self._deliveries[delivery_id] = dataclasses.replace(
            current,
            status=status,
            attempts=current.attempts + 1,
            next_at=next_at if next_at is not None else current.next_at,
            last_status=http_status,
            last_error=error,
            delivered_at=now if status == "delivered" else None,
        )

    async def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[Delivery]:
        found = [d for d in self._deliveries.values() if d.subscription_id == subscription_id]
        return sorted(found, key=lambda d: -d.id)[:limit]

    async def prune(self, before: float) -> int:
        old = [
            k
            for k, d in self._deliveries.items()
            if d.status != "pending" and d.created_at < before
        ]
        for key in old:
            del self._deliveries[key]
        return len(old)

    async def notify(self, user_id: str, kind: str, payload: dict[str, Any], *, now: float) -> int:
        self._next_id += 1
        self._notifications[self._next_id] = Notification(
            self._next_id, user_id, kind, payload, now
        )
        return self._next_id

    async def notifications(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        found = [
            n
            for n in self._notifications.values()
            if n.user_id == user_id and not (unread_only and n.read)
        ]
        return sorted(found, key=lambda n: -n.id)[:limit]

    async def mark_read(self, user_id: str, ids: list[int]) -> int:
        changed = 0
        for notification_id in ids:
            current = self._notifications.get(notification_id)
            if current is not None and current.user_id == user_id and not current.read:
                self._notifications[notification_id] = dataclasses.replace(current, read=True)
                changed += 1
        return changed

    def forget(self, score_id: str) -> None:
        """Drop the subscriptions on a deleted score (as the foreign key would)."""
        for sub in [s for s in self._subscriptions.values() if s.score_id == score_id]:
            del self._subscriptions[sub.id]
            for key in [k for k, d in self._deliveries.items() if d.subscription_id == sub.id]:
                del self._deliveries[key]

    async def close(self) -> None:
        return None
