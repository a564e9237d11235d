"""One in-process participant of a room (the :class:`agents.session.ScoreSession` the
server gives an agent), like Hocuspocus's ``DirectConnection`` with presence.

- It *holds* the room (``Room.retain``) from join to :meth:`Participant.leave`, so the
  score stays loaded while it works.
- Edits run through :class:`~score_model.ops.ScoreEditor` on the live document in one
  transaction tagged with the participant's :class:`~score_model.origin.Origin`; the room
  stores, broadcasts and publishes them to other instances like any client's change.
- Presence is an awareness entry under a client id of its own, owned by the participant
  (``owner`` in :class:`~collab_server.sync.awareness.Presence`): unmodified y-websocket
  clients see it, other instances learn it through the room's ``publish_presence`` hook,
  and :meth:`leave` removes it at once. It is renewed every ``renew_seconds`` because
  y-protocols drops a state not renewed for 30 s.
- It acts with a role: a viewer participant raises :class:`ParticipantForbidden` on
  any write (edit or chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from agents.session import NotAllowed, SessionClosed
from collab_server.errors import Forbidden
from collab_server.sync.protocol import NULL_STATE, AwarenessEntry
from collab_server.sync.room import Room
from persistence.accounts.base import RANK, Role
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin

T = TypeVar("T")
RENEW_SECONDS = 15.0


class ParticipantForbidden(Forbidden, NotAllowed):
    """The identity this participant acts for may not change the score."""


@dataclass(frozen=True, slots=True)
class Profile:
    """How a participant appears: awareness ``user`` field ``{name, color, kind}``."""

    name: str
    color: str = "#888888"
    kind: str = "agent"  # "agent", "person", "service"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "color": self.color, "kind": self.kind}


class Participant:
    """Present in one room until :meth:`leave`. Build with
    :meth:`~collab_server.participants.hub.ParticipantHub.join`."""

    def __init__(
        self,
        room: Room,
        profile: Profile,
        origin: Origin,
        role: Role,
        *,
        reopen: Callable[[], Awaitable[Room]] | None = None,
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        self._room = room
        self.profile = profile
        self._origin = origin
        self.role = role
        self.client_id = secrets.randbits(31) or 1
        self.owner = f"participant:{origin}:{self.client_id}"
        self._clock = 0
        self._state: dict[str, Any] | None = None
        self._reopen = reopen
        self._renew_seconds = renew_seconds
        self._renewer: asyncio.Task[None] | None = None
        self.left = False
        room.retain()

    def __repr__(self) -> str:
        return f"<Participant {self.profile.name} in {self.score_id} as {self.role}>"

    @property
    def score_id(self) -> str:
        return self._room.score_id

    @property
    def origin(self) -> Origin:
        return self._origin

    @property
    def room(self) -> Room:
        return self._room

    @property
    def doc(self) -> ScoreDoc:
        return self._room.score

    @property
    def can_edit(self) -> bool:
        return RANK[self.role] >= RANK["editor"]

    # --- editing -------------------------------------------------------------------------

    async def edit(self, fn: Callable[[ScoreEditor], T]) -> T:
        """Run ``fn`` in one transaction under :attr:`origin`; wait until it is stored."""
        room = await self._live_room()
        if not self.can_edit:
            raise ParticipantForbidden(
                f"{self.profile.name} acts for a {self.role}: it cannot change the score"
            )
        editor = ScoreEditor(room.score, self._origin)
        with editor.batch():
            result = fn(editor)
        await room.flushed()
        return result

    async def post_chat(self, text: str, **extra: Any) -> str:
        """Append ``{id, author, text, kind, time, ...extra}`` to the chat as this
        participant (``author`` is its name, ``author_kind`` its kind)."""
        if not self.can_edit:
            raise ParticipantForbidden(
                f"{self.profile.name} acts for a {self.role}: it cannot post to the chat"
            )

        fields = {"author_kind": self.profile.kind, **extra}
        return await self.edit(lambda editor: editor.post_chat(self.profile.name, text, **fields))

    async def flushed(self) -> None:
        await (await self._live_room()).flushed()

    # --- presence ------------------------------------------------------------------------

    async def set_presence(self, state: dict[str, Any] | None) -> None:
        """Show ``{"user": profile, **state}`` to everyone in the room; ``None`` clears."""
        room = await self._live_room()
        self._clock += 1
        if state is None:
            self._state = None
            room.set_presence([AwarenessEntry(self.client_id, self._clock, NULL_STATE)], self.owner)
            self._stop_renewing()
            return
        self._state = {"user": self.profile.to_json(), **state}
        room.set_presence([self._entry()], self.owner)
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(
                self._renew(), name=f"presence-{self.owner}"
            )

    @property
    def presence(self) -> dict[str, Any] | None:
        return self._state

    def _entry(self) -> AwarenessEntry:
        return AwarenessEntry(
            self.client_id, self._clock, json.dumps(self._state, separators=(",", ":"))
        )

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            if self._state is None or self.left:
                return
            self._clock += 1
            with contextlib.suppress(Exception):
                (await self._live_room()).set_presence([self._entry()], self.owner)

    def _stop_renewing(self) -> None:
        if self._renewer is not None and self._renewer is not asyncio.current_task():
            self._renewer.cancel()
        self._renewer = None

    # --- leaving -------------------------------------------------------------------------

    async def leave(self) -> None:
        """Remove the presence at once and stop holding the room (idempotent)."""
        if self.left:
            return
        self.left = True
        self._stop_renewing()
        self._room.remove_presence(self.owner)
        self._room.release()

    async def __aenter__(self) -> Participant:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.leave()

    async def _live_room(self) -> Room:
        """The room, or its successor if it was closed (reset elsewhere, reloaded)."""
        if self.left:
            raise SessionClosed(f"{self.profile.name} has left {self.score_id}")
        if not self._room.closed:
            return self._room
        if self._reopen is None:
            raise SessionClosed(f"the room of {self.score_id} closed")
        room = await self._reopen()
        room.retain()
        self._room = room
        if self._state is not None:
            self._clock += 1
            room.set_presence([self._entry()], self.owner)
        return room
