"""uvicorn's WebSocket protocol, with messages handed to the room as they are parsed.

uvicorn's ``websockets-sansio`` protocol puts every message in an ``asyncio.Queue`` and
pauses reading until the endpoint's task has taken it: per edit a queue put, a task
wake-up, Starlette's and uvicorn's ``receive`` coroutines, and a pause and resume of the
socket's reads. :class:`ScoreWebSocketProtocol` is that protocol with one addition: an
endpoint may call :meth:`~ScoreWebSocketProtocol.deliver_to` with a function, and from
then on each data message is passed to that function from ``data_received``, with none
of that machinery. The endpoint's task then only waits for the end of the connection
(the disconnect message, which still comes through the queue).

A connection cannot hold the event loop: after ``slice_frames`` messages or
``slice_seconds`` within one turn the rest wait, reading is paused, and delivery goes on
in a later turn. Control frames (ping, pong, close) and everything before the endpoint
opts in are uvicorn's own handling. An idle connection holds less than under uvicorn's
protocol: no queue or event deques while nothing waits, and no handshake headers once
the handshake is over. Serve with ``ws=ScoreWebSocketProtocol`` (``orpheus
serve`` does); any other ASGI server or protocol works too, through the queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent

Deliver = Callable[[bytes | str], None]
"""Takes one whole message (bytes, or str for a text message) as it arrives."""

INTERRUPT = "orpheus.interrupt"
"""The message type :meth:`ScoreWebSocketProtocol.interrupt` puts in the queue."""


class _Messages:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses (one consumer), holding no
    deque while empty: an idle connection's queue is empty (an ``asyncio.Queue`` keeps four
    deques, about 3 KB)."""

    __slots__ = ("_getter", "_items")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
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
        self.queue = _Messages()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()
        self._deliver: Deliver | None = None
        self._backlog: deque[Any] | None = None  # events waiting for a later turn
        self._slice_frames = 32
        self._slice_seconds = 0.002
        self._draining = False

    def deliver_to(self, deliver: Deliver, *, slice_frames: int, slice_seconds: float) -> None:
        """From now on pass each message to ``deliver`` as it is parsed. Messages already
        queued stay in the queue for the endpoint to take first."""
        self._slice_frames = slice_frames
        self._slice_seconds = slice_seconds
        self._deliver = deliver

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":  # the handshake is over: drop its headers
            self.request = self.response = None  # type: ignore[assignment]

    def interrupt(self) -> None:
        """Stop delivering and wake the endpoint's ``receive`` with an
        ``orpheus.interrupt`` message (the endpoint decided to end the connection)."""
        self._deliver = None
        if self._backlog:
            self._backlog.clear()
        self.queue.put_nowait({"type": INTERRUPT})  # type: ignore[arg-type,misc]

    def send_receive_event_to_app(self) -> None:
        deliver = self._deliver
        if deliver is None or self.close_sent or not self.queue.empty():
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
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.extend(self.conn.events_received())
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        """Handle waiting events until the turn's budget is spent; the rest go on in a
        later turn with reading paused meanwhile."""
        backlog = self._backlog
        assert backlog is not None
        self._draining = True
        try:
            started, handled = time.perf_counter(), 0
            while backlog:
                if handled and (
                    handled >= self._slice_frames
                    or time.perf_counter() - started >= self._slice_seconds
                ):
                    if not self.read_paused:
                        self.read_paused = True
                        self.transport.pause_reading()
                    self.loop.call_soon(self._resume_drain)
                    return
                self._handle(backlog.popleft())
                handled += 1
        finally:
            self._draining = False
        if self.read_paused and self.queue.empty() and not self.close_sent:
            self.read_paused = False
            self.transport.resume_reading()

    def _resume_drain(self) -> None:
        if self._backlog and not self.transport.is_closing():
            self._drain()
        elif self._backlog:
            self._backlog.clear()

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


WS_PROTOCOL = f"{__name__}:{ScoreWebSocketProtocol.__name__}"
"""The protocol as uvicorn's ``ws`` setting names it."""
