"""Fan-out between instances: the :class:`~collab_server.fanout.base.FanOut` contract over
the in-process bus and Redis (a real one); the in-process bus with real rooms, servers
and clients; a Redis restart (a private ``redis-server``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from collab_server import redis_client
from collab_server.fanout.base import RESYNC, FanOut, Message
from collab_server.fanout.factory import open_fanout
from collab_server.fanout.hooks import UPDATE, FanoutHooks
from collab_server.fanout.memory import MemoryBus, MemoryFanOut
from collab_server.fanout.redis import RedisFanOut
from collab_server.sync.hooks import HookChain, LoadedState
from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from persistence.documents.store import DocumentStore
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, serve
from tests.services import redis_service  # noqa: F401


@dataclass
class Instance:
    name: str
    fanout: MemoryFanOut
    documents: DocumentStore
    hooks: FanoutHooks
    rooms: RoomManager
    url: str = ""


class SlowLoad(StoreHooks):
    """Persistence hooks whose load takes a while (to publish during it)."""

    delay = 0.0

    async def load(self, score_id: str) -> LoadedState:
        loaded = await super().load(score_id)
        await asyncio.sleep(self.delay)
        return loaded


@asynccontextmanager
async def instances(
    backend: Backend,
    bus: MemoryBus,
    count: int = 2,
) -> AsyncIterator[list[Instance]]:
    """``count`` instances in this process sharing ``backend``'s storage and ``bus``."""
    async with AsyncExitStack() as stack:
        made = []
        for index in range(count):
            documents = DocumentStore(backend.storage, commit_window=0.001)
            store = SlowLoad(documents)
            fanout = bus.connect(f"i{index}")
            hooks = FanoutHooks(fanout, store, retry_delay=0.01, max_retry_delay=0.05)
            rooms = RoomManager(HookChain(hooks, store), idle_timeout=60)
            instance = Instance(f"i{index}", fanout, documents, hooks, rooms)
            stack.push_async_callback(documents.close)
            stack.push_async_callback(hooks.close)
            stack.push_async_callback(rooms.close)
            instance.url = await stack.enter_async_context(serve(make_app(rooms)))
            made.append(instance)
        yield made


def notes(client: YClient) -> dict[str, object]:
    return client.score.raw_notes()


def add_note(client: YClient, backend: Backend, pitch: str, onset: str = "0") -> str:
    ids = backend.ids["s1"]
    return ScoreEditor(client.score, Origin.client("me")).add_note(
        ids["measures"][0], ids["parts"][0], onset, "1/4", [pitch]
    )


# --- the FanOut contract, over every implementation ---------------------------------


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def fanouts(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FanOut, FanOut]]:
    """Two instances' fan-outs on one bus. Redis: both on ONE shared client, as every
    user of Redis in a process shares one (``collab_server.redis_client``)."""
    if request.param == "memory":
        bus = MemoryBus()
        yield bus.connect("a"), bus.connect("b")
        return
    client = redis_client.connect(request.getfixturevalue("redis_service"))
    prefix = f"orpheus:test:{os.getpid()}:{id(object())}:"
    a = RedisFanOut(client, "a", prefix=prefix, block_ms=1000)
    b = RedisFanOut(client, "b", prefix=prefix, block_ms=1000)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        assert await client.ping()  # the fan-outs leave the shared client open
        await client.aclose()


async def test_delivers_in_order_without_echo(fanouts: tuple[FanOut, FanOut]) -> None:
    a, b = fanouts
    await a.publish("s", UPDATE, b"before")  # published before b subscribed: not delivered
    await asyncio.sleep(0.01)  # (the memory bus delivers on the next loop iteration)
    got_a: list[Message] = []
    got_b: list[Message] = []
    await a.subscribe("s", got_a.append)
    sub_b = await b.subscribe("s", got_b.append)
    for n in range(50):
        await a.publish("s", UPDATE, n.to_bytes(2, "big"))
    await a.publish("other", UPDATE, b"elsewhere")
    await b.publish("s", "awareness", b"presence")
    await wait_for(lambda: len(got_b) == 50 and len(got_a) == 1)
    assert [int.from_bytes(m.payload, "big") for m in got_b] == list(range(50))
    assert {(m.kind, m.instance) for m in got_b} == {(UPDATE, "a")}
    assert got_a == [Message("awareness", b"presence", "b")]
    await b.unsubscribe(sub_b)
    await a.publish("s", UPDATE, b"late")
    await b.publish("s", "awareness", b"marker")  # a sees it after anything b could
    await wait_for(lambda: len(got_a) == 2)
    assert len(got_b) == 50


