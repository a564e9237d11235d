"""Frames written straight to uvicorn's socket when it can take them now, without a task hop.

Every delivery used to wake the connection's writer task (an ``asyncio.Event`` set, a
task step, Starlette's and uvicorn's ``send`` coroutines) even though uvicorn's
``websockets-sansio`` protocol writes a frame synchronously whenever its transport is
not paused. :func:`direct_sender` gives a :class:`~collab_server.sync.connection.Connection`
that synchronous path: it does what uvicorn's ``send`` does for a ``websocket.send``
message (``send_binary``, then ``transport.write``) and returns False whenever that
``send`` would wait or fail (paused for back-pressure, closing, disconnected), so the
frame goes through the writer task as before. Order is kept by the connection: a frame
goes direct only when nothing is queued or being sent.

A broadcast sends one payload object to every connection; its WebSocket frame (server
frames are not masked, and per-message deflate is off) is then encoded once and the same
bytes written to each socket, instead of once per connection. A connection with an
extension, pending protocol output or a fragmented message in progress takes websockets'
own ``send_binary``.

Frames are corked (:class:`Cork`): a socket's first frame in an event-loop turn is written
at once, so a lone edit waits for nothing; the turn's later frames for that socket are
written together at the end of the turn, so a burst costs two ``send`` system calls per
listener per turn rather than one per frame. A frame of 16 KB or more (a newcomer's whole
score) is written at once, after what waits for that socket. Order holds because every
later write to that socket is made after the cork's flush: the cork's callback is queued
before anything the turn wakes (the writer task of a connection that went to
back-pressure, its close), and asyncio runs callbacks in order.

The protocol object is found from the connection's ``receive`` callable, which reaches the
endpoint unwrapped as uvicorn's bound method (Starlette wraps ``send``, not ``receive``).
With another server or protocol implementation there is no direct send and every frame
takes the writer task.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode
from websockets.protocol import State

log = logging.getLogger("orpheus.connection")

DirectSend = Callable[[bytes], bool]
"""Write a frame now and return True, or return False (nothing written)."""


UNCORKED_BYTES = 16384
"""Frames this large (a newcomer's whole score) are written at once, after what waits."""


class Cork:
    """A socket's first frame in an event-loop turn is written at once; the rest of the
    turn's frames for it are gathered and written together at the end of the turn."""

    __slots__ = ("_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: dict[asyncio.Transport, list[bytes]] = {}

    def write(self, transport: asyncio.Transport, data: bytes) -> None:
        chunks = self._pending.get(transport)
        if chunks is None:  # the first this turn: no wait for a lone edit
            if not self._pending:
                self._loop.call_soon(self.flush)
            self._pending[transport] = []
            transport.write(data)
        elif len(data) >= UNCORKED_BYTES:  # a whole score for a newcomer: start sending now
            if chunks:
                transport.write(b"".join(chunks))
                chunks.clear()
            transport.write(data)
        else:
            chunks.append(data)

    def flush_one(self, transport: asyncio.Transport) -> None:
        """Write what waits for ``transport`` now (before a close frame)."""
        chunks = self._pending.get(transport)
        if chunks:
            transport.write(b"".join(chunks))
            chunks.clear()

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for transport, chunks in pending.items():
            if not chunks or transport.is_closing():  # closed this turn: nothing after it
                continue
            try:
                transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except Exception as exc:  # asyncio reports socket errors to the protocol itself
                log.debug("corked write failed", extra={"error": repr(exc)})


_corks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Cork] = weakref.WeakKeyDictionary()


def cork_of(loop: asyncio.AbstractEventLoop) -> Cork:
    """The loop's cork (one per event loop)."""
    cork = _corks.get(loop)
    if cork is None:
        cork = _corks[loop] = Cork(loop)
    return cork


def _sansio_protocol() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:  # pragma: no cover - uvicorn without websockets
        return None
    return WebSocketsSansIOProtocol


_PROTOCOL = _sansio_protocol()
_last: tuple[bytes, bytes] = (b"", b"")  # (payload, its encoded frame): the last broadcast


def encode_frame(payload: bytes) -> bytes:
    """The unmasked binary frame for ``payload``, encoded once per payload object (a
    broadcast sends the same object to every connection)."""
    global _last
    if _last[0] is not payload:
        _last = (payload, Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[]))
    return _last[1]


def serving_protocol(websocket: WebSocket) -> Any | None:
    """The uvicorn protocol object serving ``websocket`` (its ``receive`` reaches the
    endpoint as the protocol's bound method), or None under another server."""
    return getattr(getattr(websocket, "_receive", None), "__self__", None)


def direct_sender(websocket: WebSocket) -> DirectSend | None:
    """The synchronous send for this WebSocket, or None if it is not served by uvicorn's
    ``websockets-sansio`` protocol."""
    found = serving_protocol(websocket)
    if _PROTOCOL is None or not isinstance(found, _PROTOCOL):
        return None
    return _SendNow(found, cork_of(asyncio.get_running_loop())).send


class _SendNow:
    """One connection's direct send (an object rather than a closure: it is held by every
    idle connection, and slots take less than a function with its cells)."""

    __slots__ = ("conn", "cork", "protocol", "transport", "writable")

    def __init__(self, protocol: Any, cork: Cork) -> None:
        self.protocol, self.cork = protocol, cork
        self.writable, self.conn, self.transport = (
            protocol.writable,
            protocol.conn,
            protocol.transport,
        )

    def send(self, frame: bytes) -> bool:
        protocol, transport = self.protocol, self.transport
        if (
            not self.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or not protocol.handshake_complete
            or protocol.initial_response is not None
            or transport.is_closing()
        ):
            return False
        conn = self.conn
        if (
            conn.state is State.OPEN
            and not conn.extensions
            and not conn.writes
            and not conn.expect_continuation_frame
        ):
            self.cork.write(transport, encode_frame(frame))
        else:
            conn.send_binary(frame)  # raises InvalidState once the peer has closed
            self.cork.write(transport, b"".join(conn.data_to_send()))
        return True
