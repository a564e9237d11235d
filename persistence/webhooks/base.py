"""Webhooks and notifications: the storage protocol.

- A :class:`Subscription` sends the events it names to a URL: per score (``score_id``)
  or per user (``score_id`` is ``None``: events of the scores its owner owns, and the
  owner's own notifications, such as @mentions).
- The outbox: every event for a subscription becomes one :class:`Delivery` row, written
  before anything is sent. Senders on any instance :meth:`WebhookStore.claim` due rows
  with a lease, so two instances never send the same row at once; a sender that dies
  lets its lease run out and another takes the row over.
- :class:`Notification`: what a user was told (an @mention), readable over REST.

Times are Unix seconds (floats).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from persistence.base import check_score_id

EVENTS: tuple[str, ...] = (
    "score.changed",
    "version.created",
    "analysis.ready",
    "agent_task.finished",
    "comment.added",
    "mention",
)
Status = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    owner: str
    url: str
    events: tuple[str, ...]
    secret: str
    score_id: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one subscription; ``attempts`` made so far, the next at ``next_at``."""

    id: int
    subscription_id: str
    event: str
    payload: dict[str, Any]
    status: Status
    attempts: int
    next_at: float
    created_at: float
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    user_id: str
    kind: str
    payload: dict[str, Any]
    created_at: float
    read: bool = False


class WebhookStore(Protocol):
    async def add_subscription(self, subscription: Subscription) -> Subscription:
        """Store it (``created_at`` 0 becomes now); :class:`NotFound` for an unknown score."""
        ...

    async def get_subscription(self, subscription_id: str) -> Subscription:
        """:class:`NotFound` if absent."""
        ...

    async def list_subscriptions(
        self, *, owner: str | None = None, score_id: str | None = None
    ) -> list[Subscription]:
        """Subscriptions of ``owner`` and/or on ``score_id``, oldest first."""
        ...

    async def delete_subscription(self, subscription_id: str) -> None:
        """Delete it with its deliveries; :class:`NotFound` if absent."""
        ...

    async def matching(
        self, event: str, *, score_id: str | None, users: tuple[str, ...] = ()
    ) -> list[Subscription]:
        """Subscriptions that want ``event``: those on ``score_id`` and the per-user
        subscriptions of ``users``."""
        ...

    async def enqueue(
        self,
        subscription_ids: list[str],
        event: str,
        payload: dict[str, Any],
        *,
        now: float,
        key: str | None = None,
    ) -> list[int]:
        """Add one pending delivery per subscription, due at ``now``; their ids. With a
        ``key``, a subscription that has a delivery of that key already gets no other
        (instances that all saw the same event enqueue it once)."""
        ...

    async def claim(self, *, now: float, lease: float, limit: int) -> list[Delivery]:
        """Take up to ``limit`` due pending deliveries (``next_at <= now``, no live lease)
        and lease them until ``now + lease``: no other caller gets them meanwhile."""
        ...

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
        """Record an attempt: ``delivered``, ``failed`` (given up), or ``pending`` again
        at ``next_at``. Releases the lease."""
        ...

    async def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[Delivery]:
        """The delivery log of a subscription, newest first."""
        ...

    async def prune(self, before: float) -> int:
        """Delete delivered and failed deliveries created before ``before``; how many."""
        ...

    async def notify(self, user_id: str, kind: str, payload: dict[str, Any], *, now: float) -> int:
        """Store a notification for ``user_id``; its id."""
        ...

    async def notifications(
        self, user_id: str, *, unread_only: bool = False, limit: int = 50
    ) -> list[Notification]:
        """``user_id``'s notifications, newest first."""
        ...

    async def mark_read(self, user_id: str, ids: list[int]) -> int:
        """Mark ``user_id``'s notifications ``ids`` read; how many changed."""
        ...

    async def close(self) -> None: ...


def new_subscription_id() -> str:
    return "wh_" + secrets.token_hex(8)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_subscription(subscription: Subscription) -> None:
    """The shared argument checks of :meth:`WebhookStore.add_subscription`."""
    if subscription.score_id is not None:
        check_score_id(subscription.score_id)
    if not subscription.events or any(e not in EVENTS for e in subscription.events):
        raise ValueError(f"events must be a non-empty subset of {', '.join(EVENTS)}")
    if not subscription.url or len(subscription.url) > 2000:
        raise ValueError("url must be 1 to 2000 characters")
    if not subscription.secret or not subscription.owner:
        raise ValueError("a subscription needs an owner and a secret")


def dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)
