"""The fan-out protocol: publish a message about a score to the other instances, and
receive theirs.

A message is ``(kind, payload)`` tagged with the publishing instance's id; an instance
never receives its own messages. Messages about one score arrive in publication order.
Delivery is at most once: when an implementation may have missed messages (its
connection dropped, its backlog was trimmed) it delivers one :data:`RESYNC` message to
every subscription instead, and the subscriber catches up from the source of truth (the
persistence log) and re-publishes what it could not publish meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

RESYNC = "resync"  # kind of the message that says "you may have missed messages"


@dataclass(frozen=True, slots=True)
class Message:
    """One message from another instance (``instance`` is empty for :data:`RESYNC`;
    ``sent_at``: when it was published, in epoch seconds, 0 when unknown)."""

    kind: str
    payload: bytes
    instance: str = ""
    sent_at: float = field(default=0.0, compare=False)


Callback = Callable[[Message], None]


class Subscription:
    """A handle returned by :meth:`FanOut.subscribe`; pass it to ``unsubscribe``."""

    __slots__ = ("active", "callback", "score_id")

    def __init__(self, score_id: str, callback: Callback) -> None:
        self.score_id = score_id
        self.callback = callback
        self.active = True

    def deliver(self, message: Message) -> None:
        if self.active:
            self.callback(message)


class FanOut(Protocol):
    """Messages between the instances serving the same scores."""

    instance_id: str

    async def publish(self, score_id: str, kind: str, payload: bytes) -> None:
        """Send a message to every other instance subscribed to ``score_id``. Raises
        on failure (the caller keeps what it could not publish and retries)."""
        ...

    async def subscribe(self, score_id: str, callback: Callback) -> Subscription:
        """Receive every message about ``score_id`` published after this call returns.
        ``callback`` runs on the event loop and must not block."""
        ...

    async def unsubscribe(self, subscription: Subscription) -> None: ...

    async def close(self) -> None: ...
