"""Persistence for rooms: load from, append to and compact a
:class:`~persistence.documents.store.DocumentStore`.

Storage errors are translated into the server's hierarchy: an unknown score is
:class:`ScoreNotFound` (4404), a score reset elsewhere is :class:`StaleDocument` (4409:
the room gives up its stale changes), anything else propagates so the room retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from pycrdt import merge_updates

from collab_server.errors import BadRequest, ScoreNotFound, StaleDocument, Unavailable
from collab_server.sync.hooks import LoadedState, RoomHooks
from collab_server.sync.room import Room
from persistence.documents.store import DocumentStore
from persistence.errors import NotFound, StaleEpoch, StorageError


class StoreHooks(RoomHooks):
    """Rooms load from ``documents``, append every flushed batch as one merged update
    and compact when they unload (if ``compact_on_unload``)."""

    def __init__(self, documents: DocumentStore, *, compact_on_unload: bool = True) -> None:
        self.documents = documents
        self.compact_on_unload = compact_on_unload

    async def load(self, score_id: str) -> LoadedState:
        try:
            loaded = await self.documents.load(score_id)
        except NotFound:
            raise ScoreNotFound(f"no score {score_id!r}") from None
        except ValueError as exc:  # not a valid score id
            raise BadRequest(str(exc)) from None
        except StorageError as exc:
            raise Unavailable("storage is unavailable; retry shortly") from exc
        return LoadedState(loaded.state, loaded.epoch, loaded.retired_clients)

    async def store(self, room: Room, updates: Sequence[bytes]) -> None:
        update = updates[0] if len(updates) == 1 else merge_updates(*updates)
        try:
            await self.documents.append(room.score_id, room.epoch, [update])
        except StaleEpoch:
            raise StaleDocument("the score was reset: reload it") from None
        except NotFound:
            raise ScoreNotFound("the score was deleted") from None

    async def on_unload(self, room: Room) -> None:
        if self.compact_on_unload:
            with contextlib.suppress(NotFound):
                await self.documents.compact(room.score_id)
