"""Rooms on several instances editing one score: updates and presence through a
:class:`~collab_server.fanout.base.FanOut`.

Wire it in front of the persistence hooks, which it also uses to load::

    store = StoreHooks(documents)
    hooks = HookChain(FanoutHooks(fanout, store), store)

- **Load without a gap.** ``load`` subscribes to the score *before* loading it through
  ``loader``; messages that arrive meanwhile are buffered and applied in ``on_load``.
  Updates are stored before they are published (the room's flush order), so whatever
  was published before the subscription is in the loaded state, and whatever after it
  is delivered.
- **No echo, no double store.** The fan-out never delivers an instance's own messages;
  remote updates are applied with ``Origin.remote(instance)``, which the room
  broadcasts to its clients but neither stores nor publishes again.
- **Publishing never stalls a room.** ``publish`` queues; one sender task per score
  merges what is queued and publishes it, retrying with back-off while the fan-out
  fails, so local clients keep editing through a Redis outage.
- **Catching up.** On :data:`~collab_server.fanout.base.RESYNC` (the fan-out may have
  missed messages: Redis restarted, a connection dropped), on an update whose
  dependencies the room lacks, or on a message from a newer epoch, the room reloads the
  score through ``loader`` (the persistence log is the source of truth) and applies
  what it is missing; a newer epoch (a restore on another instance) resets the room.
- **Presence.** Presence accepted from this instance's connections and agents is
  published; remote entries are applied under a per-client remote owner, so they are
  never published again. A room that loads asks the others for their presence.
  Presence of clients of an instance that died stays until their clients drop it
  (y-protocols times states out after 30 s without renewal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pycrdt import merge_updates

from collab_server.errors import ProtocolViolation
from collab_server.fanout.base import RESYNC, FanOut, Message, Subscription
from collab_server.sync.hooks import LoadedState, RoomHooks
from collab_server.sync.protocol import (
    AwarenessEntry,
    Reader,
    decode_awareness,
    encode_awareness_entries,
    var_uint,
)
from collab_server.sync.room import Room
from collab_server.sync.update_check import check_update
from score_model.origin import Origin

log = logging.getLogger("orpheus.fanout")

UPDATE = "update"  # payload: varuint epoch + Yjs update
AWARENESS = "awareness"  # payload: awareness entries (y-protocols encoding)
QUERY = "query"  # "send me your presence"; empty payload
CATCH_UP_ORIGIN = Origin.remote("log")
MAX_BUFFERED = 10_000  # messages held while loading; beyond it, catch up instead


REMOTE_OWNER = "fanout:"  # owners of presence learnt from other instances start so


def remote_owner(instance: str, client_id: int) -> str:
    """Owner of a presence entry learnt from another instance (one per client, so an
    instance's many clients are not capped by ``Presence.max_owned``)."""
    return f"{REMOTE_OWNER}{instance}:{client_id}"


@dataclass(eq=False)
class _Link:
    """One score's subscription and the room it feeds."""

    score_id: str
    subscription: Subscription | None = None
    room: Room | None = None
    buffer: list[Message] = field(default_factory=list)
    overflowed: bool = False
    outbox: list[bytes] = field(default_factory=list)
    presence_out: dict[int, AwarenessEntry] = field(default_factory=dict)
    sender: asyncio.Task[None] | None = None
    catch_up: asyncio.Task[None] | None = None
    catch_up_again: bool = False


class FanoutHooks(RoomHooks):
    """Share rooms' updates and presence with other instances through ``fanout``;
    ``loader`` (the persistence hooks) loads scores and is the catch-up source."""

    def __init__(
        self,
        fanout: FanOut,
        loader: RoomHooks,
        *,
        retry_delay: float = 0.05,
        max_retry_delay: float = 1.0,
        unload_timeout: float = 5.0,
        observe_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.fanout = fanout
        self.observe_lag = observe_lag  # seconds from publication to receipt, per message
        self.loader = loader
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.unload_timeout = unload_timeout
        self.received = 0
        self.published = 0
        self.publish_failures = 0
        self.catch_ups = 0
        self._links: dict[str, _Link] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        """Whether the fan-out backend is reachable (always true in memory)."""
        return bool(getattr(self.fanout, "connected", True))

    def gauges(self) -> dict[str, float]:
        """Fan-out counters and state, for /metrics."""
        return {
            "fanout_connected": float(self.connected),
            "fanout_received": self.received,
            "fanout_published": self.published,
            "fanout_publish_failures": self.publish_failures,
            "fanout_catch_ups": self.catch_ups,
            "fanout_rooms": len(self._links),
        }

    # --- room hooks -----------------------------------------------------------------

    async def load(self, score_id: str) -> LoadedState | None:
        old = self._links.pop(score_id, None)
        if old is not None:
            await self._unlink(old)
        link = _Link(score_id)
        self._links[score_id] = link
        link.subscription = await self.fanout.subscribe(
            score_id, lambda message: self._receive(link, message)
        )
        try:
            return await self.loader.load(score_id)
        except BaseException:
            if self._links.get(score_id) is link:
                del self._links[score_id]
            await self._unlink(link)
            raise

    async def on_load(self, room: Room) -> None:
        link = self._links.get(room.score_id)
        if link is None:  # loaded by another hook: subscribe now, then catch up
            link = _Link(room.score_id)
            self._links[room.score_id] = link
            link.subscription = await self.fanout.subscribe(
                room.score_id, lambda message: self._receive(link, message)
            )
            link.overflowed = True
        link.room = room
        buffered, link.buffer = link.buffer, []
        for message in buffered:
            self._handle(link, room, message)
        if link.overflowed:
            link.overflowed = False
            self._start_catch_up(link)
        self._spawn(self._publish_quietly(room.score_id, QUERY, b""))

    async def publish(self, room: Room, update: bytes, origins: frozenset[Origin]) -> None:
        link = self._links.get(room.score_id)
        if link is None or link.room is not room:
            return
        link.outbox.append(var_uint(room.epoch) + update)
        self._ensure_sender(link)

    async def on_unload(self, room: Room) -> None:
        link = self._links.get(room.score_id)
        if link is None or link.room is not room:
            return
        del self._links[room.score_id]
        if link.sender is not None and not link.sender.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(self.unload_timeout):
                    await asyncio.shield(link.sender)
        await self._unlink(link)

    async def close(self) -> None:
        """Stop every sender and subscription (the fan-out itself stays open)."""
        for link in list(self._links.values()):
            await self._unlink(link)
        self._links.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- receiving ------------------------------------------------------------------

    def _receive(self, link: _Link, message: Message) -> None:
        room = link.room
        if room is None:
            if len(link.buffer) < MAX_BUFFERED:
                link.buffer.append(message)
            else:
                link.overflowed = True
            return
        if room.closed:
            if self._links.get(link.score_id) is link:
                del self._links[link.score_id]
                self._spawn(self._unlink(link))
            return
        self._handle(link, room, message)

    def _handle(self, link: _Link, room: Room, message: Message) -> None:
        self.received += 1
        if self.observe_lag is not None and message.sent_at:
            self.observe_lag(max(0.0, time.time() - message.sent_at))
        try:
            if message.kind == UPDATE:
                self._apply_update(link, room, message)
            elif message.kind == AWARENESS:
                for entry in decode_awareness(message.payload):
                    room.set_presence(
                        [entry], remote_owner(message.instance, entry.client_id), remote=True
                    )
            elif message.kind == QUERY:
                self._queue_presence(link, room.local_presence())
            elif message.kind == RESYNC:
                self._start_catch_up(link)
                self._ensure_sender(link)
                self._spawn(self._publish_quietly(room.score_id, QUERY, b""))
        except ProtocolViolation as exc:
            log.warning(
                "bad fan-out message: %s",
                exc,
                extra={"score": room.score_id, "instance": message.instance},
            )

    def _apply_update(self, link: _Link, room: Room, message: Message) -> None:
        reader = Reader(message.payload)
        epoch = reader.var_uint()
        update = message.payload[reader.pos :]
        if epoch < room.epoch:
            return  # from a room that has not yet learnt of a restore
        if epoch > room.epoch:
            self._start_catch_up(link)  # restored elsewhere: the catch-up resets us
            return
        try:  # pycrdt can crash on updates with missing dependencies
            check_update(update, room.state_vector())
        except ProtocolViolation:
            self._start_catch_up(link)
            return
        room.apply_update(update, Origin.remote(message.instance))

    # --- catching up from the persistence log ---------------------------------------

    def _start_catch_up(self, link: _Link) -> None:
        if link.catch_up is not None and not link.catch_up.done():
            link.catch_up_again = True
            return
        link.catch_up = self._spawn(self._catch_up(link))

    async def _catch_up(self, link: _Link) -> None:
        delay = self.retry_delay
        while True:
            link.catch_up_again = False
            room = link.room
            if room is None or room.closed or self._links.get(link.score_id) is not link:
                return
            try:
                loaded = await self.loader.load(link.score_id)
            except Exception as exc:
                log.warning(
                    "fan-out catch-up failed; retrying: %s", exc, extra={"score": link.score_id}
                )
                await asyncio.sleep(delay)
                delay = min(self.max_retry_delay, delay * 2)
                link.catch_up_again = True
                continue
            if loaded is not None and not room.closed:
                self.catch_ups += 1
                if loaded.epoch > room.epoch:
                    await room.reset(loaded.state, loaded.epoch, loaded.retired_clients)
                elif loaded.epoch == room.epoch and loaded.state:
                    room.apply_update(loaded.state, CATCH_UP_ORIGIN)
            if not link.catch_up_again:
                return

    # --- sending --------------------------------------------------------------------

    def publish_presence(self, room: Room, entries: Sequence[AwarenessEntry]) -> None:
        link = self._links.get(room.score_id)
        if link is not None and link.room is room:
            self._queue_presence(link, entries)

    def _queue_presence(self, link: _Link, entries: Sequence[AwarenessEntry]) -> None:
        for entry in entries:
            link.presence_out[entry.client_id] = entry
        if entries:
            self._ensure_sender(link)

    def _ensure_sender(self, link: _Link) -> None:
        if link.sender is None or link.sender.done():
            link.sender = self._spawn(self._send(link))

    async def _send(self, link: _Link) -> None:
        """Publish the link's queue, merged, in order; retry while publishing fails."""
        delay = self.retry_delay
        while link.outbox or link.presence_out:
            try:
                if link.outbox:
                    if len(link.outbox) > 1:
                        link.outbox[:] = [_merge_same_epoch(link.outbox)]
                    await self.fanout.publish(link.score_id, UPDATE, link.outbox[0])
                    del link.outbox[0]
                if link.presence_out:
                    entries = list(link.presence_out.values())
                    await self.fanout.publish(
                        link.score_id, AWARENESS, encode_awareness_entries(entries)
                    )
                    for entry in entries:
                        if link.presence_out.get(entry.client_id) is entry:
                            del link.presence_out[entry.client_id]
                self.published += 1
                delay = self.retry_delay
            except Exception as exc:
                self.publish_failures += 1
                if self.publish_failures == 1 or self.publish_failures % 100 == 0:
                    log.warning(
                        "fan-out publish failed; retrying: %s", exc, extra={"score": link.score_id}
                    )
                await asyncio.sleep(delay)
                delay = min(self.max_retry_delay, delay * 2)
                if self._links.get(link.score_id) is not link:
                    return  # unloaded meanwhile: its updates are in the log

    async def _publish_quietly(self, score_id: str, kind: str, payload: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.fanout.publish(score_id, kind, payload)

    # --- helpers --------------------------------------------------------------------

    async def _unlink(self, link: _Link) -> None:
        link.room = None
        for task in (link.sender, link.catch_up):
            if task is not None and not task.done():
                task.cancel()
        if link.subscription is not None:
            subscription, link.subscription = link.subscription, None
            with contextlib.suppress(Exception):
                await self.fanout.unsubscribe(subscription)

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _merge_same_epoch(payloads: list[bytes]) -> bytes:
    """Merge queued ``epoch + update`` payloads; updates of older epochs are dropped
    (a restore happened here: they are obsolete)."""
    decoded = []
    for payload in payloads:
        reader = Reader(payload)
        epoch = reader.var_uint()
        decoded.append((epoch, payload[reader.pos :]))
    newest = max(epoch for epoch, _ in decoded)
    updates = [update for epoch, update in decoded if epoch == newest]
    merged = updates[0] if len(updates) == 1 else merge_updates(*updates)
    return var_uint(newest) + merged
