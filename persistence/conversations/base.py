"""The :class:`ConversationStore` protocol: messages about a score, kept per score.

People, agents and the server post messages (chat lines, mentions, task notes); an agent
reads the recent ones back as its memory of the conversation. Ids grow with insertion
order within a store, so "oldest first" is ascending id. Deleting a score deletes its
messages on every backend.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from persistence.base import check_score_id

AuthorKind = Literal["user", "agent", "system"]
AUTHOR_KINDS: frozenset[str] = frozenset(get_args(AuthorKind))

#: Largest message body accepted, in characters of its compact JSON text.
MAX_BODY_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    """One message. ``body`` is a JSON object (text, mentions, task id ...);
    ``author_id`` is ``None`` for the server."""

    author_id: str | None
    author_kind: AuthorKind
    body: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored :class:`Message` with its id and score."""

    id: int
    score_id: str
    author_id: str | None
    author_kind: AuthorKind
    body: dict[str, Any]
    created_at: float

    @property
    def message(self) -> Message:
        return Message(self.author_id, self.author_kind, self.body, self.created_at)

    @property
    def chars(self) -> int:
        """The size counted against :meth:`ConversationStore.recent`'s ``max_chars``."""
        return len(body_text(self.body))


class ConversationStore(Protocol):
    async def append(self, score_id: str, message: Message) -> int:
        """Store ``message``; return its id. :class:`~persistence.errors.NotFound` for
        an unknown score, ``ValueError`` for an invalid message."""
        ...

    async def recent(
        self, score_id: str, *, limit: int = 50, max_chars: int | None = None
    ) -> list[StoredMessage]:
        """The newest ``limit`` messages, oldest first. With ``max_chars``, messages are
        taken from the newest backwards while their bodies' total :attr:`StoredMessage.chars`
        stays within the budget (a newer message that does not fit ends the list)."""
        ...

    async def trim(self, score_id: str, keep: int) -> int:
        """Delete all but the newest ``keep`` messages; return how many were deleted."""
        ...


def body_text(body: dict[str, Any]) -> str:
    """The compact JSON text a body is stored as (and measured by)."""
    return json.dumps(
        body, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    )


def check_message(score_id: str, message: Message) -> str:
    """Validate an :meth:`ConversationStore.append`; return the body's JSON text."""
    check_score_id(score_id)
    if not isinstance(message, Message):
        raise ValueError("message must be a Message")
    if message.author_kind not in AUTHOR_KINDS:
        raise ValueError(
            f"invalid author kind {message.author_kind!r}; one of {', '.join(sorted(AUTHOR_KINDS))}"
        )
    if message.author_id is not None and (
        not isinstance(message.author_id, str) or not 0 < len(message.author_id) <= 200
    ):
        raise ValueError(f"invalid author id {message.author_id!r}")
    if not isinstance(message.created_at, int | float) or not math.isfinite(message.created_at):
        raise ValueError("created_at must be a finite number of seconds")
    if not isinstance(message.body, dict):
        raise ValueError("message body must be a JSON object")
    try:
        text = body_text(message.body)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message body is not JSON: {exc}") from None
    if len(text) > MAX_BODY_CHARS:
        raise ValueError(f"message body is longer than {MAX_BODY_CHARS} characters")
    return text


def check_window(limit: int, max_chars: int | None) -> None:
    if not isinstance(limit, int) or limit < 0:
        raise ValueError("limit must be an integer >= 0")
    if max_chars is not None and (not isinstance(max_chars, int) or max_chars < 0):
        raise ValueError("max_chars must be an integer >= 0 or None")


def check_keep(keep: int) -> None:
    if not isinstance(keep, int) or keep < 0:
        raise ValueError("keep must be an integer >= 0")


def within_budget(newest_first: list[StoredMessage], max_chars: int | None) -> list[StoredMessage]:
    """Apply the ``max_chars`` budget to messages given newest first; return them
    oldest first."""
    taken: list[StoredMessage] = []
    total = 0
    for message in newest_first:
        if max_chars is not None:
            total += message.chars
            if total > max_chars:
                break
        taken.append(message)
    taken.reverse()
    return taken
