"""A real HTTP receiver of webhooks on a loopback port (uvicorn), recording what it is
sent; ``fail_first`` answers 503 that many times before answering 204."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collab_server.webhooks.signing import HEADER
from tests.collab_server.harness import run_uvicorn


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def signature(self) -> str:
        return self.headers[HEADER.lower()]


@dataclass
class Receiver:
    port: int = 0
    fail_first: int = 0
    got: list[Received] = field(default_factory=list)
    attempts: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(
        self, count: int, *, event: str | None = None, timeout: float = 10
    ) -> list[Received]:
        async def enough() -> list[Received]:
            while True:
                found = [r for r in self.got if event is None or r.json["event"] == event]
                if len(found) >= count:
                    return found
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(enough(), timeout)


@asynccontextmanager
async def receiver(fail_first: int = 0) -> AsyncIterator[Receiver]:
    state = Receiver(fail_first=fail_first)

    async def hook(request: Request) -> Response:
        state.attempts += 1
        if state.attempts <= state.fail_first:
            return Response(status_code=503)
        state.got.append(Received(request.url.path, dict(request.headers), await request.body()))
        state.arrived.set()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    async with run_uvicorn(app) as port:
        state.port = port
        yield state


def closed_port() -> int:
    """A loopback port nothing listens on (a receiver that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
