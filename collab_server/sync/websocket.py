"""The WebSocket endpoint: ``/ws/scores/{score_id}`` speaking the y-websocket protocol.

Every connection is accepted first, then authenticated, then joined to its room; a
refusal closes the socket with the error's close code (4401, 4403, 4404, ...), never an
HTTP 500, so y-websocket stops retrying on 44xx and retries on 1011/1013. Bad frames
close only their sender (4400, or 1009 when over ``max_message_bytes``); the room goes on.

Under :class:`~collab_server.sync.ws_protocol.ScoreWebSocketProtocol` (``orpheus serve``)
each message is handled from the socket's callback as it is parsed and the endpoint's
task only waits for the end; under any other server, messages come through ``receive``.
Both take the same checks and the same close paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
from collab_server.sync.direct_send import direct_sender
from collab_server.sync.room import Room, RoomClosed
from collab_server.sync.rooms import RoomManager
from collab_server.sync.ws_protocol import INTERRUPT, ScoreWebSocketProtocol

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
        task = asyncio.current_task()
        abandoned = False

        def abandon() -> None:  # the client stopped reading even the close frame
            nonlocal abandoned
            abandoned = True
            if task is not None:
                task.cancel()

        metrics = manager.metrics
        conn = Connection(
            websocket,
            read_only=access.read_only,
            principal=access.principal,
            max_frames=self.send_queue_frames,
            max_bytes=self.send_queue_bytes,
            close_timeout=self.close_timeout,
            metrics=metrics,
            on_abandon=abandon,
            direct=direct_sender(websocket),
        )
        try:
            room.join(conn)
        except RoomClosed:  # it gave up between lookup and join: let the client retry
            await _close_quietly(websocket, Unavailable.close_code, Unavailable.code)
            return
        metrics.connections_opened += 1
        started = time.monotonic()
        peer_code: int | None = None
        max_bytes, guard = self.max_message_bytes, self.frame_guard

        def handle(data: bytes | str | None) -> None:
            if not isinstance(data, bytes):
                raise ProtocolViolation("text frames are not part of the protocol")
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"message over {max_bytes} bytes")
            if guard is not None:
                guard(room, conn, data)
            room.receive(conn, data)

        receive: Callable[[], Awaitable[Any]] = websocket.receive
        failure: Exception | None = None
        protocol = _delivering_protocol(websocket)
        if protocol is not None:  # messages reach the room from the socket's callback
            receive = protocol.receive

            def deliver(data: bytes | str) -> None:
                nonlocal failure
                if failure is not None or conn.closing:
                    return
                try:
                    handle(data)
                except Exception as exc:  # the task below closes the connection
                    failure = exc
                    protocol.interrupt()

            protocol.deliver_to(
                deliver, slice_frames=self.slice_frames, slice_seconds=self.slice_seconds
            )
        frames, slice_start = 0, time.perf_counter()
        try:
            while not conn.closing:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    peer_code = int(message.get("code") or 1005)
                    break
                if kind == INTERRUPT and failure is not None:
                    raise failure
                if conn.closing:
                    break
                handle(message.get("bytes"))
                frames += 1
                if (
                    frames >= self.slice_frames
                    or time.perf_counter() - slice_start >= self.slice_seconds
                ):
                    await asyncio.sleep(0)  # let other connections and rooms run
                    frames, slice_start = 0, time.perf_counter()
        except OrpheusError as exc:
            if isinstance(exc, ProtocolViolation):
                metrics.protocol_violations += 1
            log.warning(
                "closing connection: %s",
                exc.message,
                extra={"score": room.score_id, "connection": conn.id, "error": exc.code},
            )
            room.disconnect(conn, exc)
        except asyncio.CancelledError:
            if not abandoned or task is None or task.uncancel() > 0:
                room.leave(conn)
                conn.abort()
                raise
        except Exception:
            log.exception(
                "connection failed", extra={"score": room.score_id, "connection": conn.id}
            )
            room.disconnect(conn, code=INTERNAL_ERROR)
        room.leave(conn)
        if peer_code is not None:
            conn.abort()
        await conn.wait_closed()
        metrics.connections_closed += 1
        log.info(
            "client left",
            extra={
                "score": room.score_id,
                "connection": conn.id,
                "code": conn.close_code if conn.close_code is not None else peer_code,
                "by": "server" if conn.close_code is not None else "client",
                "seconds": round(time.monotonic() - started, 3),
                "refused_updates": conn.refused_updates,
            },
        )


def _delivering_protocol(websocket: WebSocket) -> ScoreWebSocketProtocol | None:
    """The connection's :class:`ScoreWebSocketProtocol` when it is served by one (its
    ``receive`` reaches the endpoint unwrapped, as for the direct send)."""
    found = getattr(getattr(websocket, "_receive", None), "__self__", None)
    return found if isinstance(found, ScoreWebSocketProtocol) else None


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # the client may be gone already
        await websocket.close(code, reason)
