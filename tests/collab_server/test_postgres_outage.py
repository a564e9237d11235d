"""PostgreSQL briefly unavailable: edits stay in memory and are stored when it returns,
with the outage visible in metrics and readiness.

The shared PostgreSQL server cannot be stopped, so one ``orpheus serve`` process reaches
it through a TCP proxy in this test that can be cut (every proxied connection dropped,
new ones closed at once) and restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.processes import Instance
from tests.collab_server.test_multi_instance import Writer, connect, note_ids
from tests.services import postgres_dsn  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.services]


class CuttableProxy:
    """A TCP proxy from a free loopback port to ``target``, on its own thread and event
    loop (so a test blocking its own loop never stalls the server's database traffic)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.accepted = 0
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """Drop every proxied connection; close new ones as soon as they arrive."""
        self._call(self._cut_all())

    def restore(self) -> None:
        self._call(self._set_cut(False))

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_cut(self, cut: bool) -> None:
        self._cut = cut

    async def _cut_all(self) -> None:
        self._cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _shutdown(self) -> None:
        await self._cut_all()
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        pair = {writer, up_writer}
        self._writers |= pair
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= pair
            for end in pair:
                end.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@pytest.fixture
def proxy(postgres_dsn: str) -> Iterator[CuttableProxy]:
    url = urlsplit(postgres_dsn)
    proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
def server(
    postgres_dsn: str,
    proxy: CuttableProxy,
    tmp_path: Path,
) -> Iterator[Instance]:
    url = urlsplit(postgres_dsn)
    through_proxy = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
    env = {
        "DATABASE_URL": through_proxy,
        "REDIS_URL": "",
        "ORPHEUS_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        "ORPHEUS_LOG_LEVEL": "warning",
        "ORPHEUS_ROOM_IDLE_SECONDS": "60",
        "ORPHEUS_AUTH_ENABLED": "false",
        "ORPHEUS_REST_RATE_PER_IP": "0",
        "ORPHEUS_REST_RATE_PER_USER": "0",
        "ORPHEUS_WS_UPDATE_RATE": "0",
    }
    instance = Instance("outage", env, tmp_path / "data")
    try:
        instance.start()
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()


async def readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, dict[str, object]]]:
    reply = await http.get("/readyz", timeout=15)
    return reply.status_code, reply.json()["checks"]


async def store_failures(http: httpx.AsyncClient) -> float:
    text = (await http.get("/metrics", timeout=5)).text
    return next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("orpheus_store_failures_total ")
    )


async def test_edits_survive_a_postgres_outage(
    postgres_dsn: str,
    proxy: CuttableProxy,
    server: Instance,
    tmp_path: Path,
    clients: list[YClient],
) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        created = await http.post("/api/scores", json={"title": "outage"})
        assert created.status_code == 201, created.text
        score_id = created.json()["id"]
        a = await connect(server.ws(score_id), clients)
        b = await connect(server.ws(score_id), clients)
        before: list[str] = []
        await asyncio.gather(Writer(a, before).write(10), Writer(b, before).write(10))
        await wait_for(lambda: all(note_ids(c) == set(before) for c in (a, b)), timeout=10)
        assert (await readiness(http))[0] == 200
        failures_before = await store_failures(http)

        proxy.cut()
        connections_before = proxy.accepted
        during_a: list[str] = []
        during_b: list[str] = []
        writers = (Writer(a, during_a).write(40, 0.05), Writer(b, during_b).write(40, 0.05))
        await asyncio.gather(*writers)  # about two seconds of editing with no database
        # each client still holds its own edits and the server keeps them in memory, but
        # nothing is broadcast before it is stored: neither sees the other's new notes
        assert set(during_a) <= note_ids(a) and set(during_b) <= note_ids(b)
        assert not set(during_a) & note_ids(b) and not set(during_b) & note_ids(a)
        assert not a.closed.is_set() and not b.closed.is_set()
        status, checks = await readiness(http)
        assert status == 503
        assert checks["storage"]["ok"] is False and checks["storage"]["error"]
        assert checks["store_backlog"] == {"ok": False, "rooms_failing": [score_id]}
        assert await store_failures(http) > failures_before

        proxy.restore()
        everything = set(before) | set(during_a) | set(during_b)
        await wait_for(lambda: all(note_ids(c) == everything for c in (a, b)), timeout=10)
        assert a.score.raw_notes() == b.score.raw_notes()
        status, checks = await readiness(http)
        assert status == 200, checks
        # and the database (read directly, not through the proxy) holds every edit
        backend = await open_backend(BackendConfig(postgres_dsn, f"file://{tmp_path / 'blobs'}"))
        try:
            stored = ScoreDoc.from_update(
                (await DocumentStore(backend.storage).load(score_id)).state
            )
        finally:
            await backend.close()
        assert stored.raw_notes() == a.score.raw_notes()
        # edits after the outage are stored and shared as usual
        after: list[str] = []
        await Writer(b, after).write(5)
        await wait_for(lambda: set(after) <= note_ids(a), timeout=10)
    assert proxy.accepted > connections_before  # the pool opened new connections
