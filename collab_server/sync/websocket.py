"""The WebSocket endpoint: ``/ws/scores/{score_id}`` speaking the y-websocket protocol.

Every connection is accepted first, then authenticated, then joined to its room; a
refusal closes the socket with the error's close code (4401, 4403, 4404, ...), never an
HTTP 500, so y-websocket stops retrying on 44xx and retries on 1011/1013. Bad frames
close only their sender (4400, or 1009 when over ``max_message_bytes``); the room goes on.

Under :class:`~collab_server.sync.ws_protocol.ScoreWebSocketProtocol` (``orpheus serve``)
a joined connection is detached: each message is handled from the socket's callback as it
is parsed, the end is a callback too, and the endpoint returns; under any other server
the endpoint's task reads through ``receive`` until the end. Both take the same checks
and the same close paths (:class:`_Session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from collab_server.errors import (
    OrpheusError,
    PayloadTooLarge,
    ProtocolViolation,
    Unavailable,
    report,
)
from collab_server.settings import MAX_MESSAGE_BYTES
from collab_server.sync.connection import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, Connection
from collab_server.sync.direct_send import direct_sender, serving_protocol
from collab_server.sync.room import Room, RoomClosed
from collab_server.sync.room_metrics import RoomMetrics
from collab_server.sync.rooms import RoomManager
from collab_server.sync.ws_protocol import ScoreWebSocketProtocol

log = logging.getLogger("orpheus.websocket")

GOING_AWAY = 1001
INTERNAL_ERROR = 1011


@dataclass(frozen=True, slots=True)
class Access:
    """What an authenticated connection may do."""

    read_only: bool = False
    principal: str | None = None


Authenticate = Callable[[WebSocket, str], Awaitable[Access]]
"""Decide who may open ``score_id``: return an :class:`Access`, or raise
:class:`~collab_server.errors.Unauthenticated` / :class:`~collab_server.errors.Forbidden`
(or any :class:`~collab_server.errors.OrpheusError`)."""
FrameCheck = Callable[[Room, Connection, bytes], None]
"""Checks a frame before the room handles it; raises an OrpheusError to close the sender
(:class:`~collab_server.security.limits.FrameGuard` is the server's)."""


async def allow_everyone(websocket: WebSocket, score_id: str) -> Access:
    return Access()


class ScoreWebSocket:
    """ASGI endpoint serving rooms from ``rooms`` (a manager, or a function finding one
    for the request, e.g. ``lambda ws: ws.app.state.rooms``)."""

    def __init__(
        self,
        rooms: RoomManager | Callable[[WebSocket], RoomManager],
        *,
        authenticate: Authenticate = allow_everyone,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        send_queue_frames: int = DEFAULT_MAX_FRAMES,
        send_queue_bytes: int = DEFAULT_MAX_BYTES,
        close_timeout: float = 2.0,
        frame_guard: FrameCheck | None = None,
        slice_frames: int = 32,
        slice_seconds: float = 0.002,
    ) -> None:
        self._rooms = rooms
        self.frame_guard = frame_guard
        self.authenticate = authenticate
        self.max_message_bytes = max_message_bytes
        self.send_queue_frames = send_queue_frames
        self.send_queue_bytes = send_queue_bytes
        self.close_timeout = close_timeout
        self.slice_frames = slice_frames
        self.slice_seconds = slice_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(WebSocket(scope, receive, send))

    def _manager(self, websocket: WebSocket) -> RoomManager:
        return self._rooms if isinstance(self._rooms, RoomManager) else self._rooms(websocket)

    async def serve(self, websocket: WebSocket) -> None:
        score_id = str(websocket.path_params.get("score_id", ""))
        await websocket.accept()
        try:
            manager = self._manager(websocket)
            access = await self.authenticate(websocket, score_id)
            room = await manager.get_room(score_id)
        except RoomClosed:
            await _close_quietly(websocket, GOING_AWAY, "shutting down")
            return
        except Exception as exc:  # a storage outage: 1013, retried, no traceback
            error = report(exc, "connection refused", score=score_id)
            log.info("connection refused", extra={"score": score_id, "error": error.code})
            await _close_quietly(websocket, error.close_code, error.code)
            return
        await self._run(websocket, manager, room, access)

    async def _run(
        self, websocket: WebSocket, manager: RoomManager, room: Room, access: Access
    ) -> None:
        protocol = _delivering_protocol(websocket)
        # Joined, the connection leaves uvicorn's protocol for a lean one when it can.
        socket = protocol.release() if protocol is not None else None
        detached = socket or protocol
        task = asyncio.current_task()
        abandoned = False

        def abandon() -> None:  # the client stopped reading even the close frame
            nonlocal abandoned
            abandoned = True
            if task is not None:
                task.cancel()

        metrics = manager.metrics
        conn = Connection(
            websocket if detached is None else detached,
            read_only=access.read_only,
            principal=access.principal,
            max_frames=self.send_queue_frames,
            max_bytes=self.send_queue_bytes,
            close_timeout=self.close_timeout,
            metrics=metrics,
            # detached, the connection must not keep this task alive: the socket is reset
            on_abandon=abandon if detached is None else detached.transport.abort,
            direct=socket.send_now if socket is not None else direct_sender(websocket),
        )
        try:
            room.join(conn)
        except RoomClosed:  # it gave up between lookup and join: let the client retry
            if socket is not None:
                await socket.close(Unavailable.close_code, Unavailable.code)
            else:
                await _close_quietly(websocket, Unavailable.close_code, Unavailable.code)
            return
        metrics.connections_opened += 1
        session = _Session(room, conn, metrics, self.max_message_bytes, self.frame_guard)
        if detached is not None:  # the connection goes on without this task
            detached.detach(
                session.deliver,
                session.end,
                end_of_run=session.apply_held,
                slice_frames=self.slice_frames,
                slice_seconds=self.slice_seconds,
            )
            return
        peer_code: int | None = None
        frames, slice_start = 0, time.perf_counter()
        try:
            while not conn.closing:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    peer_code = int(message.get("code") or 1005)
                    break
                if conn.closing:
                    break
                session.handle(message.get("bytes"))
                frames += 1
                if (
                    frames >= self.slice_frames
                    or time.perf_counter() - slice_start >= self.slice_seconds
                ):
                    await asyncio.sleep(0)  # let other connections and rooms run
                    frames, slice_start = 0, time.perf_counter()
        except asyncio.CancelledError:
            if not abandoned or task is None or task.uncancel() > 0:
                room.leave(conn)
                conn.abort()
                raise
        except Exception as exc:
            session.fail(exc)
        room.leave(conn)
        if peer_code is not None:
            conn.abort()
        await conn.wait_closed()
        session.log_end(peer_code)


class _Session:
    """One joined connection: its messages checked and applied, its end recorded."""

    __slots__ = ("conn", "failed", "guard", "held", "max_bytes", "metrics", "room", "started")

    def __init__(
        self,
        room: Room,
        conn: Connection,
        metrics: RoomMetrics,
        max_bytes: int,
        guard: FrameCheck | None,
    ) -> None:
        self.room, self.conn, self.metrics = room, conn, metrics
        self.max_bytes, self.guard = max_bytes, guard
        self.started = time.monotonic()
        self.failed = False
        self.held: list[bytes] = []  # checked updates of this read, not yet applied

    def handle(self, data: bytes | str | None, held: list[bytes] | None = None) -> None:
        """Check one message and apply it (or, with ``held``, hold a checked update for
        :meth:`apply_held`); raises an OrpheusError for a bad one."""
        if not isinstance(data, bytes):
            raise ProtocolViolation("text frames are not part of the protocol")
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"message over {self.max_bytes} bytes")
        if self.guard is not None:
            self.guard(self.room, self.conn, data)
        self.room.receive(self.conn, data, held)

    def deliver(self, data: bytes | str) -> None:
        """:meth:`handle` from the socket's callback, the run's updates held until
        :meth:`apply_held`: a bad message closes the sender, what came before it is
        applied and nothing after it."""
        if self.failed or self.conn.closing:
            return
        try:
            self.handle(data, self.held)
        except Exception as exc:
            self.apply_held()  # what came before it (fails the connection itself if refused)
            if not self.failed:
                self.fail(exc)

    def apply_held(self) -> None:
        """Apply the updates held since the last call, in one transaction (the socket
        calls this at the end of each run of messages it delivers)."""
        if not self.held:
            return
        try:
            self.room.apply_held(self.conn, self.held)  # empties it, whatever happens
        except Exception as exc:
            if not self.failed:
                self.fail(exc)

    def fail(self, exc: Exception) -> None:
        """Close the connection for ``exc``: its close code if it is an OrpheusError,
        1011 (logged with its traceback) otherwise."""
        self.failed = True
        room, conn = self.room, self.conn
        if isinstance(exc, OrpheusError):
            if isinstance(exc, ProtocolViolation):
                self.metrics.protocol_violations += 1
            log.warning(
                "closing connection: %s",
                exc.message,
                extra={"score": room.score_id, "connection": conn.id, "error": exc.code},
            )
            room.disconnect(conn, exc)
        else:
            log.error(
                "connection failed",
                exc_info=exc,
                extra={"score": room.score_id, "connection": conn.id},
            )
            room.disconnect(conn, code=INTERNAL_ERROR)

    def end(self, code: int) -> None:
        """The connection is over (``code`` as the protocol reports it)."""
        self.room.leave(self.conn)
        self.conn.abort()
        self.log_end(code)

    def log_end(self, peer_code: int | None) -> None:
        conn = self.conn
        self.metrics.connections_closed += 1
        log.info(
            "client left",
            extra={
                "score": self.room.score_id,
                "connection": conn.id,
                "code": conn.close_code if conn.close_code is not None else peer_code,
                "by": "server" if conn.close_code is not None else "client",
                "seconds": round(time.monotonic() - self.started, 3),
                "refused_updates": conn.refused_updates,
            },
        )


def _delivering_protocol(websocket: WebSocket) -> ScoreWebSocketProtocol | None:
    """The connection's :class:`ScoreWebSocketProtocol` when it is served by one."""
    found = serving_protocol(websocket)
    return found if isinstance(found, ScoreWebSocketProtocol) else None


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await websocket.close(code, reason)
