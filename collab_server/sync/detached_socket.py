"""A joined WebSocket connection after the handshake, served without uvicorn's protocol.

uvicorn's protocol object and the websockets ``ServerProtocol`` it drives hold about 4.5
KB per connection (their attribute dictionaries, the parser's generators and stream
reader, the handshake's request, a keepalive timer) and take each incoming frame through
several layers. Once the endpoint has joined a connection to its room nothing of that is
needed: :meth:`~collab_server.sync.ws_protocol.ScoreWebSocketProtocol.release` hands the
socket to a :class:`DetachedSocket` (``transport.set_protocol``), which is all an open
connection needs of RFC 6455 in one slotted object:

- client frames parsed from the socket's bytes (masked, no extension bits, control frames
  whole and at most 125 bytes, fragments in order, a message at most ``max_size``
  bytes: 1009 beyond it, 1002 for the rest, 1007 for a text message that is not UTF-8);
  each whole message goes to the ``deliver`` function from the socket's callback, at most
  ``slice_frames`` messages or ``slice_seconds`` per event-loop turn (the rest wait in the
  socket's byte buffer, reading paused, for a later turn);
- ping answered with pong; the close handshake either way (the peer's close answered
  and the socket closed; ours sent and the socket closed when the peer answers, or
  aborted after ``close_timeout``); server shutdown closes with 1012 (the socket takes
  the uvicorn protocol's place in the server's set of connections);
- keepalive: one :class:`Keepalive` per event loop pings every detached socket each
  ``interval`` and closes (1011) those that did not answer the previous ping within
  ``timeout``; no timer per connection;
- frames out: :meth:`send_now` (the room's direct send, corked as in
  :mod:`collab_server.sync.direct_send`) and, under back-pressure, the connection's writer
  task through :meth:`send_bytes`.

The end, whichever side and whatever the cause, calls ``on_end`` once with the close
code (1006 when the socket was lost without one).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from websockets.speedups import apply_mask

from collab_server.sync.direct_send import Cork, cork_of, encode_frame

log = logging.getLogger("orpheus.connection")

Deliver = Callable[[bytes | str], None]
"""Takes one whole message (bytes, or str for a text message) as it arrives."""

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
PROTOCOL_ERROR, INVALID_DATA, TOO_BIG, INTERNAL_ERROR = 1002, 1007, 1009, 1011
NO_STATUS, ABNORMAL, SERVICE_RESTART = 1005, 1006, 1012
_PEER_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class ProtocolError(Exception):
    """The peer broke RFC 6455: the connection is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def close_payload(code: int, reason: str = "") -> bytes:
    """The body of a close frame (nothing for 1005: no status)."""
    if code == NO_STATUS:
        return b""
    return code.to_bytes(2, "big") + reason.encode()[:123]


