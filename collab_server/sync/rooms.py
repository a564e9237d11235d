"""The rooms of one server instance: loaded on first use, unloaded when idle.

Loading is single-flight: however many clients ask for an unloaded score at the same
moment, it is loaded once and every one of them gets the same room. A failed load is
reported to everyone waiting for it and is not cached. An idle room (no connections, no
holders, nothing pending) is unloaded after ``idle_timeout`` seconds: its last changes
are stored first (a failing store keeps the room loaded and retrying), then
``hooks.on_unload`` runs (persistence compacts there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from collab_server.errors import OrpheusError, Unavailable
from collab_server.settings import PRESENCE_INTERVAL_MS, ROOM_IDLE_SECONDS
from collab_server.sync.hooks import LoadedState, RoomHooks
from collab_server.sync.room import Room, RoomClosed
from collab_server.sync.room_metrics import RoomMetrics

log = logging.getLogger("orpheus.rooms")


class RoomManager:
    """Owns the live rooms. ``hooks`` load, store and observe them (see :mod:`.hooks`)."""

    def __init__(
        self,
        hooks: RoomHooks | None = None,
        *,
        idle_timeout: float = ROOM_IDLE_SECONDS,
        close_timeout: float = 10.0,
        metrics: RoomMetrics | None = None,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        presence_interval: float = PRESENCE_INTERVAL_MS / 1000,
    ) -> None:
        self.hooks = hooks or RoomHooks()
        self.metrics = metrics or RoomMetrics()
        self.idle_timeout = idle_timeout
        self.close_timeout = close_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._presence_interval = presence_interval
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Task[Room]] = {}
        self._unload_timers: dict[str, asyncio.TimerHandle] = {}
        self._unloading: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    # --- lookup --------------------------------------------------------------------------

    def loaded(self, score_id: str) -> Room | None:
        """The live room of a score, if it is loaded."""
        room = self._rooms.get(score_id)
        return room if room is not None and not room.closed else None

    @property
    def rooms(self) -> tuple[Room, ...]:
        return tuple(self._rooms.values())

    async def get_room(self, score_id: str) -> Room:
        """The live room of a score, loading it if needed (once, however many ask).

        Raises :class:`ScoreNotFound` for an unknown score, :class:`Unavailable` when
        the load fails for another reason, :class:`RoomClosed` after :meth:`close`.
        The caller must join or retain the room before its next ``await``.
        """
        while True:
            if self._closed:
                raise RoomClosed("the server is shutting down")
            room = self._rooms.get(score_id)
            if room is not None and not room.closed:
                self._cancel_unload_timer(score_id)
                return room
            unloading = self._unloading.get(score_id)
            if unloading is not None:  # let its final store land before loading again
                await asyncio.shield(unloading)
                continue
            task = self._loading.get(score_id)
            if task is None:
                task = asyncio.get_running_loop().create_task(
                    self._load(score_id), name=f"load-{score_id}"
                )
                self._loading[score_id] = task
            room = await asyncio.shield(task)
            if not room.closed:
                self._cancel_unload_timer(score_id)
                return room

    @contextlib.asynccontextmanager
    async def hold(self, score_id: str) -> AsyncIterator[Room]:
        """Use a room in-process (REST edits, agents): it stays loaded meanwhile."""
        room = await self.get_room(score_id)
        room.retain()
        try:
            yield room
        finally:
            room.release()

    async def _load(self, score_id: str) -> Room:
        try:
            loaded = await self.hooks.load(score_id)
            room = Room(
                score_id,
                loaded or LoadedState(b""),
                self.hooks,
                metrics=self.metrics,
                retry_delay=self._retry_delay,
                max_retry_delay=self._max_retry_delay,
                on_idle=self._on_idle,
                on_defunct=self._on_defunct,
                presence_interval=self._presence_interval,
            )
            try:
                await self.hooks.on_load(room)
            except BaseException:
                await room.stop()
                raise
        except OrpheusError:
            self.metrics.room_load_failures += 1
            raise
        except Exception as exc:
            self.metrics.room_load_failures += 1
            log.exception("room load failed", extra={"score": score_id})
            raise Unavailable("the score could not be loaded; retry shortly") from exc
        finally:
            self._loading.pop(score_id, None)
        self._rooms[score_id] = room
        self.metrics.rooms_loaded += 1
        self._schedule_unload(room)  # if nobody joins after all
        log.debug("room loaded", extra={"score": score_id, "epoch": room.epoch})
        return room

    # --- unloading -----------------------------------------------------------------------

    def _on_idle(self, room: Room) -> None:
        self._schedule_unload(room)

    def _schedule_unload(self, room: Room) -> None:
        if self._closed or room.score_id in self._unload_timers:
            return
        self._unload_timers[room.score_id] = asyncio.get_running_loop().call_later(
            self.idle_timeout, self._start_unload, room
        )

    def _cancel_unload_timer(self, score_id: str) -> None:
        timer = self._unload_timers.pop(score_id, None)
        if timer is not None:
            timer.cancel()

    def _start_unload(self, room: Room) -> None:
        self._unload_timers.pop(room.score_id, None)
        if room.idle and self._rooms.get(room.score_id) is room and not self._closed:
            self._unloading[room.score_id] = asyncio.get_running_loop().create_task(
                self._unload(room), name=f"unload-{room.score_id}"
            )

    async def _unload(self, room: Room) -> None:
        try:
            while room.pending:  # store the last changes; a failing store keeps retrying
                try:
                    await room.flushed(timeout=None)
                except OrpheusError:  # dropped (reset, stale): nothing left to store
                    break
            if not room.idle or self._rooms.get(room.score_id) is not room:
                return  # someone joined while we were storing
            del self._rooms[room.score_id]
            self.metrics.rooms_unloaded += 1
            await room.stop()
            try:
                await self.hooks.on_unload(room)
            except Exception:
                self.metrics.hook_errors += 1
                log.exception("on_unload failed", extra={"score": room.score_id})
            log.debug("room unloaded", extra={"score": room.score_id})
        except Exception:
            log.exception("room unload failed", extra={"score": room.score_id})
        finally:
            self._unloading.pop(room.score_id, None)

    def _on_defunct(self, room: Room) -> None:
        """The room gave up (reset or deleted elsewhere, or pycrdt failed): forget it; the
        next client loads the score afresh. Whatever it still holds is stored."""
        if self._rooms.get(room.score_id) is room:
            del self._rooms[room.score_id]
        self._cancel_unload_timer(room.score_id)
        task = asyncio.get_running_loop().create_task(
            room.close(timeout=self.close_timeout), name=f"close-{room.score_id}"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- administration ------------------------------------------------------------------

    async def evict(self, score_id: str, error: OrpheusError) -> None:
        """Drop a room without storing it (the score was deleted): clients get ``error``."""
        room = self._rooms.pop(score_id, None)
        self._cancel_unload_timer(score_id)
        if room is not None:
            room.closed = True
            room.close_connections(error)
            await room.stop()

    async def reset(
        self, score_id: str, state: bytes, epoch: int, retired_clients: Iterable[int] = ()
    ) -> None:
        """Tell a loaded room its score was reset to ``state`` at ``epoch``."""
        room = self.loaded(score_id)
        if room is not None:
            await room.reset(state, epoch, retired_clients)

    async def restore(
        self, score_id: str, state: bytes, start_epoch: Callable[[], Awaitable[int]]
    ) -> int:
        """Reset a score to ``state``: ``start_epoch()`` (the store's reset, returning the
        new epoch) runs with the live room's stores paused, then the room switches to
        the new content and its clients are told to reload (4409)."""
        room = self.loaded(score_id)
        if room is None:
            return await start_epoch()
        return await room.restore(state, start_epoch)

    def rooms_failing_to_store(self) -> list[str]:
        return [room.score_id for room in self._rooms.values() if room.store_failing]

    def gauges(self) -> dict[str, float]:
        """Current levels: rooms, connections, pending changes, send queues."""
        rooms = list(self._rooms.values())
        connections = [conn for room in rooms for conn in room.connections]
        return {
            "rooms": len(rooms),
            "connections": len(connections),
            "pending_updates": sum(room.pending for room in rooms),
            "rooms_failing_to_store": sum(1 for room in rooms if room.store_failing),
            "send_queue_frames": sum(conn.queued_frames for conn in connections),
            "send_queue_bytes": sum(conn.queued_bytes for conn in connections),
            "send_queue_frames_max": max((c.queued_frames for c in connections), default=0),
        }

    async def close(self) -> None:
        """Graceful shutdown: close every connection (1001: clients reconnect elsewhere),
        store pending changes (each room waits up to ``close_timeout``), run
        ``on_unload``. Never hangs longer than about ``close_timeout`` per phase."""
        self._closed = True
        for timer in self._unload_timers.values():
            timer.cancel()
        self._unload_timers.clear()
        for task in list(self._loading.values()):
            task.cancel()
        rooms = list(self._rooms.values())
        self._rooms.clear()
        results = await asyncio.gather(
            *(room.close(code=1001, timeout=self.close_timeout) for room in rooms),
            return_exceptions=True,
        )
        for room, result in zip(rooms, results, strict=True):
            if isinstance(result, BaseException):
                log.error("room close failed", exc_info=result, extra={"score": room.score_id})
        unloads = [self._bounded_unload(room) for room in rooms]
        await asyncio.gather(
            *unloads, *self._unloading.values(), *self._background, return_exceptions=True
        )

    async def _bounded_unload(self, room: Room) -> None:
        try:
            async with asyncio.timeout(self.close_timeout):
                await self.hooks.on_unload(room)
        except Exception:
            log.exception("on_unload failed at shutdown", extra={"score": room.score_id})
