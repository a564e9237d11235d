"""An in-memory :class:`agents.session.ScoreSession` over a plain ScoreDoc, recording the
presence states it was given (the server's implementation is
``collab_server.participants.Participant``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from agents.session import NotAllowed, SessionClosed
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin

T = TypeVar("T")


class DocSession:
    def __init__(
        self, doc: ScoreDoc, origin: Origin, *, name: str = "agent", can_edit: bool = True
    ) -> None:
        self._doc = doc
        self._origin = origin
        self._can_edit = can_edit
        self.name = name
        self.presence: list[dict[str, Any] | None] = []
        self.left = False

    @property
    def score_id(self) -> str:
        return "s1"

    @property
    def origin(self) -> Origin:
        return self._origin

    @property
    def doc(self) -> ScoreDoc:
        return self._doc

    @property
    def can_edit(self) -> bool:
        return self._can_edit

    async def edit(self, fn: Callable[[ScoreEditor], T]) -> T:
        if self.left:
            raise SessionClosed("left")
        if not self._can_edit:
            raise NotAllowed(f"{self.name} is a viewer")
        editor = ScoreEditor(self._doc, self._origin)
        with editor.batch():
            return fn(editor)

    async def set_presence(self, state: dict[str, Any] | None) -> None:
        self.presence.append(state)

    async def post_chat(self, text: str, **extra: Any) -> str:
        return await self.edit(lambda e: e.post_chat(self.name, text, author_kind="agent", **extra))

    async def flushed(self) -> None:
        return None  # nothing to store: the document lives in memory

    async def leave(self) -> None:
        self.left = True
        self.presence.append(None)
