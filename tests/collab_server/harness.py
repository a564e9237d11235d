"""A real uvicorn server on a free loopback port, running in the test's event loop (so
tests can look at rooms and storage directly), and real in-memory persistence."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute

from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from collab_server.sync.websocket import ScoreWebSocket
from collab_server.sync.ws_protocol import WS_PROTOCOL
from persistence.documents.store import DocumentStore
from persistence.drivers.memory import MemoryStorage
from persistence.errors import StorageError
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin


def make_app(rooms: RoomManager, **endpoint_options: Any) -> Starlette:
    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    endpoint = ScoreWebSocket(rooms, **endpoint_options)
    return Starlette(
        routes=[Route("/health", health), WebSocketRoute("/ws/scores/{score_id}", endpoint)]
    )


@asynccontextmanager
async def run_uvicorn(
    app: Any, *, ws: str = WS_PROTOCOL, lifespan: str = "off", **options: Any
) -> AsyncIterator[int]:
    """Run ``app`` under uvicorn on a free loopback port (deflate off); yield the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, ws=ws, ws_per_message_deflate=False, lifespan=lifespan, log_level="warning", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        async with asyncio.timeout(15):
            await task
        sock.close()


@asynccontextmanager
async def serve(app: Starlette, *, ws: str = WS_PROTOCOL) -> AsyncIterator[str]:
    """Run ``app`` (no lifespan) on a free port; yield its ``ws://`` base URL."""
    async with run_uvicorn(app, ws=ws, ws_ping_interval=None) as port:
        yield f"ws://127.0.0.1:{port}/ws/scores"


class FlakyLog:
    """An update log that fails on demand (wraps a real one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = False
        self.failures = 0
        self.delay = 0.0

    async def append(self, score_id: str, epoch: int, updates: Sequence[bytes]) -> int:
        await self._maybe_fail()
        return await self.inner.append(score_id, epoch, updates)

    async def append_many(self, batch: Sequence[Any]) -> list[Any]:
        await self._maybe_fail()
        return await self.inner.append_many(batch)

    async def _maybe_fail(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            self.failures += 1
            raise StorageError("the disk is on fire")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Backend:
    """Real in-memory persistence behind a room manager."""

    storage: MemoryStorage
    log: FlakyLog
    documents: DocumentStore
    hooks: StoreHooks
    ids: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    async def create_score(
        self, score_id: str = "s1", *, measures: int = 2
    ) -> dict[str, list[str]]:
        score = ScoreDoc()
        ids = ScoreEditor(score, Origin.server("test")).create_score(
            title="Test", parts=("Violin", "Cello"), measures=measures
        )
        await self.documents.create(score_id, "Test", None, score.encode_state())
        self.ids[score_id] = ids
        return ids

    async def stored(self, score_id: str = "s1") -> ScoreDoc:
        await self.documents.flush()
        return ScoreDoc.from_update((await self.documents.load(score_id)).state)


async def make_backend() -> Backend:
    storage = MemoryStorage()
    flaky = FlakyLog(storage.log)
    storage.log = flaky
    documents = DocumentStore(storage, commit_window=0.002, compact_every=500)
    return Backend(storage, flaky, documents, StoreHooks(documents))
