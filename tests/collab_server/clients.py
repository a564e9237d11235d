"""A y-websocket client for tests, built on pycrdt and the ``websockets`` library.

It speaks the protocol the way y-websocket 3.1.0 does, using pycrdt's own helpers rather
than the server's codec, so the two check each other: sync step 1 on connect, a step 2
answer to the server's step 1, local changes sent as updates, and awareness with
y-protocols' rules, including y-websocket's habit of re-sending every presence state
it learns (``echo_awareness``), the behaviour that makes a naive server cost N^2 frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

from pycrdt import (
    Decoder,
    Encoder,
    ReadTransaction,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    read_message,
    write_message,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from score_model.document import ScoreDoc

REMOTE = "from-server"


def encode_awareness_entries(entries: list[tuple[int, int, Any]]) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client_id, clock, state in entries:
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(json.dumps(state, separators=(",", ":")))
    return encoder.to_bytes()


def decode_awareness_entries(payload: bytes) -> list[tuple[int, int, Any]]:
    decoder = Decoder(payload)
    entries = []
    for _ in range(decoder.read_var_uint()):
        client_id = decoder.read_var_uint()
        clock = decoder.read_var_uint()
        entries.append((client_id, clock, json.loads(decoder.read_var_string())))
    return entries


class YClient:
    """One peer: ``await client.connect()``, edit ``client.score``, ``await client.close()``."""

    def __init__(
        self,
        url: str,
        *,
        score: ScoreDoc | None = None,
        echo_awareness: bool = True,
        presence: dict[str, Any] | None = None,
        max_queue: int | None = 16,
        rcvbuf: int | None = None,
    ) -> None:
        self.url = url
        self.score = score or ScoreDoc()
        self.doc = self.score.doc
        self.client_id = self.doc.client_id
        self.echo_awareness = echo_awareness
        self.frames: Counter[str] = Counter()
        self.received_updates = 0
        self.presence: dict[int, Any] = {}  # client id -> state (present clients)
        self.clocks: dict[int, int] = {}
        self.local_clock = 0 if presence is None else 1  # as y-protocols: {} at 0, then set
        self.local_state = presence
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.permission_denied: list[str] = []
        self.on_frame: Callable[[bytes], None] | None = None
        self._max_queue = max_queue
        self._rcvbuf = rcvbuf
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscription = self.doc.observe(self._on_local_change)
        self._outbox: list[bytes] = []
        self._sends: set[asyncio.Task[None]] = set()

    # --- connection ----------------------------------------------------------------------

    async def connect(self, *, read: bool = True) -> YClient:
        sock = None
        if self._rcvbuf is not None:
            host, port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self._ws = await connect(
            self.url,
            compression=None,
            max_size=None,
            max_queue=self._max_queue,
            sock=sock,
            open_timeout=10,
            ping_interval=None,
        )
        await self._ws.send(create_sync_message(self.doc))
        if self.local_state is not None:
            await self._send_local_presence()
        if read:
            self.start_reading()
        return self

    def start_reading(self) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def close(self) -> None:
        """Send what is pending, then close cleanly."""
        self._flush_outbox()
        if self._sends:
            await asyncio.gather(*self._sends)
        if self._ws is not None:
            await self._ws.close()
        await self.wait_closed()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        assert self._ws is not None
        self._ws.transport.abort()

    async def wait_closed(self, timeout: float = 10) -> int | None:
        if self._reader is not None:
            async with asyncio.timeout(timeout):
                await self.closed.wait()
        return self.close_code

    async def send_raw(self, frame: bytes | str) -> None:
        assert self._ws is not None
        await self._ws.send(frame)

    # --- documents -----------------------------------------------------------------------

    def _on_local_change(self, event: TransactionEvent) -> None:
        txn = event.transaction  # type: ignore[attr-defined]
        if ReadTransaction(self.doc, txn).origin == REMOTE:
            return
        self._outbox.append(create_update_message(event.update))
        asyncio.get_running_loop().call_soon(self._flush_outbox)

    def _flush_outbox(self) -> None:
        frames, self._outbox = self._outbox, []
        if self._ws is not None:
            for frame in frames:
                task = asyncio.get_running_loop().create_task(self._send_quietly(frame))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _send_quietly(self, frame: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            assert self._ws is not None
            await self._ws.send(frame)

    # --- presence ------------------------------------------------------------------------

    async def set_presence(self, state: dict[str, Any] | None) -> None:
        self.local_state = state
        self.local_clock += 1
        await self._send_local_presence()

    async def _send_local_presence(self) -> None:
        assert self._ws is not None
        entry = (self.client_id, self.local_clock, self.local_state)
        await self._ws.send(create_awareness_message(encode_awareness_entries([entry])))

    def _apply_awareness(self, entries: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
        """y-protocols' applyAwarenessUpdate: returns the entries that changed something."""
        changed = []
        for client_id, clock, state in entries:
            if client_id == self.client_id:
                continue
            current = self.clocks.get(client_id, 0)
            if current < clock or (
                current == clock and state is None and client_id in self.presence
            ):
                if state is None:
                    self.presence.pop(client_id, None)
                else:
                    self.presence[client_id] = state
                self.clocks[client_id] = clock
                changed.append((client_id, clock, state))
        return changed

    # --- reading -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                assert isinstance(frame, bytes), frame
                if self.on_frame is not None:
                    self.on_frame(frame)
                await self._handle(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()

    async def _handle(self, frame: bytes) -> None:
        assert self._ws is not None
        kind = frame[0]
        if kind == YMessageType.SYNC:
            sync_type = frame[1]
            payload = read_message(frame[2:])
            if sync_type == YSyncMessageType.SYNC_STEP1:
                self.frames["step1"] += 1
                step2 = bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2])
                await self._ws.send(step2 + write_message(self.doc.get_update(payload)))
                return
            self.frames["step2" if sync_type == YSyncMessageType.SYNC_STEP2 else "update"] += 1
            if sync_type == YSyncMessageType.SYNC_UPDATE:
                self.received_updates += 1
            with self.doc.transaction(origin=REMOTE):
                self.doc.apply_update(payload)
            if sync_type == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
        elif kind == YMessageType.AWARENESS:
            self.frames["awareness"] += 1
            changed = self._apply_awareness(decode_awareness_entries(read_message(frame[1:])))
            if changed and self.echo_awareness:
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.send(create_awareness_message(encode_awareness_entries(changed)))
        elif kind == 2:
            self.frames["auth"] += 1
            decoder = Decoder(frame[1:])
            decoder.read_var_uint()
            self.permission_denied.append(decoder.read_var_string())
        else:
            self.frames[f"type{kind}"] += 1


async def wait_for(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Poll until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)