async def test_subscription_added_while_reading_starts_at_once(
    fanouts: tuple[FanOut, FanOut],
) -> None:
    a, b = fanouts
    first: list[Message] = []
    await b.subscribe("one", first.append)
    await asyncio.sleep(0.05)  # Redis: b's reader is now blocked on stream "one"
    second: list[Message] = []
    await b.subscribe("two", second.append)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await a.publish("two", UPDATE, b"x")
    await wait_for(lambda: len(second) == 1, timeout=2)
    assert loop.time() - started < 0.5  # not after the 1 s block timeout
    assert first == []


def test_factory_uses_the_shared_client() -> None:
    assert open_fanout(None, "x") is None
    client = redis_client.connect("redis://127.0.0.1:1/0")
    fanout = open_fanout(client, "x")
    assert isinstance(fanout, RedisFanOut) and fanout.client is client


def test_blocking_reads_end_before_the_client_gives_up() -> None:
    client = redis_client.connect("redis://127.0.0.1:1/0", timeout=2.0)
    assert RedisFanOut(client, "x", block_ms=5_000).block_ms == 1_000
    assert RedisFanOut(client, "x", block_ms=300).block_ms == 300


# --- the in-process bus with real rooms ----------------------------------------------


async def test_clients_on_two_instances_edit_together(backend: Backend) -> None:
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        a = await YClient(f"{one.url}/s1", presence={"name": "ann"}).connect()
        b = await YClient(f"{two.url}/s1", presence={"name": "bob"}).connect()
        await asyncio.gather(a.synced.wait(), b.synced.wait())
        first = add_note(a, backend, "C4")
        second = add_note(b, backend, "E4", "1")
        await wait_for(lambda: notes(a).keys() == notes(b).keys() == {first, second})
        # presence crosses instances, both ways
        await wait_for(lambda: {s.get("name") for s in a.presence.values()} == {"bob"})
        await wait_for(lambda: {s.get("name") for s in b.presence.values()} == {"ann"})
        # each update is stored once, by the instance that received it
        for instance in (one, two):
            await instance.documents.flush()
        epoch = (await backend.storage.catalog.get_score("s1")).epoch
        entries = await backend.storage.log.read("s1", epoch)
        assert len(entries) == 2
        stored = await backend.stored()
        assert stored.raw_notes() == notes(a)
        # a client leaving is seen leaving on the other instance
        await b.close()
        await wait_for(lambda: a.presence == {})
        await a.close()


async def test_nothing_published_while_loading_is_missed(backend: Backend) -> None:
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        a = await YClient(f"{one.url}/s1").connect()
        await a.synced.wait()
        two_store = two.hooks.loader
        assert isinstance(two_store, SlowLoad)
        two_store.delay = 0.3
        loading = asyncio.create_task(two.rooms.get_room("s1"))
        await asyncio.sleep(0.1)  # instance two has subscribed and is loading
        during = add_note(a, backend, "G4")
        await one.rooms.loaded("s1").flushed()  # type: ignore[union-attr]
        room = await loading
        assert during in room.score.raw_notes()
        b = await YClient(f"{two.url}/s1").connect()
        await b.synced.wait()
        assert during in notes(b)
        await a.close()
        await b.close()


async def test_publish_failures_are_retried_and_rooms_keep_working(backend: Backend) -> None:
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        a = await YClient(f"{one.url}/s1").connect()
        b = await YClient(f"{two.url}/s1").connect()
        a2 = await YClient(f"{one.url}/s1").connect()
        await asyncio.gather(a.synced.wait(), b.synced.wait(), a2.synced.wait())
        one.fanout.failing = True
        made = [add_note(a, backend, p, str(i)) for i, p in enumerate(["C4", "D4", "E4"])]
        await wait_for(lambda: set(made) <= notes(a2).keys())  # local clients unaffected
        await asyncio.sleep(0.05)
        assert not set(made) & notes(b).keys()
        assert one.hooks.publish_failures > 0
        one.fanout.failing = False
        await wait_for(lambda: set(made) <= notes(b).keys())
        for client in (a, b, a2):
            await client.close()


