"""In-process fan-out: several instances in one process share a :class:`MemoryBus`
(tests, and a model of what the Redis implementation does)."""

from __future__ import annotations

import asyncio
import time

from collab_server.fanout.base import RESYNC, Callback, Message, Subscription


class MemoryBus:
    """The shared medium; ``bus.connect(instance_id)`` gives one instance's fan-out."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, dict[Subscription, str]] = {}
        self.published = 0

    def connect(self, instance_id: str) -> MemoryFanOut:
        return MemoryFanOut(self, instance_id)

    def deliver(self, score_id: str, message: Message) -> None:
        self.published += 1
        for subscription, instance in list(self._subscriptions.get(score_id, {}).items()):
            if instance != message.instance:
                subscription.deliver(message)

    def add(self, subscription: Subscription, instance_id: str) -> None:
        self._subscriptions.setdefault(subscription.score_id, {})[subscription] = instance_id

    def remove(self, subscription: Subscription) -> None:
        subs = self._subscriptions.get(subscription.score_id)
        if subs is not None:
            subs.pop(subscription, None)
            if not subs:
                del self._subscriptions[subscription.score_id]

    def resync(self) -> None:
        """Tell every subscription it may have missed messages (as after an outage)."""
        for subs in list(self._subscriptions.values()):
            for subscription in list(subs):
                subscription.deliver(Message(RESYNC, b""))


class MemoryFanOut:
    """One instance's end of a :class:`MemoryBus`. Messages are delivered on the next
    loop iteration, in order, never to the instance that published them.
    ``failing = True`` makes ``publish`` raise (to test outages)."""

    def __init__(self, bus: MemoryBus, instance_id: str) -> None:
        self.bus = bus
        self.instance_id = instance_id
        self.failing = False
        self._subscriptions: set[Subscription] = set()

    async def publish(self, score_id: str, kind: str, payload: bytes) -> None:
        if self.failing:
            raise ConnectionError("the memory fan-out is failing (test switch)")
        message = Message(kind, payload, self.instance_id, time.time())
        asyncio.get_running_loop().call_soon(self.bus.deliver, score_id, message)

    async def subscribe(self, score_id: str, callback: Callback) -> Subscription:
        subscription = Subscription(score_id, callback)
        self._subscriptions.add(subscription)
        self.bus.add(subscription, self.instance_id)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.active = False
        self._subscriptions.discard(subscription)
        self.bus.remove(subscription)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await self.unsubscribe(subscription)
