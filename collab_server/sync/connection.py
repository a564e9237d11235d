"""One client connection: a bounded send queue drained by one writer task.

The room never waits for a client: :meth:`Connection.send` only appends to the queue.
When the queue is over its bounds the client is too slow; it is closed with
:class:`~collab_server.errors.SlowClient`'s code (y-websocket reconnects and resyncs) and
its queue is dropped, so a client that stops reading costs bounded memory. Transport
errors (a dropped TCP connection mid-send) end the writer quietly; they never reach the
room.

With a ``direct`` send (:mod:`collab_server.sync.direct_send`), a frame is written at
once when nothing is queued and the socket can take it; the writer task is then started
only when a frame must wait (back-pressure) or for the close, so an idle connection
holds no task.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import Protocol

from collab_server.errors import OrpheusError, SlowClient
from collab_server.settings import SEND_QUEUE_BYTES, SEND_QUEUE_FRAMES
from collab_server.sync.direct_send import DirectSend
from collab_server.sync.room_metrics import RoomMetrics
from score_model.origin import Origin

log = logging.getLogger("orpheus.connection")

DEFAULT_MAX_FRAMES = SEND_QUEUE_FRAMES  # the defaults are Settings'
DEFAULT_MAX_BYTES = SEND_QUEUE_BYTES


class Transport(Protocol):
    """What a connection needs from a WebSocket (Starlette's ``WebSocket`` fits)."""

    async def send_bytes(self, data: bytes) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Connection:
    """A client of a room. ``read_only`` clients may not change the document."""

    def __init__(
        self,
        transport: Transport,
        *,
        connection_id: str | None = None,
        read_only: bool = False,
        principal: str | None = None,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        close_timeout: float = 2.0,
        metrics: RoomMetrics | None = None,
        on_abandon: Callable[[], None] | None = None,
        direct: DirectSend | None = None,
    ) -> None:
        self.id = connection_id or secrets.token_hex(6)
        self.origin = Origin.client(self.id)
        self.read_only = read_only
        self.principal = principal
        self.refused_updates = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._transport = transport
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._close_timeout = close_timeout
        self._metrics = metrics or RoomMetrics()
        self._on_abandon = on_abandon
        self._direct = direct
        # Made at the first frame that has to wait (an idle connection holds neither: each
        # empty deque takes 760 bytes).
        self._queue: deque[bytes] | None = None
        self._queued_bytes = 0
        self._wakeup: asyncio.Event | None = None
        self._sending = False
        self._cancelled_for_close = False
        self._transport_broken = False
        self._writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Connection {self.id}{' read-only' if self.read_only else ''}>"

    # --- state ---------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """True once a close was requested or the transport failed: sends are dropped."""
        return self.close_code is not None or self._transport_broken

    @property
    def queued_frames(self) -> int:
        return len(self._queue) if self._queue else 0

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def start(self) -> None:
        """Ready to send. Without a direct send the writer task starts now; with one, at
        the first frame that has to wait."""
        if self._direct is None:
            self._start_writer()

    def _start_writer(self) -> None:
        if self._queue is None:
            self._queue = deque()
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"writer-{self.id}"
            )

    async def wait_closed(self) -> None:
        """Wait until the writer has finished (after a close, abort or transport failure)."""
        if self._writer is not None:
            await asyncio.wait([self._writer])

    def abort(self) -> None:
        """The peer is gone: stop the writer without a close frame."""
        self._transport_broken = True
        if self._queue:
            self._queue.clear()
        self._queued_bytes = 0
        if self._writer is not None and self.close_code is None:
            self._writer.cancel()

    # --- sending -------------------------------------------------------------------------

    def send(self, frame: bytes) -> bool:
        """Queue a frame. Returns False if the connection is closing or was just closed
        for being too slow (the caller should forget it)."""
        if self.closing:
            return False
        queue = self._queue
        if queue and (
            len(queue) >= self._max_frames or self._queued_bytes + len(frame) > self._max_bytes
        ):
            self._metrics.slow_client_disconnects += 1
            log.warning(
                "slow client disconnected",
                extra={
                    "connection": self.id,
                    "queued_frames": len(queue),
                    "queued_bytes": self._queued_bytes,
                },
            )
            self.close(SlowClient())
            return False
        if not queue and not self._sending and self._direct is not None:
            try:
                sent = self._direct(frame)
            except Exception as exc:  # the peer went away: as a failed send in the writer
                self._transport_broken = True
                log.debug("send failed", extra={"connection": self.id, "error": repr(exc)})
                return False
            if sent:
                self._metrics.frames_out += 1
                self._metrics.bytes_out += len(frame)
                return True
        if queue is None:
            queue = self._queue = deque()
        queue.append(frame)
        self._queued_bytes += len(frame)
        if self._writer is None:
            self._start_writer()
        elif not self._sending and self._wakeup is not None:
            self._wakeup.set()
        return True

    def close(
        self, error: OrpheusError | None = None, *, code: int | None = None, reason: str = ""
    ) -> None:
        """Close with ``error``'s close code (or ``code``, default 1000). Queued frames are
        dropped; the close frame goes out as soon as the writer is free."""
        if self.close_code is not None:
            return
        self.close_code = code or (error.close_code if error is not None else 1000)
        self.close_reason = (reason or (error.code if error is not None else ""))[:120]
        if self._queue:
            self._queue.clear()
        self._queued_bytes = 0
        if self._writer is None:
            self._start_writer()
        elif self._sending and self._writer is not None:
            # The writer is blocked on a client that does not read: interrupt it.
            self._cancelled_for_close = True
            self._writer.cancel()
        if self._wakeup is not None:
            self._wakeup.set()

    async def _write_loop(self) -> None:
        transport, queue, wakeup = self._transport, self._queue, self._wakeup
        assert queue is not None and wakeup is not None  # made with the writer
        metrics = self._metrics
        try:
            while self.close_code is None:
                if not queue:
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                frame = queue.popleft()
                self._queued_bytes -= len(frame)
                self._sending = True
                await transport.send_bytes(frame)
                self._sending = False
                metrics.frames_out += 1
                metrics.bytes_out += len(frame)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._cancelled_for_close or task is None or task.uncancel() > 0:
                raise
        except Exception as exc:  # the peer went away mid-send: not the room's problem
            self._transport_broken = True
            queue.clear()
            self._queued_bytes = 0
            log.debug("send failed", extra={"connection": self.id, "error": repr(exc)})
            return
        finally:
            self._sending = False
        await self._send_close()

    async def _send_close(self) -> None:
        try:
            async with asyncio.timeout(self._close_timeout):
                await self._transport.close(self.close_code or 1000, self.close_reason)
        except TimeoutError:
            log.info(
                "client did not take the close frame; abandoning it", extra={"connection": self.id}
            )
            if self._on_abandon is not None:
                self._on_abandon()
        except Exception as exc:
            log.debug("close failed", extra={"connection": self.id, "error": repr(exc)})
