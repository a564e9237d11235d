"""uvicorn's WebSocket protocol, with messages handed to the room as they are parsed.

uvicorn's ``websockets-sansio`` protocol puts every message in an ``asyncio.Queue`` and
pauses reading until the endpoint's task has taken it: per edit a queue put, a task
wake-up, Starlette's and uvicorn's ``receive`` coroutines, and a pause and resume of the
socket's reads. And the endpoint's task, suspended under the middleware chain, lives as
long as the connection. :class:`ScoreWebSocketProtocol` is that protocol with one
addition: an endpoint that has accepted and joined a connection may
:meth:`~ScoreWebSocketProtocol.detach` it, giving a function for its messages and one
for its end, and return. From then on each message is passed to the first from
``data_received``, with none of that machinery; the second is called with the close code
once the connection is over, whichever side ended it; the connection itself (the
protocol) is the writer's transport. No task is held per connection.

A connection cannot hold the event loop: after ``slice_frames`` messages or
``slice_seconds`` within one turn the rest wait, reading is paused, and delivery goes on
in a later turn. Control frames (ping, pong, close), keepalive and server shutdown are
uvicorn's own handling. An idle connection holds about half the Python memory it does
under uvicorn's protocol: no task, no middleware frames, no queue or event deques while
nothing waits, no scope and no handshake headers once joined. Serve with
``ws=WS_PROTOCOL`` (``orpheus serve`` does); under any other ASGI server or protocol the
endpoint reads through ``receive`` as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State

from collab_server.sync.detached_socket import Deliver, DetachedSocket, keepalive_of

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent


class _Messages:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses (one consumer), holding no
    deque while empty: an idle connection's queue is empty (an ``asyncio.Queue`` keeps four
    deques, about 3 KB)."""

    __slots__ = ("_getter", "_items", "_on_end")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getter: asyncio.Future[None] | None = None
        self._on_end: Callable[[int], None] | None = None  # set once detached

    def detach(self, on_end: Callable[[int], None]) -> list[Any]:
        """The messages waiting; from now on a disconnect message calls ``on_end`` with
        its code and nothing else is kept."""
        items, self._items = list(self._items or ()), None
        self._on_end = on_end
        return items

    def pending(self) -> tuple[Any, ...]:
        """The messages waiting, left in place."""
        return tuple(self._items or ())

    def put_nowait(self, item: Any) -> None:
        if self._on_end is not None:
            if item["type"] == "websocket.disconnect":
                self._on_end(int(item.get("code") or 1005))
            return
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class _Flag:
    """The part of ``asyncio.Event`` uvicorn's protocol uses, with no deque of waiters
    until someone waits (only a send under back-pressure does)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class ScoreWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with synchronous message delivery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._messages = _Messages()
        self.queue = self._messages  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()
        self._deliver: Deliver | None = None
        self._end_of_run: Callable[[], None] | None = None
        self._on_end: Callable[[int], None] | None = None
        self._backlog: deque[Any] | None = None  # events waiting for a later turn
        self._slice_frames = 32
        self._slice_seconds = 0.002
        self._released = False  # handed to a DetachedSocket
        self._upgraded: weakref.ref[Any] | None = None  # the HTTP protocol before us

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
        """Pass each message to ``deliver`` from now on (those already queued first, in
        order), call ``end_of_run`` after each run of messages delivered in one turn, and
        ``on_end`` with the close code once the connection is over. The endpoint may
        then return: the connection does not end with it."""
        self._slice_frames = slice_frames
        self._slice_seconds = slice_seconds
        self._deliver = deliver
        self._on_end = on_end
        self._end_of_run = end_of_run
        queued = self._messages.detach(self._ended)
        for message in queued:
            if message["type"] == "websocket.disconnect":
                self._ended(int(message.get("code") or 1005))
                return
            if self._deliver is not None:
                data = message.get("bytes")
                self._deliver(data if data is not None else message.get("text", ""))
        self._run_ended()
        if self.read_paused and not self.close_sent:  # paused while messages were queued
            self.read_paused = False
            self.transport.resume_reading()

    def release(self) -> DetachedSocket | None:
        """Hand the open connection to a :class:`DetachedSocket` and drop out of it: the
        socket's bytes go to the new protocol from now on, messages already parsed are
        returned to the caller through it (``DetachedSocket.detach``'s ``queued``), and
        uvicorn's keepalive timers stop (the loop's :class:`Keepalive` takes over). None
        when the connection is not at a clean point (closing, a message or frame half
        read, output pending, an extension): it then stays with this protocol
        (:meth:`detach`)."""
        conn = self.conn
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.transport.is_closing()
            or conn.state is not State.OPEN
            or conn.extensions
            or conn.writes
            or conn.expect_continuation_frame
            or self.frames
            or self._backlog
            or not _between_frames(conn)
        ):
            return None
        if any(m["type"] != "websocket.receive" for m in self._messages.pending()):
            return None  # the peer has gone: let the usual end run
        queued: list[bytes | str] = []
        for message in self._messages.detach(self._ended):
            data = message.get("bytes")
            queued.append(data if data is not None else message.get("text", ""))
        self.stop_keepalive()
        keepalive = None
        if self.ping_interval:
            keepalive = keepalive_of(self.loop, self.ping_interval, self.ping_timeout)
        self.connections.discard(self)
        socket = DetachedSocket(
            self.transport,
            max_size=self.config.ws_max_size,
            close_timeout=self.close_timeout,
            keepalive=keepalive,
            connections=self.connections,
            queued=queued,
        )
        self.transport.set_protocol(socket)
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self._released = True
        self._let_go()
        return socket

    def _let_go(self) -> None:
        """Break the reference cycles this protocol, websockets' parser and the HTTP
        protocol that upgraded the connection are in, so that they are freed now rather
        than by the cyclic collector: under a storm of joins they outlive a young
        collection, reach the oldest generation and pile up until a full one, and the
        memory they held stays fragmented (docs/benchmarks.md)."""
        self._messages = self.queue = _Messages()  # type: ignore[assignment]
        self.conn.parser.close()  # its frame holds the parser's protocol
        upgraded = self._upgraded() if self._upgraded is not None else None
        if upgraded is not None and hasattr(upgraded, "parser"):
            upgraded.parser = None  # httptools' parser calls back into its protocol
        self._upgraded = None

    def _run_ended(self) -> None:
        if self._end_of_run is not None:
            self._end_of_run()

    def _ended(self, code: int) -> None:
        """The connection is over: ``on_end`` is called once, whichever path says so first."""
        self._run_ended()  # what was delivered before the end is applied
        self._end_of_run = None
        on_end, self._on_end, self._deliver = self._on_end, None, None
        if self._backlog:
            self._backlog.clear()
        if on_end is not None:
            self.loop.call_soon(on_end, code)  # after uvicorn's own handling of the end

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message (a detached connection's writer uses this)."""
        await self.send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the closing handshake with ``code``."""
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    # --- uvicorn's protocol, changed -----------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        # uvicorn calls this before switching the transport over: what it returns now
        # is the HTTP protocol that read the upgrade request.
        upgraded = transport.get_protocol()
        with contextlib.suppress(TypeError):
            self._upgraded = weakref.ref(upgraded) if upgraded is not None else None
        super().connection_made(transport)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The scope has its own copy and the response is made: websockets' parser keeps
        # the request alive for the whole connection, its headers need not be.
        event.headers.clear()

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":  # the handshake is over: drop its headers
            self.request = self.response = None  # type: ignore[assignment]

    async def run_asgi(self) -> None:
        """uvicorn's, except that an endpoint that detached leaves the connection open."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self._released or self._on_end is not None:  # the connection goes on
            self.scope = None  # type: ignore[assignment]
        elif self.close_timer is None:
            self.transport.close()

    def send_receive_event_to_app(self) -> None:
        deliver = self._deliver
        if deliver is None or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.curr_msg_data_type == "text":
            deliver(data.decode(errors="replace"))
        else:
            deliver(data)

    def handle_events(self) -> None:
        if self._deliver is None and not self._backlog:
            super().handle_events()
            return
        events = self.conn.events_received()
        if self._backlog is not None:  # being drained, or due in a later turn: keep order
            self._backlog.extend(events)
        elif events:
            self._backlog = deque(events)
            self._drain()

    def _drain(self) -> None:
        """Handle waiting events until the turn's budget is spent; the rest go on in a
        later turn with reading paused meanwhile. The backlog is dropped once empty: an
        idle connection holds none."""
        backlog = self._backlog
        assert backlog is not None
        started, handled = time.perf_counter(), 0
        while backlog:
            if handled and (
                handled >= self._slice_frames
                or time.perf_counter() - started >= self._slice_seconds
            ):
                self._run_ended()
                if not self.read_paused:
                    self.read_paused = True
                    self.transport.pause_reading()
                self.loop.call_soon(self._resume_drain)
                return
            self._handle(backlog.popleft())
            handled += 1
        self._run_ended()
        if self._backlog is backlog:
            self._backlog = None
        if self.read_paused and not self.close_sent:
            self.read_paused = False
            self.transport.resume_reading()

    def _resume_drain(self) -> None:
        if self._backlog and not self.transport.is_closing():
            self._drain()
        else:
            self._backlog = None

    def _handle(self, event: Any) -> None:
        if not isinstance(event, Frame):
            return  # the handshake request came with the first data: already handled
        opcode = event.opcode
        if opcode is Opcode.BINARY:
            self.handle_bytes(event)
        elif opcode is Opcode.TEXT:
            self.handle_text(event)
        elif opcode is Opcode.CONT:
            self.handle_cont(event)
        elif opcode is Opcode.PING:
            self.handle_ping()
        elif opcode is Opcode.PONG:
            self.handle_pong(event)
        elif opcode is Opcode.CLOSE:
            self.handle_close(event)


def _between_frames(conn: Protocol) -> bool:
    """True when websockets' parser has nothing of the next frame: it waits in
    ``StreamReader.at_eof`` with an empty buffer (websockets 13 to 17; with another
    layout this is False and the connection stays with uvicorn's protocol)."""
    parser: Any = conn.parser
    while parser is not None and parser.gi_yieldfrom is not None:
        parser = parser.gi_yieldfrom
    return parser is not None and parser.gi_code.co_name == "at_eof" and not conn.reader.buffer


WS_PROTOCOL = f"{__name__}:{ScoreWebSocketProtocol.__name__}"
"""The protocol as uvicorn's ``ws`` setting names it."""
