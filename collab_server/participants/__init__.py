"""In-process participants: agents (and other server-side code) present in a score's
room like a person, with presence, attributed edits and chat."""

from collab_server.participants.hub import ParticipantHub
from collab_server.participants.participant import (
    Participant,
    ParticipantForbidden,
    Profile,
)

__all__ = ["Participant", "ParticipantForbidden", "ParticipantHub", "Profile"]
