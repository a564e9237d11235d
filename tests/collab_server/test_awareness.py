"""Presence rules: only news is accepted; owners' clients are removed when they leave."""

from __future__ import annotations

from collab_server.sync.awareness import MAX_DEPARTED, Presence
from collab_server.sync.protocol import NULL_STATE, AwarenessEntry


def entry(client: int, clock: int, state: str = '{"user":"x"}') -> AwarenessEntry:
    return AwarenessEntry(client, clock, state)


def test_newer_clocks_are_accepted_and_echoes_dropped() -> None:
    presence = Presence()
    assert presence.apply([entry(1, 1)], "a") == [entry(1, 1)]
    assert presence.apply([entry(1, 1)], "b") == []  # another client re-sending what it learnt
    assert presence.apply([entry(1, 0)], "a") == []  # older
    assert presence.apply([entry(1, 2, '{"user":"y"}')], "a") == [entry(1, 2, '{"user":"y"}')]
    assert presence.states() == {1: {"user": "y"}}
    assert presence.owned_by("a") == {1} and presence.owned_by("b") == frozenset()


def test_first_sight_is_accepted_at_any_clock() -> None:
    presence = Presence()
    assert presence.apply([entry(5, 0, "{}")], "a") == [entry(5, 0, "{}")]
    assert 5 in presence


def test_removal_at_the_same_clock_is_accepted_once() -> None:
    presence = Presence()
    presence.apply([entry(1, 3)], "a")
    removal = entry(1, 3, NULL_STATE)
    assert presence.apply([removal], "a") == [removal]
    assert 1 not in presence
    assert presence.apply([removal], "b") == []  # echo of the removal
    assert presence.apply([entry(1, 3)], "b") == []  # late echo of the old state
    assert presence.apply([entry(1, 4)], "a") == [entry(1, 4)]  # the client comes back


def test_removal_of_unknown_or_older_is_dropped() -> None:
    presence = Presence()
    assert presence.apply([entry(9, 1, NULL_STATE)], "a") == []
    presence.apply([entry(1, 5)], "a")
    assert presence.apply([entry(1, 4, NULL_STATE)], "a") == []
    assert 1 in presence


def test_remove_owner_returns_removals_at_the_known_clock() -> None:
    presence = Presence()
    presence.apply([entry(1, 2), entry(2, 7)], "a")
    presence.apply([entry(3, 1)], "b")
    removals = presence.remove_owner("a")
    assert sorted(removals, key=lambda e: e.client_id) == [
        entry(1, 2, NULL_STATE),
        entry(2, 7, NULL_STATE),
    ]
    assert set(presence.states()) == {3}
    assert presence.remove_owner("a") == []


def test_ownership_moves_to_the_latest_sender() -> None:
    """A client that reconnects before its old connection timed out keeps its presence."""
    presence = Presence()
    presence.apply([entry(1, 1)], "old")
    presence.apply([entry(1, 2)], "new")
    assert presence.remove_owner("old") == []
    assert 1 in presence
    assert presence.remove_owner("new") == [entry(1, 2, NULL_STATE)]


def test_clear_and_departed_memory_is_bounded() -> None:
    presence = Presence()
    for client in range(MAX_DEPARTED + 10):
        presence.apply([entry(client, 1)], client)
        presence.remove_owner(client)
    assert len(presence) == 0
    assert len(presence._departed) == MAX_DEPARTED
    presence.apply([entry(1, 1), entry(2, 1)], "a")
    assert len(presence.clear()) == 2 and len(presence) == 0


def test_one_owner_cannot_announce_unlimited_clients() -> None:
    presence = Presence(max_owned=3)
    accepted = presence.apply([entry(c, 1) for c in range(10)], "a")
    assert [e.client_id for e in accepted] == [0, 1, 2]
    assert presence.apply([entry(0, 2)], "a") == [entry(0, 2)]  # its own ids still update
    assert presence.apply([entry(5, 1)], "b") == [entry(5, 1)]
