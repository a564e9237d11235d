"""Score operations shared by the REST API, the CLI, the worker and agents: the one place
that combines the catalog, the document store, the live rooms, ownership and the
analysis cache, so every caller gets the same rules.

A score's current state is its live room's document when the room is loaded, else the
stored state. Edits from here go through the room (loading it if needed), so connected
clients see them at once and they are stored like any other update. Creating a score
makes its creator the owner; deleting or restoring one drops its cached analyses.

Deleting moves a score to the trash (``trash_seconds``, 30 days by default): it is absent
everywhere, its owner can list it and restore it, and :meth:`ScoreService.purge_expired`
(run at start-up and every hour by the app) deletes it for good once its time is up.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from collab_server.cache import ScoreMetadataCache
from collab_server.errors import ScoreNotFound, Unprocessable
from collab_server.security.authenticator import Identity
from collab_server.services.files import ScoreFiles
from collab_server.settings import Settings
from collab_server.sync.rooms import RoomManager
from persistence.base import ScoreRecord, Storage, Version
from persistence.documents.store import DocumentStore
from persistence.errors import NotFound
from score_model.document import ScoreDoc
from score_model.ids import new_id
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.text import clean_text

T = TypeVar("T")
MAX_TITLE = 200
DAY = 86_400.0
log = logging.getLogger("orpheus.scores")


class ScoreAccess(Protocol):
    """Who may see which score (:class:`~collab_server.security.roles.AccessControl`)."""

    async def record_owner(self, score_id: str, user_id: str) -> None: ...

    async def visible(
        self, identity: Identity, *, limit: int, offset: int
    ) -> list[ScoreRecord]: ...


class AnalysisCache(Protocol):
    """Cached analysis results (:class:`~collab_server.cache.CachedResultStore`)."""

    async def invalidate_score(self, score_id: str) -> None: ...


class ScoreService:
    """Create, read, edit, version and restore scores.

    ``access``: with access control on, creators become owners and lists show what the
    caller may see; ``analyses``: the cache dropped on delete and restore; ``files``:
    imports (under their limits) and exports.
    """

    def __init__(
        self,
        storage: Storage,
        documents: DocumentStore,
        rooms: RoomManager,
        cache: ScoreMetadataCache | None = None,
        *,
        access: ScoreAccess | None = None,
        analyses: AnalysisCache | None = None,
        files: ScoreFiles | None = None,
        trash_seconds: float = 30 * DAY,
        indexer: Callable[[str, bytes], Awaitable[None]] | None = None,
        on_version: Callable[[Version], Awaitable[None]] | None = None,
    ) -> None:
        self.storage = storage
        self.documents = documents
        self.rooms = rooms
        self.cache = cache  # score rows, invalidated here on rename, delete and restore
        self.access = access
        self.analyses = analyses
        self.files = files or ScoreFiles.from_settings(storage.blobs, Settings())
        self.trash_seconds = trash_seconds  # 0: deleting deletes at once
        self.indexer = indexer  # search: a new score is indexed at once
        self.on_version = on_version  # every new version (webhooks: version.created)

    async def create(
        self, *, title: str = "", owner: str | None = None, score: ScoreDoc | None = None
    ) -> ScoreRecord:
        """Store a new score: ``score`` (an imported document) or an empty one;
        ``owner`` (the creator) becomes its owner."""
        if score is None:
            score = ScoreDoc()
            ScoreEditor(score, Origin.server("create")).create_score(title=title)
        title = _check_title(title or score.raw_meta().get("title") or "Untitled")
        if score.raw_meta().get("title") != title:  # the document and the record agree
            ScoreEditor(score, Origin.server("create")).set_metadata(title=title)
        state = score.encode_state()
        record = await self.documents.create(new_id("s"), title, owner, state)
        if self.access is not None and owner is not None:
            await self.access.record_owner(record.id, owner)
        if self.indexer is not None:
            try:
                await self.indexer(record.id, state)
            except Exception:  # the score exists; it is indexed when first opened
                log.warning("could not index new score %r", record.id, exc_info=True)
        return record

    async def get(self, score_id: str) -> ScoreRecord:
        if self.cache is None:
            return await self.storage.catalog.get_score(score_id)
        return await self.cache.get(score_id, lambda: self.storage.catalog.get_score(score_id))

    async def _invalidate(self, score_id: str, *, analyses: bool = False) -> None:
        if self.cache is not None:
            await self.cache.invalidate(score_id)
        if analyses and self.analyses is not None:
            await self.analyses.invalidate_score(score_id)

    async def list(
        self, *, identity: Identity | None = None, limit: int = 100, offset: int = 0
    ) -> list[ScoreRecord]:
        """Scores ``identity`` may see (with access control on), else all of them."""
        if self.access is not None and identity is not None:
            return await self.access.visible(identity, limit=limit, offset=offset)
        return await self.storage.catalog.list_scores(limit=limit, offset=offset)

    async def rename(self, score_id: str, title: str, *, actor: str = "rest") -> ScoreRecord:
        """Rename in the catalog and in the document's metadata (seen live by clients)."""
        title = _check_title(title)
        await self.edit(
            score_id, lambda editor: editor.set_metadata(title=title), origin=Origin.server(actor)
        )
        record = await self.storage.catalog.update_score(score_id, title=title)
        await self._invalidate(score_id)
        return record

    async def record_title(self, score_id: str, title: str) -> ScoreRecord:
        """Store the title a document now carries (see :mod:`.titles`) in the catalog."""
        record = await self.storage.catalog.update_score(score_id, title=_check_title(title))
        await self._invalidate(score_id)
        return record

    async def delete(self, score_id: str) -> None:
        """Move the score to the trash (with the trash off, delete it): its live sessions
        are closed with 4404 and it is absent everywhere until restored."""
        await self.get(score_id)
        await self.rooms.evict(score_id, ScoreNotFound("the score was deleted"))
        if self.trash_seconds > 0:
            await self.storage.catalog.trash_score(score_id)
        else:
            await self.storage.catalog.delete_score(score_id)
        await self._invalidate(score_id, analyses=True)

    async def trash(
        self, identity: Identity | None = None, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[ScoreRecord]:
        """Scores in the trash: the caller's own (an admin's or, without access
        control, everyone's), most recently deleted first."""
        return await self.storage.catalog.list_trash(
            owner=_owner_filter(identity), limit=limit, offset=offset
        )

    def purge_at(self, record: ScoreRecord) -> float:
        """When a trashed score will be deleted for good."""
        return (record.deleted_at or 0.0) + self.trash_seconds

    async def untrash(self, score_id: str, identity: Identity | None = None) -> ScoreRecord:
        """Take a score of the caller's out of the trash, as it was."""
        await self._trashed(score_id, identity)
        record = await self.storage.catalog.untrash_score(score_id)
        await self._invalidate(score_id, analyses=True)
        return record

    async def purge(self, score_id: str, identity: Identity | None = None) -> None:
        """Delete a score of the caller's trash for good, now."""
        await self._trashed(score_id, identity)
        await self.storage.catalog.delete_score(score_id)

    async def purge_expired(self, now: float | None = None) -> builtins.list[str]:
        """Delete for good every score longer in the trash than ``trash_seconds``."""
        expired = await self.storage.catalog.trashed_before(
            (time.time() if now is None else now) - self.trash_seconds
        )
        purged = []
        for score_id in expired:
            try:
                await self.storage.catalog.delete_score(score_id)
            except NotFound:  # another instance purged it first
                continue
            purged.append(score_id)
        if purged:
            log.info("purged %d scores from the trash", len(purged), extra={"scores": purged})
        return purged

    async def purge_periodically(self, every: float = 3600.0) -> None:
        """:meth:`purge_expired` now and every ``every`` seconds, until cancelled."""
        while True:
            try:
                await self.purge_expired()
            except Exception:  # a database outage: try again next time
                log.warning("could not purge the trash", exc_info=True)
            await asyncio.sleep(every)

    async def _trashed(self, score_id: str, identity: Identity | None) -> ScoreRecord:
        owner = _owner_filter(identity)
        offset = 0
        while True:  # a trash is short: a scan of the caller's is cheap
            page = await self.storage.catalog.list_trash(owner=owner, limit=500, offset=offset)
            for record in page:
                if record.id == score_id:
                    return record
            if len(page) < 500:
                raise ScoreNotFound(f"no score {score_id!r} in your trash")
            offset += 500

    async def document(self, score_id: str) -> ScoreDoc:
        """A private copy of the score's current state."""
        return ScoreDoc.from_update(await self.state(score_id))

    async def state(self, score_id: str) -> bytes:
        room = self.rooms.loaded(score_id)
        if room is not None:
            return room.score.encode_state()
        await self.get(score_id)
        return (await self.documents.load(score_id)).state

    async def edit(self, score_id: str, change: Callable[[ScoreEditor], T], *, origin: Origin) -> T:
        """Apply an edit through the live room and wait until it is stored."""
        async with self.rooms.hold(score_id) as room:
            result = change(ScoreEditor(room.score, origin))
            await room.flushed()
        return result

    async def create_version(self, score_id: str, *, name: str, author: str | None) -> Version:
        record = await self.get(score_id)
        name = clean_text(name).strip() or time.strftime("Version of %Y-%m-%d %H:%M:%S")
        return await self._new_version(
            score_id, name[:MAX_TITLE], author, record.epoch, await self.state(score_id)
        )

    async def _new_version(
        self, score_id: str, name: str, author: str | None, epoch: int, state: bytes
    ) -> Version:
        """Store a version and report it (``on_version``): every version is made here."""
        version = await self.storage.versions.create_version(
            score_id, name=name, author=author, epoch=epoch, state=state
        )
        if self.on_version is not None:
            try:
                await self.on_version(version)
            except Exception:  # the version exists; a failed report must not undo that
                log.exception("could not report version %s of %s", version.id, score_id)
        return version

    async def versions(self, score_id: str) -> builtins.list[Version]:
        """The score's versions, newest first."""
        await self.get(score_id)
        versions = await self.storage.versions.list_versions(score_id)
        return sorted(versions, key=lambda v: v.created_at, reverse=True)

    async def version(self, score_id: str, version_id: str) -> tuple[Version, bytes]:
        await self.get(score_id)
        return await self.storage.versions.get_version(score_id, version_id)

    async def restore(self, score_id: str, version_id: str, *, author: str | None) -> Version:
        """Make a version the current state under a new epoch.

        Nothing is destroyed: the state before the restore is kept as a version, and the
        restore itself is recorded as a new version. Connected clients are told to reload.
        """
        version, state = await self.version(score_id, version_id)
        await self.create_version(
            score_id, name=f"Before restoring '{version.name}'", author=author
        )
        epoch = await self.rooms.restore(
            score_id, state, lambda: self.documents.reset(score_id, state)
        )
        await self._invalidate(score_id, analyses=True)
        return await self._new_version(
            score_id, f"Restored '{version.name}'"[:MAX_TITLE], author, epoch, state
        )


def _owner_filter(identity: Identity | None) -> str | None:
    """Whose trash ``identity`` sees: its own, or everyone's (admins; no access control)."""
    if identity is None or identity.is_admin:
        return None
    if identity.user_id is None:
        return "\x00no one"  # a share link owns nothing
    return identity.user_id


def _check_title(title: str) -> str:
    """A title without control characters (they are removed), 1 to MAX_TITLE long."""
    title = clean_text(title).strip() if isinstance(title, str) else ""
    if not title or len(title) > MAX_TITLE:
        raise Unprocessable(f"title must be 1 to {MAX_TITLE} characters")
    return title
