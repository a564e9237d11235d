"""Agent tasks on the server: who may start which task, running it as a participant of
the score's room, cancelling and undoing it. REST, the chat watcher, the CLI and the
worker all start tasks here, so each gets the same rules.

- **Roles**: anyone who may read a score may ask an agent that only talks (mia, miette);
  a task that writes needs the editor role, and runs with the rights of whoever asked.
- **Rate**: at most ``tasks_per_minute`` tasks per user per minute (a token bucket).
- **Where it runs**: :meth:`AgentTasks.start` records the task and hands it to a
  ``runner`` (embedded default: :meth:`AgentTasks.run` as a background task of this
  process, the music work in a thread; with a worker tier, an enqueuer that sends the
  task to the ``agents.run_task`` Dramatiq actor, whose worker runs :meth:`AgentTasks.run`
  in its own headless rooms; edits and presence reach every instance by fan-out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pycrdt import UndoManager

from agents.brains.base import Brain, TaskRequest
from agents.brains.offline import OfflineBrain
from agents.config import AgentConfig
from agents.memory import Memory
from agents.personas import Persona, UnknownPersona, load_personas
from agents.runtime import awaiting_review, run_task
from agents.tasks import FINISHED, TaskBoard, TaskRecord
from agents.undo import undo_all
from collab_server.errors import Conflict, Forbidden, RateLimited, ScoreNotFound, Unprocessable
from collab_server.observability.sentry import task_scope
from collab_server.participants.hub import ParticipantHub
from collab_server.participants.participant import Participant, Profile
from collab_server.participants.undo_relay import UndoRelay
from collab_server.security.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from collab_server.settings import Settings
from collab_server.sync.room import Room
from persistence.accounts.base import RANK, Role
from persistence.conversations.base import ConversationStore
from score_model.ops import ScoreEditor
from score_model.origin import Origin

log = logging.getLogger("orpheus.agents")

BrainFactory = Callable[[Persona, AgentConfig, Sequence[Any]], Brain]
Runner = Callable[[TaskRecord, Role], Awaitable[None]]
MAX_UNDO = 200  # finished tasks whose undo is kept in memory (their rooms stay loaded)
UNDO_SECONDS = 3600.0  # ... for at most this long
REVIEW_POLL_SECONDS = 0.2
UNDO_WAIT_SECONDS = 20.0  # how long a server waits for the worker holding an undo


def default_brain(persona: Persona, config: AgentConfig, memory: Sequence[Any]) -> Brain:
    """The LLM brain when a key is configured, else the offline one."""
    if config.llm_enabled:
        from agents.brains.llm import LlmBrain

        return LlmBrain(config, memory=memory)
    return OfflineBrain()


def agent_config(settings: Settings) -> AgentConfig:
    """The agents' settings, read from the server's."""
    return AgentConfig(
        llm_base_url=settings.llm_base_url,
        llm_model=settings.llm_model,
        llm_api_key=settings.llm_api_key,
        max_notes=settings.agent_max_notes,
        tasks_per_minute=settings.agent_tasks_per_minute,
        max_tokens=settings.agent_max_tokens,
        max_seconds=settings.agent_max_seconds,
    )


def agent_limiter(config: AgentConfig, redis: Any = None) -> RateLimiter | None:
    """Tasks per user per minute: shared by every instance through Redis when there is
    one (``redis``: the process's client), else per process; ``None`` when unlimited."""
    if config.tasks_per_minute <= 0:
        return None
    rate, burst = config.tasks_per_minute / 60, config.tasks_per_minute
    if redis is not None:
        return RedisRateLimiter(redis, rate, burst, prefix="orpheus:rl:agent-tasks:")
    return MemoryRateLimiter(rate, burst)


def task_origin(record: TaskRecord) -> Origin:
    return Origin.agent(f"{record.agent}:{record.id}")


class AgentTasks:
    """Start, run, cancel and undo agent tasks of this instance's rooms."""

    def __init__(
        self,
        hub: ParticipantHub,
        board: TaskBoard,
        config: AgentConfig,
        *,
        personas: Mapping[str, Persona] | None = None,
        conversations: ConversationStore | None = None,
        limiter: RateLimiter | None = None,
        brains: BrainFactory = default_brain,
        runner: Runner | None = None,
        on_finish: Callable[[TaskRecord], None] | None = None,
        on_review: Callable[[dict[str, list[str]]], None] | None = None,
        relay: UndoRelay | None = None,
    ) -> None:
        self.hub = hub
        self.board = board
        self.config = config
        self.personas = dict(personas) if personas is not None else dict(load_personas())
        self.conversations = conversations
        self.limiter = limiter
        self.brains = brains
        self.runner = runner or self._run_here
        self.on_finish = on_finish  # each task run here, once finished (metrics)
        self.on_review = on_review  # each review's suggestion ids by outcome (metrics)
        # with a worker tier: undo of tasks run elsewhere (asked), or run here (served)
        self.relay = relay
        self._serving: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[asyncio.Task[None]] = set()  # agents waiting for review
        # finished tasks' undo managers, with their room held so the undo stays valid
        self._undo: OrderedDict[str, tuple[Room, UndoManager, float]] = OrderedDict()

    def persona(self, name: str) -> Persona:
        try:
            return self.personas[name.lower().lstrip("@")]
        except KeyError:
            raise Unprocessable(
                f"no agent named {name!r}; agents: {', '.join(sorted(self.personas))}"
            ) from None

    async def start(
        self,
        score_id: str,
        *,
        agent: str,
        instruction: str,
        role: Role,
        user: str | None,
        measures: Sequence[str] | None = None,
        parts: Sequence[str] | None = None,
        mode: str = "suggest",
        source: str = "rest",
    ) -> TaskRecord:
        """Record a task and hand it to the runner; its progress is on the board.
        :class:`Forbidden` for a viewer asking for a writing task, :class:`RateLimited`
        over the per-user rate, :class:`Unprocessable` for a bad request."""
        persona = self.persona(agent)
        if mode not in ("suggest", "direct"):
            raise Unprocessable("mode must be 'suggest' or 'direct'")
        instruction = (instruction or "").strip() or persona.default_ability
        if len(instruction) > 4_000:
            raise Unprocessable("the instruction is longer than 4,000 characters")
        if persona.writes and RANK[role] < RANK["editor"]:
            raise Forbidden(f"{persona.name} writes notes: that needs the editor role")
        if self.limiter is not None and self.config.tasks_per_minute > 0:
            wait = await self.limiter.hit(f"agent-tasks:{user or 'anonymous'}")
            if wait > 0:
                raise RateLimited(
                    f"at most {self.config.tasks_per_minute} agent tasks per minute",
                    retry_after=wait,
                )
        record = TaskRecord(
            score_id,
            persona.name,
            instruction,
            "direct" if mode == "direct" else "suggest",
            tuple(measures) if measures else None,
            tuple(parts) if parts else None,
            user,
            source,
        )
        await self.board.save(record)
        await self.board.emit(record.id, "queued", {"agent": persona.name})
        if self.conversations is not None:
            with contextlib.suppress(Exception):
                await Memory(self.conversations, score_id, self.config).remember_user(
                    user, instruction, task=record.id, agent=persona.name
                )
        await self.runner(record, role)
        return record

    async def _run_here(self, record: TaskRecord, role: Role) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run_quietly(record, role), name=f"agent-{record.id}"
        )
        self._running[record.id] = task
        task.add_done_callback(lambda _: self._running.pop(record.id, None))

    async def _run_quietly(self, record: TaskRecord, role: Role) -> None:
        try:
            await self.run(record, role)
        except Exception:
            log.exception("agent task crashed", extra={"task": record.id})

    async def run(self, record: TaskRecord, role: Role) -> TaskRecord:
        """Run a recorded task to its end in this process (the embedded runner and the
        worker's actor both call this)."""
        with task_scope(record.id, record.score_id, record.agent):  # Sentry tags
            finished = await self._run(record, role)
        if self.on_finish is not None:
            self.on_finish(finished)
        return finished

    async def _run(self, record: TaskRecord, role: Role) -> TaskRecord:
        persona = self.persona(record.agent)
        memory = (
            Memory(self.conversations, record.score_id, self.config)
            if self.conversations is not None
            else None
        )
        history: Sequence[Any] = ()
        if self.conversations is not None:
            with contextlib.suppress(Exception):
                history = [
                    m.message
                    for m in await self.conversations.recent(
                        record.score_id,
                        limit=self.config.memory_messages,
                        max_chars=self.config.memory_chars,
                    )
                ]
        session: Participant | None
        try:
            session = await self.hub.join(
                record.score_id,
                Profile(persona.display_name, persona.color, "agent"),
                task_origin(record),
                role=role,
            )
        except ScoreNotFound as exc:
            record.status, record.error = "failed", exc.message
            await self.board.save(record)
            await self.board.emit(record.id, "failed", {"error": record.error})
            return record
        try:
            request = TaskRequest(
                persona, record.instruction, record.measures, record.parts, record.mode
            )
            finished = await run_task(
                session,
                request,
                self.brains(persona, self.config, history),
                record=record,
                board=self.board,
                config=self.config,
                memory=memory,
            )
            if finished.undo is not None and record.status == "done":
                session.room.retain()
                now = time.monotonic()
                self._undo[record.id] = (session.room, finished.undo, now)
                while self._undo and (
                    len(self._undo) > MAX_UNDO
                    or next(iter(self._undo.values()))[2] < now - UNDO_SECONDS
                ):
                    self._undo.popitem(last=False)[1][0].release()
                await self._offer_undo(record.id)
            if finished.waiting:
                self._spawn(self._await_review(session, record.id))
                session = None  # the waiting task leaves
            return finished.record
        finally:
            if session is not None:
                await session.leave()

    async def _offer_undo(self, task_id: str) -> None:
        """With a relay (a worker), let servers ask this process to undo ``task_id``."""
        if self.relay is None:
            return
        try:
            await self.relay.hold(task_id, UNDO_SECONDS)
        except Exception:
            log.warning("could not offer the task's undo", extra={"task": task_id})
            return
        if self._serving is None or self._serving.done():
            self._serving = asyncio.get_running_loop().create_task(
                self.relay.serve(self._undo_served), name="agent-undo-relay"
            )

    async def _undo_served(self, task_id: str) -> None:
        record = await self.board.get(task_id)
        if record is None:
            raise Conflict("this task is no longer on the board")
        await self._undo_here(record)

    async def _await_review(self, session: Participant, task_id: str) -> None:
        """Stay present ("waiting for review") until people have accepted or rejected
        every suggestion of the task, or ``review_seconds`` pass; then leave."""
        try:
            deadline = asyncio.get_running_loop().time() + self.config.review_seconds
            while (
                awaiting_review(session.doc, task_id)
                and asyncio.get_running_loop().time() < deadline
                and not session.left
                and not session.room.closed
            ):
                await asyncio.sleep(REVIEW_POLL_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await session.set_presence(None)
            await session.leave()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)

    async def get(self, score_id: str, task_id: str) -> TaskRecord:
        record = await self.board.get(task_id)
        if record is None or record.score_id != score_id:
            raise ScoreNotFound(f"no task {task_id} on this score")
        return record

    async def cancel(self, score_id: str, task_id: str) -> TaskRecord:
        """Stop a task (at its next step; whatever it wrote is withdrawn)."""
        record = await self.get(score_id, task_id)
        if record.status not in FINISHED:
            await self.board.cancel(task_id)
            running = self._running.get(task_id)
            if running is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(asyncio.shield(running), 10)
        return await self.get(score_id, task_id)

    async def undo(self, score_id: str, task_id: str, role: Role) -> TaskRecord:
        """Revert exactly a finished task's changes; people's later edits stay. A task
        run on a worker is undone by that worker (through the relay), which holds its
        undo; this waits for it."""
        if RANK[role] < RANK["editor"]:
            raise Forbidden("undoing an agent's work needs the editor role")
        record = await self.get(score_id, task_id)
        if task_id in self._undo or self.relay is None:
            return await self._undo_here(record)
        if record.status != "done":
            raise Conflict(f"only a finished task can be undone; this one is {record.status}")
        await self.relay.request(task_id, timeout=UNDO_WAIT_SECONDS)
        return await self.get(score_id, task_id)

    async def _undo_here(self, record: TaskRecord) -> TaskRecord:
        task_id = record.id
        kept = self._undo.pop(task_id, None)
        if kept is None:
            raise Conflict(
                "this task cannot be undone here (not finished, already "
                "undone, older than an hour, or run by another process)"
            )
        room, manager, _ = kept
        try:
            if room.closed:
                raise Conflict("the score was reloaded since the task ran: its undo is gone")
            steps = undo_all(manager)
            await room.flushed()
        finally:
            room.release()
        log.info("agent task undone", extra={"task": task_id, "steps": steps})
        record.status = "undone"
        await self.board.save(record)
        await self.board.emit(task_id, "undone", {})
        return record

    async def review(
        self,
        score_id: str,
        task_id: str,
        *,
        accept: bool,
        measures: Sequence[str] | None = None,
        by: str | None = None,
    ) -> dict[str, list[str]]:
        """Accept (apply, stale measures refused) or reject (delete) a task's pending
        suggestions, all or those of ``measures``, in one transaction: what a client does
        through the document, for scripts."""
        await self.get(score_id, task_id)
        async with self.hub.rooms.hold(score_id) as room:
            chosen = [
                sid
                for sid, raw in room.score.raw_suggestions().items()
                if isinstance(raw, dict)
                and raw.get("task") == task_id
                and raw.get("status") == "pending"
                and (measures is None or raw.get("measure") in measures)
            ]
            editor = ScoreEditor(room.score, Origin.server("accept" if accept else "reject"))
            if accept:
                result = editor.apply_suggestions(chosen, by=by)
            else:
                with editor.batch():
                    for suggestion_id in chosen:
                        editor.delete_suggestion(suggestion_id)
                result = {"rejected": chosen}
            await room.flushed()
        if self.on_review is not None:
            self.on_review(result)
        return result

    async def close(self) -> None:
        for task in [*self._running.values(), *self._waiting]:
            task.cancel()
        for task in [*self._running.values(), *self._waiting]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._serving
        if self.relay is not None:
            with contextlib.suppress(Exception):
                await self.relay.leave()
        while self._undo:
            self._undo.popitem(last=False)[1][0].release()


__all__ = [
    "AgentTasks",
    "UnknownPersona",
    "agent_config",
    "agent_limiter",
    "default_brain",
    "task_origin",
]