def _frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame."""
    if opcode == OP_BINARY:
        return encode_frame(payload)
    return bytes((0x80 | opcode, len(payload))) + payload  # control frames: <= 125 bytes


class DetachedSocket(asyncio.Protocol):
    """One open WebSocket connection as an asyncio protocol (see the module docstring)."""

    __slots__ = (
        "_buffer",
        "_close_sent",
        "_close_timeout",
        "_close_timer",
        "_connections",
        "_cork",
        "_deliver",
        "_end_of_run",
        "_ended",
        "_keepalive",
        "_max_size",
        "_on_end",
        "_parts",
        "_paused",
        "_peer_code",
        "_pinged",
        "_queued",
        "_slice_frames",
        "_slice_seconds",
        "_text",
        "_waiters",
        "_writable",
        "loop",
        "transport",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        *,
        max_size: int | None,
        close_timeout: float = 10.0,
        keepalive: Keepalive | None = None,
        connections: set[Any] | None = None,
        queued: list[bytes | str] | None = None,
    ) -> None:
        self.transport = transport
        self._queued = queued or None  # parsed before the hand-over: delivered first
        self.loop = asyncio.get_running_loop()
        self._cork: Cork = cork_of(self.loop)
        self._max_size = max_size
        self._close_timeout = close_timeout
        self._keepalive = keepalive
        self._connections = connections
        self._deliver: Deliver | None = None
        self._on_end: Callable[[int], None] | None = None
        self._end_of_run: Callable[[], None] | None = None
        self._slice_frames, self._slice_seconds = 32, 0.002
        self._buffer = b""  # bytes not parsed yet
        self._parts: list[bytes] | None = None  # a fragmented message so far
        self._text = False
        self._paused = False  # reading paused by us: frames wait for a later turn
        self._writable = True
        self._waiters: list[asyncio.Future[None]] | None = None
        self._close_sent = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._peer_code: int | None = None
        self._pinged = False  # a keepalive ping is unanswered
        self._ended = False
        if connections is not None:
            connections.add(self)
        if keepalive is not None:
            keepalive.add(self)

    # --- the endpoint's side -------------------------------------------------------------

    def detach(
        self,
        deliver: Deliver,
        on_end: Callable[[int], None],
        *,
        slice_frames: int,
        slice_seconds: float,
        end_of_run: Callable[[], None] | None = None,
    ) -> None:
        """Pass each message to ``deliver`` from now on (those parsed before the
        hand-over first, in order), call ``end_of_run`` after each run of messages
        delivered in one turn, and ``on_end`` with the close code once the connection
        is over."""
        self._slice_frames, self._slice_seconds = slice_frames, slice_seconds
        self._deliver, self._on_end, self._end_of_run = deliver, on_end, end_of_run
        queued, self._queued = self._queued, None
        for message in queued or ():
            if self._deliver is None or self._close_sent:
                break
            self._deliver(message)
        if queued and end_of_run is not None:
            end_of_run()
        if self._buffer and not self._ended:
            self._parse()

    def send_now(self, payload: bytes) -> bool:
        """Write a binary message now (corked) and return True, or return False when it
        has to wait (back-pressure) or cannot go (closing)."""
        if not self._writable or self._close_sent or self._ended:
            return False
        self._cork.write(self.transport, encode_frame(payload))
        return True

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message, waiting while the socket is paused for back-pressure."""
        while not self._writable and not self._ended:
            waiter = self.loop.create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        if self._close_sent or self._ended:
            raise ConnectionResetError("the WebSocket is closing")
        self.transport.write(encode_frame(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the closing handshake with ``code``; the socket closes when the peer
        answers, or is aborted after the close timeout."""
        self._send_close(code, reason or "")

    def abort(self) -> None:
        """Drop the socket at once (a peer that does not read even the close frame)."""
        self.transport.abort()

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every connection): close 1012."""
        self._send_close(SERVICE_RESTART, "server restart")
        self.transport.close()

    # --- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer = self._buffer + data if self._buffer else data
        if not self._paused:  # (before detach only a close can come: the join is synchronous)
            self._parse()

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._connections is not None:
            self._connections.discard(self)
        if self._keepalive is not None:
            self._keepalive.discard(self)
        self._buffer = b""
        self._parts = None
        self.resume_writing()  # wake a waiting writer: its send fails
        self._end(self._peer_code if self._peer_code is not None else ABNORMAL)

    # --- keepalive -----------------------------------------------------------------------

    def ping(self, *, answer_due: bool = True) -> bool:
        """Send a keepalive ping; False (and the connection closed, 1011) if the previous
        one went unanswered and ``answer_due``."""
        if self._close_sent or self._ended:
            return True
        if self._pinged and answer_due:
            self._fail(ProtocolError(INTERNAL_ERROR, "keepalive ping timeout"))
            return False
        self._pinged = True
        self.transport.write(_frame(OP_PING, b""))
        return True

    # --- reading -------------------------------------------------------------------------

    def _parse(self) -> None:
        """Handle the buffered frames within the turn's budget; whole frames beyond it wait
        for a later turn with reading paused."""
        started, handled = time.perf_counter(), 0
        buffer, pos, size = self._buffer, 0, len(self._buffer)
        later = False
        try:
            while size - pos >= 2 and not self._ended:
                if handled and (
                    handled >= self._slice_frames
                    or time.perf_counter() - started >= self._slice_seconds
                ):
                    later = True
                    break
                first, second = buffer[pos], buffer[pos + 1]
                length, start = second & 0x7F, pos + 2
                if length == 126:
                    if size - pos < 4:
                        break
                    length, start = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), pos + 4
                elif length == 127:
                    if size - pos < 10:
                        break
                    length, start = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), pos + 10
                if first & 0x70:
                    raise ProtocolError(PROTOCOL_ERROR, "reserved bits must be 0")
                if not second & 0x80:
                    raise ProtocolError(PROTOCOL_ERROR, "incorrect masking")
                if self._max_size is not None and length > self._max_size:
                    raise ProtocolError(TOO_BIG, f"over size limit ({length} bytes)")
                end = start + 4 + length
                if end > size:
                    break
                payload = apply_mask(buffer[start + 4 : end], buffer[start : start + 4])
                pos = end
                if self._frame(first & 0x0F, first & 0x80, payload):
                    handled += 1
        except ProtocolError as exc:
            if handled and self._end_of_run is not None:
                self._end_of_run()  # what came before the bad frame
            self._fail(exc)
            return
        if handled and self._end_of_run is not None:
            self._end_of_run()
        self._buffer = buffer[pos:] if pos < size else b""
        if self._ended:
            return
        if later:
            if not self._paused:
                self._paused = True
                self.transport.pause_reading()
            self.loop.call_soon(self._resume)
        elif self._paused:
            self._paused = False
            self.transport.resume_reading()

    def _resume(self) -> None:
        if not self._ended:
            self._parse()

    def _frame(self, opcode: int, fin: int, payload: bytes) -> bool:
        """Handle one frame; True if it completed a message."""
        if opcode in (OP_BINARY, OP_TEXT):
            if self._parts is not None:
                raise ProtocolError(PROTOCOL_ERROR, "expected a continuation frame")
            if fin:
                self._message(payload, opcode == OP_TEXT)
                return True
            self._parts, self._text = [payload], opcode == OP_TEXT
            return False
        if opcode == OP_CONT:
            parts = self._parts
            if parts is None:
                raise ProtocolError(PROTOCOL_ERROR, "unexpected continuation frame")
            parts.append(payload)
            total = sum(len(part) for part in parts)
            if self._max_size is not None and total > self._max_size:
                raise ProtocolError(TOO_BIG, f"over size limit ({total} bytes)")
            if not fin:
                return False
            self._parts = None
            self._message(b"".join(parts), self._text)
            return True
        if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
            raise ProtocolError(PROTOCOL_ERROR, f"invalid opcode {opcode}")
        if not fin or len(payload) > 125:
            raise ProtocolError(PROTOCOL_ERROR, "invalid control frame")
        if opcode == OP_PING:
            if not self._close_sent:
                self.transport.write(_frame(OP_PONG, payload))
        elif opcode == OP_PONG:
            self._pinged = False
        else:
            self._peer_close(payload)
        return False

    def _message(self, data: bytes, text: bool) -> None:
        self._pinged = False  # the peer is alive
        deliver = self._deliver
        if deliver is None or self._close_sent:
            return
        if not text:
            deliver(data)
            return
        try:
            message = data.decode()
        except UnicodeDecodeError:
            raise ProtocolError(INVALID_DATA, "invalid UTF-8 in a text message") from None
        deliver(message)

    def _peer_close(self, payload: bytes) -> None:
        if len(payload) == 1:
            raise ProtocolError(PROTOCOL_ERROR, "invalid close frame")
        code = int.from_bytes(payload[:2], "big") if payload else NO_STATUS
        if payload and not (code in _PEER_CODES or 3000 <= code < 5000):
            raise ProtocolError(PROTOCOL_ERROR, f"invalid close code {code}")
        try:
            payload[2:].decode()
        except UnicodeDecodeError:
            raise ProtocolError(INVALID_DATA, "invalid UTF-8 in the close reason") from None
        self._peer_code = code
        if not self._close_sent:  # the peer started: answer with its code
            self._send_close(code, "")
        self.transport.close()
        self._end(code)

    # --- closing -------------------------------------------------------------------------

    def _send_close(self, code: int, reason: str) -> None:
        if self._close_sent or self.transport.is_closing():
            return
        self._close_sent = True
        self._cork.flush_one(self.transport)
        self.transport.write(_frame(OP_CLOSE, close_payload(code, reason)))
        if self._peer_code is None:  # wait for the peer's answer, but not for ever
            self._close_timer = self.loop.call_later(self._close_timeout, self.transport.abort)

    def _fail(self, error: ProtocolError) -> None:
        """The peer broke the protocol (or keepalive failed): close with its code."""
        log.info("closing a WebSocket: %s", error.reason, extra={"code": error.code})
        self._buffer = b""
        self._parts = None
        self._send_close(error.code, error.reason)
        self.transport.close()
        self._end(error.code)

    def _end(self, code: int) -> None:
        if self._ended:
            return
        self._ended = True
        end_of_run, self._end_of_run = self._end_of_run, None
        if end_of_run is not None:
            end_of_run()  # what was delivered before the end is applied
        on_end, self._on_end, self._deliver = self._on_end, None, None
        if on_end is not None:
            self.loop.call_soon(on_end, code)


