"""Room hooks that let people drive agents from inside the document:

- **@mentions**: a new chat message from a person (``@aureon harmonise bars 1-8``) starts
  a task for the mentioned persona, acting with the rights of the message's author;
- **acceptance**: a suggestion a client set to ``"accepted"`` is applied by the server
  (``ScoreEditor.apply_suggestions``: one transaction per batch, stale measures refused).

Both react only to changes made by this instance's own connections (their origins are
``client``), so with several instances exactly one acts on each chat message and
acceptance. Work is scheduled off the room's flush loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents.mentions import bar_range, find_mention, measures_of
from collab_server.errors import OrpheusError
from collab_server.participants.agents import AgentTasks
from collab_server.sync.hooks import RoomHooks
from collab_server.sync.room import Room
from persistence.accounts.base import Role
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin, OriginKind

log = logging.getLogger("orpheus.agents")

ACCEPT_ORIGIN = Origin.server("accept")
#: Who wrote a message, from the connection that sent it: ``(user id, role)`` or None.
AuthorOf = Callable[[Room, Origin], Awaitable[tuple[str | None, Role] | None]]


async def connection_author(room: Room, origin: Origin) -> tuple[str | None, Role] | None:
    """The principal and role of the connection behind ``origin``."""
    for conn in room.connections:
        if conn.id == origin.id:
            role: Role = "viewer" if conn.read_only else "editor"
            return getattr(conn, "principal", None), role
    return None


class AgentRoomHooks(RoomHooks):
    """Watch chat for @mentions and suggestions for acceptance."""

    def __init__(
        self,
        tasks: AgentTasks | None = None,
        *,
        author_of: AuthorOf = connection_author,
        on_accepted: Callable[[dict[str, list[str]]], None] | None = None,
    ) -> None:
        self._tasks = tasks
        self.on_accepted = on_accepted  # ids applied and stale per acceptance (metrics)
        self.author_of = author_of
        self._rooms: dict[str, _Watch] = {}
        self._background: set[asyncio.Task[Any]] = set()

    def bind(self, tasks: AgentTasks) -> None:
        """Set the tasks (built after the rooms these hooks belong to)."""
        self._tasks = tasks

    @property
    def tasks(self) -> AgentTasks:
        if self._tasks is None:
            raise RuntimeError("AgentRoomHooks used before bind()")
        return self._tasks

    async def on_load(self, room: Room) -> None:
        self._watch(room)

    async def on_unload(self, room: Room) -> None:
        self._rooms.pop(room.score_id, None)

    def _watch(self, room: Room) -> _Watch:
        """This room's state, (re)subscribed to its current document (a restore replaces
        it)."""
        state = self._rooms.get(room.score_id)
        if state is None or state.score is not room.score:
            state = _Watch(room.score, len(room.score.chat))
            room.score.suggestions.observe(state.touched)
            self._rooms[room.score_id] = state
        return state

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        """Cheap unless something happened: the chat's length and a flag set by the
        suggestions' observer say whether to look."""
        state = self._watch(room)
        clients = [o for o in origins if o.kind == OriginKind.CLIENT]
        chat = room.score.chat
        if not clients or self._tasks is None:
            state.chat_seen, state.suggestions_changed = len(chat), False
            return
        if state.suggestions_changed:
            state.suggestions_changed = False
            self._accept(room)
        length = len(chat)
        start, state.chat_seen = min(state.chat_seen, length), length
        for index in range(start, length):
            message = chat[index]
            if not isinstance(message, dict):
                continue
            if message.get("author_kind", "person") in ("agent", "service"):
                continue
            mention = find_mention(str(message.get("text", "")), self.tasks.personas)
            if mention is not None:
                self._spawn(
                    self._start(room, clients, mention.persona.name, mention.instruction, message)
                )

    def _accept(self, room: Room) -> None:
        accepted = [
            sid
            for sid, raw in room.score.raw_suggestions().items()
            if isinstance(raw, dict) and raw.get("status") == "accepted"
        ]
        if not accepted:
            return
        try:
            by = room.score.suggestions[accepted[0]].get("by")
            result = ScoreEditor(room.score, ACCEPT_ORIGIN).apply_suggestions(
                accepted, by=by if isinstance(by, str) else None
            )
            log.info(
                "suggestions accepted",
                extra={"score": room.score_id, **{k: len(v) for k, v in result.items()}},
            )
            if self.on_accepted is not None:
                self.on_accepted(result)
        except Exception:
            log.exception("applying accepted suggestions failed", extra={"score": room.score_id})

    async def _start(
        self,
        room: Room,
        clients: list[Origin],
        agent: str,
        instruction: str,
        message: dict[str, Any],
    ) -> None:
        author = None
        for origin in clients:
            author = await self.author_of(room, origin)
            if author is not None:
                break
        if author is None:
            return  # the connection left already: nobody to act for
        user, role = author
        bars = bar_range(instruction)
        measures = None
        if bars is not None:
            numbers = [(slot.number, slot.id) for slot in room.score.read().layout()]
            measures = measures_of(bars, numbers) or None
        try:
            await self.tasks.start(
                room.score_id,
                agent=agent,
                instruction=instruction,
                role=role,
                user=user,
                measures=measures,
                source="chat",
            )
        except OrpheusError as exc:
            with contextlib.suppress(Exception):
                persona = self.tasks.persona(agent)
                ScoreEditor(room.score, Origin.agent(persona.name)).post_chat(
                    persona.display_name,
                    f"I can't do that: {exc.message}",
                    author_kind="agent",
                    reply_to=message.get("id"),
                )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


@dataclass(eq=False)
class _Watch:
    """What the hooks know of one room: its document, how much of the chat (append-only)
    was looked at, whether the suggestions changed since the last look."""

    score: ScoreDoc
    chat_seen: int
    suggestions_changed: bool = False

    def touched(self, _event: object) -> None:
        self.suggestions_changed = True
