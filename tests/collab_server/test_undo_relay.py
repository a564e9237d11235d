"""The undo relay: one contract over the in-memory and the Redis relay (a server's relay
asks, a worker's serves): an undo reaches the holder and its refusal comes back, no live
holder is a conflict at once, a holder that does not answer is unavailable."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from collab_server.errors import Conflict, Unavailable
from collab_server.participants.redis_undo_relay import RedisUndoRelay
from collab_server.participants.undo_relay import MemoryUndoRelay, UndoRelay
from score_model.ids import new_id
from tests.services import redis_service  # noqa: F401

Pair = tuple[UndoRelay, UndoRelay]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
async def relays(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    """A server's relay and a worker's, reaching each other."""
    if request.param == "memory":
        worker = MemoryUndoRelay()
        yield MemoryUndoRelay(worker.exchange), worker
        return
    client = Redis.from_url(request.getfixturevalue("redis_service"))
    yield RedisUndoRelay(client, poll=0.01), RedisUndoRelay(client, poll=0.01)
    await client.aclose()


@contextlib.asynccontextmanager
async def serving(relay: UndoRelay, undone: list[str]) -> AsyncIterator[None]:
    async def undo(task_id: str) -> None:
        if task_id.endswith("refused"):
            raise Conflict("the score was reloaded since the task ran: its undo is gone")
        undone.append(task_id)

    task = asyncio.create_task(relay.serve(undo))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_holder_undoes_and_its_refusal_comes_back(relays: Pair) -> None:
    server, worker = relays
    task, refused = new_id("t"), new_id("t") + "refused"
    undone: list[str] = []
    await worker.hold(task, 60)
    await worker.hold(refused, 60)
    async with serving(worker, undone):
        await server.request(task, timeout=5)
        assert undone == [task]
        with pytest.raises(Conflict, match="reloaded"):
            await server.request(refused, timeout=5)
    assert undone == [task]
    await worker.leave()


async def test_no_live_holder_is_a_conflict(relays: Pair) -> None:
    server, worker = relays
    with pytest.raises(Conflict, match="stopped or restarted"):
        await server.request(new_id("t"), timeout=5)  # never held
    task = new_id("t")
    undone: list[str] = []
    await worker.hold(task, 60)
    async with serving(worker, undone):
        pass
    await worker.leave()  # the worker stops: its undo is gone
    with pytest.raises(Conflict, match="stopped or restarted"):
        await server.request(task, timeout=5)
    assert undone == []


async def test_a_holder_that_does_not_answer_is_unavailable(relays: Pair) -> None:
    server, worker = relays
    task = new_id("t")
    await worker.hold(task, 60)  # held, but nothing serves the requests
    with pytest.raises(Unavailable, match="did not answer"):
        await server.request(task, timeout=0.3)
    await worker.leave()
