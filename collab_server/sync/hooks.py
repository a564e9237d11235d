"""Room hooks: how persistence, cross-instance fan-out and analysis attach to rooms.

The room does documents and connections; everything else is a :class:`RoomHooks` object
whose methods default to doing nothing. :class:`HookChain` runs several in order.

Call order for one room::

    load(score_id)            once, before the room exists (first hook that answers wins)
    on_load(room)             once, before any client joins (fan-out: subscribe, replay)
    store(room, updates)      per flush, before the updates are broadcast; raising makes
                              the room keep the updates and retry (StaleDocument: give up)
    on_change(room, origins)  per flush, after the broadcast (analysis: debounce a job)
    publish(room, update, origins)
                              per flush with local changes, after the broadcast (fan-out)
    on_unload(room)           once, after the final store (persistence: compact)

``on_change`` and ``publish`` run in the room's flush loop: return quickly and schedule
longer work elsewhere, or the next broadcast waits.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from score_model.origin import Origin

if TYPE_CHECKING:
    from collab_server.sync.protocol import AwarenessEntry
    from collab_server.sync.room import Room


class LoadedState(NamedTuple):
    """What a room starts from."""

    state: bytes
    epoch: int = 0
    retired_clients: frozenset[int] = frozenset()


class RoomHooks:
    """Do-nothing hooks; subclass and override what you need."""

    async def load(self, score_id: str) -> LoadedState | None:
        """The stored state, or None if this hook does not load documents. Raise
        :class:`~collab_server.errors.ScoreNotFound` for an unknown score."""
        return None

    async def on_load(self, room: Room) -> None:
        return None

    async def store(self, room: Room, updates: Sequence[bytes]) -> None:
        """Durably store ``updates`` (client, agent and server changes, in order)."""
        return None

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        return None

    async def publish(self, room: Room, update: bytes, origins: frozenset[Origin]) -> None:
        """Share a change made on this instance (remote updates are never published)."""
        return None

    def publish_presence(self, room: Room, entries: Sequence[AwarenessEntry]) -> None:
        """Share presence changes made on this instance (its connections and in-process
        participants; presence learnt from other instances is never passed here).
        Called synchronously from the room: queue, never block."""
        return None

    async def on_unload(self, room: Room) -> None:
        return None


class HookChain(RoomHooks):
    """Several hooks run in the given order. ``load``: the first that answers; ``store``
    and ``on_load``: stop at the first failure; the others: all run, then the first
    failure is raised."""

    def __init__(self, *hooks: RoomHooks) -> None:
        self.hooks = tuple(hooks)

    async def load(self, score_id: str) -> LoadedState | None:
        for hook in self.hooks:
            loaded = await hook.load(score_id)
            if loaded is not None:
                return loaded
        return None

    async def on_load(self, room: Room) -> None:
        for hook in self.hooks:
            await hook.on_load(room)

    async def store(self, room: Room, updates: Sequence[bytes]) -> None:
        for hook in self.hooks:
            await hook.store(room, updates)

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        await _each([hook.on_change(room, origins) for hook in self.hooks])

    async def publish(self, room: Room, update: bytes, origins: frozenset[Origin]) -> None:
        await _each([hook.publish(room, update, origins) for hook in self.hooks])

    def publish_presence(self, room: Room, entries: Sequence[AwarenessEntry]) -> None:
        for hook in self.hooks:
            hook.publish_presence(room, entries)

    async def on_unload(self, room: Room) -> None:
        await _each([hook.on_unload(room) for hook in self.hooks])


async def _each(calls: list[Coroutine[Any, Any, None]]) -> None:
    """Await every call in order even if one fails; then raise the first failure."""
    first: BaseException | None = None
    for call in calls:
        try:
            await call
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first
