"""Presence (Yjs awareness) of one room: who is here, with which state, and who said so.

The rules follow ``y-protocols/awareness`` so the server agrees with every client about
what is news:

- an entry is accepted when its clock is newer than the one known for its client, or when
  it removes (state ``null``) a present client at the same clock;
- an entry for a client never seen before is accepted at any clock (the server wants to
  know every present client, so it can remove it when its connection drops);
- anything else is an echo of something already known and is dropped. y-websocket
  clients re-send every state they learn, so relaying echoes would cost N^2 frames per
  presence change in a room of N clients.

A connection *owns* the client ids whose accepted entries it last sent; when the
connection closes, those ids are removed and the removal is relayed to everyone. A
y-websocket connection owns one id; a connection announcing more than ``max_owned`` new
ones is ignored beyond that, so one client cannot fill the room with phantoms.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from typing import Any

from collab_server.sync.protocol import NULL_STATE, AwarenessEntry

# Clocks of departed clients are kept (so their late echoes stay recognisable) up to this
# many; beyond it they are forgotten oldest first.
MAX_DEPARTED = 4096


class Presence:
    """Awareness states of one room, keyed by Yjs client id."""

    def __init__(self, *, max_owned: int = 16) -> None:
        self.max_owned = max_owned
        self._states: dict[int, AwarenessEntry] = {}
        self._departed: dict[int, int] = {}  # client id -> last clock, for removed clients
        self._owner: dict[int, Hashable] = {}
        self._owned: dict[Hashable, set[int]] = {}

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._states

    def clock(self, client_id: int) -> int | None:
        entry = self._states.get(client_id)
        return entry.clock if entry is not None else self._departed.get(client_id)

    def states(self) -> dict[int, Any]:
        """Present clients and their decoded states."""
        return {client: json.loads(entry.state) for client, entry in self._states.items()}

    def owner_of(self, client_id: int) -> Hashable | None:
        """Who announced ``client_id`` (a connection id, or an in-process owner)."""
        return self._owner.get(client_id)

    def entries(self) -> list[AwarenessEntry]:
        """Every present client's entry, to send to a newcomer."""
        return list(self._states.values())

    def owned_by(self, owner: Hashable) -> frozenset[int]:
        return frozenset(self._owned.get(owner, ()))

    def apply(self, entries: Iterable[AwarenessEntry], owner: Hashable) -> list[AwarenessEntry]:
        """Apply entries sent by ``owner``; return the accepted ones (to relay), in order."""
        accepted: list[AwarenessEntry] = []
        for entry in entries:
            client = entry.client_id
            current = self._states.get(client)
            if entry.removed:
                if current is None or entry.clock < current.clock:
                    continue
                self._forget(client, entry.clock)
            else:
                known = current.clock if current is not None else self._departed.get(client)
                if known is not None and entry.clock <= known:
                    continue
                if (
                    self._owner.get(client) != owner
                    and len(self._owned.get(owner, ())) >= self.max_owned
                ):
                    continue
                self._departed.pop(client, None)
                self._states[client] = entry
                self._set_owner(client, owner)
            accepted.append(entry)
        return accepted

    def remove_owner(self, owner: Hashable) -> list[AwarenessEntry]:
        """Remove every client ``owner`` announced; return the removal entries to relay."""
        removals = []
        for client in self._owned.pop(owner, ()):
            entry = self._states.get(client)
            self._owner.pop(client, None)
            if entry is not None:
                self._forget(client, entry.clock)
                removals.append(AwarenessEntry(client, entry.clock, NULL_STATE))
        return removals

    def clear(self) -> list[AwarenessEntry]:
        """Remove everyone; return the removal entries."""
        removals = [AwarenessEntry(c, e.clock, NULL_STATE) for c, e in self._states.items()]
        for entry in removals:
            self._forget(entry.client_id, entry.clock)
        self._owned.clear()
        return removals

    def _set_owner(self, client: int, owner: Hashable) -> None:
        previous = self._owner.get(client)
        if previous == owner:
            return
        if previous is not None:
            owned = self._owned.get(previous)
            if owned is not None:
                owned.discard(client)
                if not owned:
                    del self._owned[previous]
        self._owner[client] = owner
        self._owned.setdefault(owner, set()).add(client)

    def _forget(self, client: int, clock: int) -> None:
        self._states.pop(client, None)
        owner = self._owner.pop(client, None)
        if owner is not None:
            owned = self._owned.get(owner)
            if owned is not None:
                owned.discard(client)
                if not owned:
                    del self._owned[owner]
        self._departed.pop(client, None)
        self._departed[client] = clock
        if len(self._departed) > MAX_DEPARTED:
            del self._departed[next(iter(self._departed))]
