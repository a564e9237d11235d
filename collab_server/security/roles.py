"""Per-score access control: owner, editor, viewer. :func:`decide` is the one function
that says what an identity may do on a score; REST and WebSocket both go through
:meth:`AccessControl.require`.

A user's role is the owner recorded in the catalog (the creator) or a grant; a
share link carries its own role for its score only.
"""

from __future__ import annotations

import logging

from collab_server.errors import AccessChanged, Forbidden
from collab_server.security.authenticator import Identity, digest, new_link_token
from collab_server.sync.rooms import RoomManager
from persistence.accounts.base import RANK, AccountStore, Grant, Role, ShareLink
from persistence.base import ScoreRecord, Storage
from persistence.errors import NotFound

log = logging.getLogger("orpheus.access")


def decide(record: ScoreRecord, identity: Identity, granted: Role | None) -> Role | None:
    """The role ``identity`` holds on the score ``record`` (``granted``: its stored grant)."""
    if identity.link is not None:
        return identity.link.role if identity.link.score_id == record.id else None
    if identity.user_id is None:
        return None
    if record.owner is not None and record.owner == identity.user_id:
        return "owner"
    return granted


class AccessControl:
    """Decides and changes who may do what; disconnects live sessions that lose rights."""

    def __init__(self, accounts: AccountStore, storage: Storage, rooms: RoomManager) -> None:
        self.accounts = accounts
        self.storage = storage
        self.rooms = rooms

    async def role(self, score_id: str, identity: Identity) -> Role | None:
        """``identity``'s role on the score; :class:`NotFound` if there is no such score."""
        record = await self.storage.catalog.get_score(score_id)
        granted = None
        if identity.user_id is not None and identity.link is None:
            granted = await self.accounts.get_role(score_id, identity.user_id)
        return decide(record, identity, granted)

    async def require(self, score_id: str, identity: Identity, needed: Role) -> Role:
        """The identity's role if it is at least ``needed``, else :class:`Forbidden`."""
        role = await self.role(score_id, identity)
        if role is None or RANK[role] < RANK[needed]:
            raise Forbidden(
                f"this needs the {needed} role on the score" + (f"; you are {role}" if role else "")
            )
        return role

    async def record_owner(self, score_id: str, user_id: str) -> None:
        """Make the creator the owner (so the score appears in their list)."""
        await self.accounts.set_role(score_id, user_id, "owner", granted_by=user_id)

    async def visible(self, identity: Identity, *, limit: int, offset: int) -> list[ScoreRecord]:
        """Scores the identity has any role on, oldest grant first."""
        if identity.link is not None:
            ids = [identity.link.score_id]
        elif identity.user_id is not None:
            ids = await self.accounts.scores_of(identity.user_id)
        else:
            ids = []
        records = []
        for score_id in ids[offset : offset + limit]:
            try:
                records.append(await self.storage.catalog.get_score(score_id))
            except NotFound:  # deleted since (the memory store keeps stale grants)
                continue
        return records

    async def grant(self, score_id: str, user_id: str, role: Role, *, by: str) -> None:
        """Give a user ``editor`` or ``viewer``; live sessions follow the new role."""
        if role == "owner":
            raise Forbidden("ownership cannot be given away here")
        record = await self.storage.catalog.get_score(score_id)
        if record.owner == user_id:
            raise Forbidden("the owner's role cannot be changed")
        await self.accounts.set_role(score_id, user_id, role, granted_by=by)
        self._follow_role(score_id, user_id, read_only=role == "viewer")

    async def revoke(self, score_id: str, user_id: str) -> bool:
        """Remove a user's role and disconnect their live sessions on the score (4403)."""
        record = await self.storage.catalog.get_score(score_id)
        if record.owner == user_id:
            raise Forbidden("the owner's access cannot be removed")
        removed = await self.accounts.remove_role(score_id, user_id)
        self.disconnect(score_id, user_id)
        return removed

    async def grants(self, score_id: str) -> tuple[str | None, list[Grant]]:
        """The score's owner and the roles given to others."""
        record = await self.storage.catalog.get_score(score_id)
        grants = await self.accounts.list_grants(score_id)
        return record.owner, [g for g in grants if g.user_id != record.owner]

    async def links(self, score_id: str) -> list[ShareLink]:
        return await self.accounts.list_links(score_id)

    async def create_link(
        self, score_id: str, role: Role, *, by: str | None
    ) -> tuple[ShareLink, str]:
        """A new share link and its secret token (shown once; only its digest is kept)."""
        if role not in ("editor", "viewer"):
            raise Forbidden("a share link gives the editor or viewer role")
        token = new_link_token()
        link = await self.accounts.create_link(
            score_id, role=role, token_hash=digest(token), created_by=by
        )
        return link, token

    async def revoke_link(self, score_id: str, link_id: str) -> None:
        await self.accounts.revoke_link(score_id, link_id)
        self.disconnect(score_id, f"link:{link_id}")

    def disconnect(self, score_id: str, principal: str) -> int:
        """Close ``principal``'s live connections to the score; return how many."""
        room = self.rooms.loaded(score_id)
        if room is None:
            return 0
        closed = 0
        for conn in room.connections:
            if conn.principal == principal:
                room.disconnect(conn, Forbidden("your access to this score was removed"))
                closed += 1
        if closed:
            log.info(
                "disconnected after access change",
                extra={"score": score_id, "principal": principal, "connections": closed},
            )
        return closed

    def _follow_role(self, score_id: str, principal: str, *, read_only: bool) -> None:
        """Downgrades apply in place; read-only sessions that may now write are closed
        with 1013 so the client reconnects (its refused edits would not merge)."""
        room = self.rooms.loaded(score_id)
        if room is None:
            return
        for conn in room.connections:
            if conn.principal != principal:
                continue
            if read_only:
                conn.read_only = True
            elif conn.read_only:
                room.disconnect(conn, AccessChanged("you may edit now: reconnect"))
