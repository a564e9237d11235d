"""Agent tasks in the worker tier: a Dramatiq actor as a thin shell over
:meth:`~collab_server.participants.agents.AgentTasks.run`, and the runner the server uses
to enqueue by actor name.

In production (``REDIS_URL``) the server records the task on the shared
:class:`~collab_server.participants.redis_board.RedisTaskBoard` and enqueues
``agents.run_task``; an ``orpheus worker`` runs it in its own headless rooms (store and
fan-out hooks, so people on every instance see the agent's presence and edits) and writes
progress to the board, which REST and SSE read. The worker keeps each finished task's
undo and answers undo requests a server relays to it
(:mod:`~collab_server.participants.undo_relay`). Embedded, the server runs the same
:meth:`AgentTasks.run` in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import dramatiq
from dramatiq.middleware.asyncio import get_event_loop_thread

from agents.tasks import TaskRecord
from collab_server.participants.agents import AgentTasks, agent_config
from collab_server.participants.hub import ParticipantHub
from collab_server.participants.redis_board import RedisTaskBoard
from collab_server.participants.redis_undo_relay import RedisUndoRelay
from collab_server.settings import Settings
from persistence.accounts.base import Role

QUEUE = "agents"
RUN_TASK = "agents.run_task"
TIME_LIMIT_MS = 15 * 60 * 1000


class DramatiqRunner:
    """Hands tasks to the worker tier: enqueues ``agents.run_task`` by name."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        broker.declare_queue(QUEUE)

    async def __call__(self, record: TaskRecord, role: Role) -> None:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=QUEUE,
            actor_name=RUN_TASK,
            args=(record.to_json(), role),
            kwargs={},
            options={},
        )
        await asyncio.to_thread(self.broker.enqueue, message)


class AgentActor:
    """``agents.run_task`` declared on a broker; :meth:`close` ends the worker's agents
    (those still waiting for a review leave) before the worker stops."""

    def __init__(self, broker: dramatiq.Broker, tasks: Callable[[], Awaitable[AgentTasks]]) -> None:
        self._factory = tasks
        self._built: list[AgentTasks] = []
        self._lock = asyncio.Lock()
        self.actor = dramatiq.actor(
            actor_name=RUN_TASK,
            queue_name=QUEUE,
            broker=broker,
            max_retries=0,
            time_limit=TIME_LIMIT_MS,
        )(self._run_task)

    async def _job(self, raw: dict[str, Any], role: Role) -> None:
        async with self._lock:
            if not self._built:
                self._built.append(await self._factory())
        await self._built[0].run(TaskRecord.from_json(raw), role)

    def _run_task(self, raw: dict[str, Any], role: Role) -> None:
        """Run one agent task to its end."""
        runner = get_event_loop_thread()
        if runner is None:
            raise RuntimeError("no event loop for the agent actor: add the AsyncIO middleware")
        runner.run_coroutine(self._job(raw, role))

    def close(self) -> None:
        runner = get_event_loop_thread()
        if runner is not None and self._built:
            runner.run_coroutine(self._built[0].close())


def declare_agent_actor(
    broker: dramatiq.Broker, tasks: Callable[[], Awaitable[AgentTasks]]
) -> AgentActor:
    """Declare ``agents.run_task`` on ``broker``; ``tasks`` builds the worker's
    :class:`AgentTasks` once, on the actors' event loop (Dramatiq's ``AsyncIO``)."""
    return AgentActor(broker, tasks)


async def headless_tasks(settings: Settings, redis: Any) -> AgentTasks:
    """The worker's agent tasks: its own rooms over the shared storage, with store and
    fan-out hooks (no clients connect to them), and the board in Redis."""
    from collab_server.fanout.factory import open_fanout
    from collab_server.fanout.hooks import FanoutHooks
    from collab_server.sync.hooks import HookChain
    from collab_server.sync.rooms import RoomManager
    from collab_server.sync.store_hooks import StoreHooks
    from persistence.backend import open_backend
    from persistence.documents.store import DocumentStore

    backend = await open_backend(
        replace(settings.backend_config(), application_name="orpheus-agents")
    )
    documents = DocumentStore(
        backend.storage,
        commit_window=settings.commit_window_ms / 1000,
        compact_every=settings.compact_every,
    )
    store = StoreHooks(documents)
    fanout = open_fanout(redis, f"{settings.instance_id}-agents")
    hooks = store if fanout is None else HookChain(FanoutHooks(fanout, store), store)
    rooms = RoomManager(hooks, idle_timeout=settings.room_idle_seconds)
    return AgentTasks(
        ParticipantHub(rooms),
        RedisTaskBoard(redis),
        agent_config(settings),
        conversations=backend.conversations,
        relay=RedisUndoRelay(redis),
    )
