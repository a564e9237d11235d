"""Joining rooms as an in-process participant, with the rights of an identity."""

from __future__ import annotations

from collab_server.participants.participant import Participant, Profile
from collab_server.security.authenticator import Identity
from collab_server.security.roles import AccessControl
from collab_server.sync.rooms import RoomManager
from persistence.accounts.base import Role
from score_model.origin import Origin


class ParticipantHub:
    """Builds :class:`Participant` objects for one instance's rooms. With ``access``,
    a participant acting for an identity gets that identity's role on the score."""

    def __init__(self, rooms: RoomManager, access: AccessControl | None = None) -> None:
        self.rooms = rooms
        self.access = access

    async def join(
        self,
        score_id: str,
        profile: Profile,
        origin: Origin,
        *,
        acting_for: Identity | None = None,
        role: Role | None = None,
    ) -> Participant:
        """Join ``score_id``'s room (loading it). The role is ``role`` if given, else
        ``acting_for``'s role on the score (:class:`~collab_server.errors.Forbidden`
        if it has none), else editor (the server acting for itself)."""
        if role is None and acting_for is not None:
            if self.access is None:
                raise ValueError("acting for an identity needs access control")
            role = await self.access.require(score_id, acting_for, "viewer")
        room = await self.rooms.get_room(score_id)
        return Participant(
            room, profile, origin, role or "editor", reopen=lambda: self.rooms.get_room(score_id)
        )