class Keepalive:
    """Pings every detached socket of one event loop each ``interval`` seconds; with a
    ``timeout``, a socket that has not answered the previous ping (nor sent a message)
    by the next round is closed, 1011 (so the timeout is at least the interval)."""

    __slots__ = ("_handle", "_sockets", "interval", "loop", "timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, interval: float, timeout: float | None
    ) -> None:
        self.loop, self.interval, self.timeout = loop, interval, timeout
        self._sockets: set[DetachedSocket] = set()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, socket: DetachedSocket) -> None:
        self._sockets.add(socket)
        if self._handle is None:
            self._handle = self.loop.call_later(self.interval, self._sweep)

    def discard(self, socket: DetachedSocket) -> None:
        self._sockets.discard(socket)

    def __len__(self) -> int:
        return len(self._sockets)

    def _sweep(self) -> None:
        self._handle = None
        for socket in list(self._sockets):
            if not socket.ping(answer_due=self.timeout is not None):
                self._sockets.discard(socket)
        if self._sockets:
            self._handle = self.loop.call_later(self.interval, self._sweep)


_Settings = tuple[float, float | None]
_keepalives: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Settings, Keepalive]] = (
    weakref.WeakKeyDictionary()
)


def keepalive_of(
    loop: asyncio.AbstractEventLoop, interval: float, timeout: float | None
) -> Keepalive:
    """The loop's keepalive for these settings (one per loop and settings)."""
    by_settings = _keepalives.setdefault(loop, {})
    keepalive = by_settings.get((interval, timeout))
    if keepalive is None:
        keepalive = by_settings[interval, timeout] = Keepalive(loop, interval, timeout)
    return keepalive
