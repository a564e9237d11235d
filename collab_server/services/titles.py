"""Keep the score record's title equal to the document's ``meta.title``.

The document is the source of truth: a client (or an agent) that edits ``meta.title``
renames the score, exactly as ``PATCH /api/scores/{id}`` does (which writes
``meta.title`` too). Titles are cleaned like every title (control characters removed,
at most :data:`~collab_server.services.score_service.MAX_TITLE` characters); an emptied
title leaves the record as it was.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from collab_server.sync.hooks import RoomHooks
from score_model.origin import Origin
from score_model.text import clean_text

if TYPE_CHECKING:
    from collab_server.services.score_service import ScoreService
    from collab_server.sync.room import Room

log = logging.getLogger("orpheus.scores")


def document_title(room: Room) -> str:
    title = room.score.raw_meta().get("title")
    return title if isinstance(title, str) else ""


class TitleHooks(RoomHooks):
    """Room hooks that rename the score when its document's title changes."""

    def __init__(self) -> None:
        self._service: ScoreService | None = None
        self._seen: dict[str, str] = {}

    def bind(self, service: ScoreService) -> None:
        self._service = service

    async def on_load(self, room: Room) -> None:
        self._seen[room.score_id] = document_title(room)

    async def on_change(self, room: Room, origins: frozenset[Origin]) -> None:
        title = document_title(room)
        if self._service is None or self._seen.get(room.score_id) == title:
            return
        self._seen[room.score_id] = title
        cleaned = clean_text(title).strip()[:200]
        if not cleaned:
            return
        try:
            await self._service.record_title(room.score_id, cleaned)
        except Exception:  # the next change retries; the edit itself is stored already
            log.exception("could not rename score %s from its document", room.score_id)

    async def on_unload(self, room: Room) -> None:
        self._seen.pop(room.score_id, None)