async def test_resync_catches_up_from_the_log(backend: Backend) -> None:
    """Messages lost in transit (as when Redis restarts) are recovered from the
    persistence log when the fan-out says it may have missed some."""
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        a = await YClient(f"{one.url}/s1").connect()
        b = await YClient(f"{two.url}/s1").connect()
        await asyncio.gather(a.synced.wait(), b.synced.wait())
        real_deliver = bus.deliver
        bus.deliver = lambda score_id, message: None  # type: ignore[method-assign]
        lost = add_note(a, backend, "A4")
        await one.rooms.loaded("s1").flushed()  # type: ignore[union-attr]
        await asyncio.sleep(0.02)
        assert lost not in notes(b)
        bus.deliver = real_deliver  # type: ignore[method-assign]
        bus.resync()
        await wait_for(lambda: lost in notes(b))
        assert two.hooks.catch_ups >= 1
        await a.close()
        await b.close()


async def test_update_with_missing_dependencies_triggers_catch_up(backend: Backend) -> None:
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        b = await YClient(f"{two.url}/s1").connect()
        await b.synced.wait()
        room_one = await one.rooms.get_room("s1")
        room_one.retain()
        ids = backend.ids["s1"]
        editor = ScoreEditor(room_one.score, Origin.agent("bot"))
        real_deliver = bus.deliver
        bus.deliver = lambda score_id, message: None  # type: ignore[method-assign]
        base = editor.add_note(ids["measures"][0], ids["parts"][0], "0", "1/4", ["C4"])
        await room_one.flushed()
        bus.deliver = real_deliver  # type: ignore[method-assign]
        editor.set_pitches(base, ["D4"])  # depends on the note two never received
        await room_one.flushed()
        await wait_for(lambda: notes(b).get(base, {}).get("pitches") == ["D4"])  # type: ignore[union-attr]
        assert two.hooks.catch_ups >= 1
        room_one.release()
        await b.close()


async def test_restore_on_one_instance_resets_the_other(backend: Backend) -> None:
    await backend.create_score()
    bus = MemoryBus()
    async with instances(backend, bus) as (one, two):
        b = await YClient(f"{two.url}/s1").connect()
        await b.synced.wait()
        room_two = await two.rooms.get_room("s1")
        room_one = await one.rooms.get_room("s1")
        room_one.retain()
        state = room_one.score.encode_state()
        epoch = await one.rooms.restore("s1", state, lambda: one.documents.reset("s1", state))
        editor = ScoreEditor(room_one.score, Origin.agent("bot"))
        ids = backend.ids["s1"]
        editor.add_note(ids["measures"][0], ids["parts"][0], "0", "1/4", ["C4"])
        await room_one.flushed()
        await wait_for(lambda: room_two.epoch == epoch)
        assert await b.wait_closed() == 4409
        room_one.release()


# --- Redis ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of our own on a free port, without persistence."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed", pytrace=False)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                import time

                time.sleep(0.02)
        pytest.fail(f"redis-server did not start on port {self.port}", pytrace=False)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.mark.services
async def test_redis_restart_reconnects_and_asks_for_resync(private_redis: PrivateRedis) -> None:
    a = RedisFanOut.from_url(private_redis.url, "a", block_ms=500, max_retry_delay=0.2)
    b = RedisFanOut.from_url(private_redis.url, "b", block_ms=500, max_retry_delay=0.2)
    try:
        got: list[Message] = []
        await b.subscribe("s", got.append)
        await a.publish("s", UPDATE, b"1")
        await wait_for(lambda: [m.payload for m in got] == [b"1"])
        private_redis.kill()
        with pytest.raises(Exception):  # noqa: B017 - any connection error
            await a.publish("s", UPDATE, b"lost")
        await wait_for(lambda: not b.connected, timeout=5)
        private_redis.start()
        await wait_for(lambda: b.connected, timeout=10)
        await wait_for(lambda: any(m.kind == RESYNC for m in got), timeout=5)
        await a.publish("s", UPDATE, b"2")  # the restarted Redis lost the stream: still read
        await wait_for(lambda: got[-1].payload == b"2", timeout=5)
        client = aioredis.Redis.from_url(private_redis.url)
        assert await client.ping()
        await client.aclose()
    finally:
        await a.close()
        await b.close()
