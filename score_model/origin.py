"""Transaction origins: who made a change.

Every transaction on a score document is tagged with an :class:`Origin`, so fan-out
does not echo a change back to where it came from and persistence does not store it
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OriginKind(StrEnum):
    CLIENT = "client"  # a WebSocket connection (a person's browser, or an agent over the wire)
    REMOTE = "remote"  # another server instance, via fan-out
    AGENT = "agent"  # an in-process agent
    SERVER = "server"  # the server itself (imports, restores, migrations)
    STORE = "store"  # loaded from persistence


@dataclass(frozen=True, slots=True)
class Origin:
    """Hashable tag passed as ``doc.transaction(origin=...)``."""

    kind: OriginKind
    id: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else str(self.kind)

    @classmethod
    def client(cls, connection_id: str) -> Origin:
        return cls(OriginKind.CLIENT, connection_id)

    @classmethod
    def agent(cls, name: str) -> Origin:
        return cls(OriginKind.AGENT, name)

    @classmethod
    def server(cls, reason: str = "") -> Origin:
        return cls(OriginKind.SERVER, reason)

    @classmethod
    def remote(cls, instance_id: str) -> Origin:
        return cls(OriginKind.REMOTE, instance_id)


SERVER = Origin.server()
STORE = Origin(OriginKind.STORE)
