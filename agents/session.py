"""What an agent can do in a live score: the :class:`ScoreSession` protocol.

The server implements it (``collab_server.participants``) over a live room; an agent never
imports the server. Every edit runs as one transaction under the session's
:class:`~score_model.origin.Origin`, so people's clients, persistence and fan-out see it
like any other change, and an undo can be scoped to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin

T = TypeVar("T")


class SessionError(Exception):
    """Base of what a session refuses."""


class NotAllowed(SessionError):
    """The identity the session acts for may not do this (a viewer editing)."""


class SessionClosed(SessionError):
    """The session has left the room (or the room went away)."""


class ScoreSession(Protocol):
    """An in-process participant of one score's room."""

    @property
    def score_id(self) -> str: ...

    @property
    def origin(self) -> Origin: ...

    @property
    def doc(self) -> ScoreDoc:
        """The live document: read it, never write it directly (use :meth:`edit`)."""
        ...

    @property
    def can_edit(self) -> bool: ...

    async def edit(self, fn: Callable[[ScoreEditor], T]) -> T:
        """Run ``fn`` in one transaction under :attr:`origin`; wait until it is stored
        and broadcast. :class:`NotAllowed` for a viewer."""
        ...

    async def set_presence(self, state: dict[str, Any] | None) -> None:
        """Set this participant's awareness state (``None`` clears it)."""
        ...

    async def post_chat(self, text: str, **extra: Any) -> str:
        """Post to the score's chat as this participant; return the message id."""
        ...

    async def flushed(self) -> None:
        """Wait until every change made to the document so far is stored and broadcast
        (after changing :attr:`doc` outside :meth:`edit`, e.g. an undo)."""
        ...

    async def leave(self) -> None:
        """Clear the presence at once and let the room unload when idle."""
        ...
