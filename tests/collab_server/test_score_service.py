"""The score service owns the score rules, so every caller (REST, CLI, worker, agents)
gets the same: creating records the owner, deleting or restoring drops cached analyses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from collab_server.cache import CachedResultStore, MemoryCache
from collab_server.security.authenticator import Identity
from collab_server.security.roles import AccessControl
from collab_server.services.score_service import ScoreService
from collab_server.sync.rooms import RoomManager
from persistence.accounts.base import User
from persistence.accounts.memory import MemoryAccountStore
from persistence.results.base import DocVersion
from persistence.results.memory import MemoryResultStore
from tests.collab_server.harness import Backend


@pytest.fixture
async def parts(
    backend: Backend,
) -> AsyncIterator[tuple[ScoreService, AccessControl, CachedResultStore]]:
    rooms = RoomManager(backend.hooks, idle_timeout=60)
    accounts = MemoryAccountStore()
    for name in ("ann", "bob"):
        await accounts.create_user(User(name, name.title(), "not-a-hash"))
    access = AccessControl(accounts, backend.storage, rooms)
    results = CachedResultStore(MemoryResultStore(), MemoryCache())
    yield (
        ScoreService(backend.storage, backend.documents, rooms, access=access, analyses=results),
        access,
        results,
    )
    await rooms.close()


async def test_creating_a_score_makes_its_creator_the_owner(
    parts: tuple[ScoreService, AccessControl, CachedResultStore],
) -> None:
    scores, access, _ = parts
    record = await scores.create(title="Chorale", owner="ann")
    assert await access.role(record.id, Identity(user_id="ann")) == "owner"
    assert await access.role(record.id, Identity(user_id="bob")) is None
    listed = await scores.list(identity=Identity(user_id="ann"))
    assert [r.id for r in listed] == [record.id]
    assert await scores.list(identity=Identity(user_id="bob")) == []


async def _stale_cached_result(results: CachedResultStore, score_id: str) -> None:
    """A cached result older than what the database holds (a worker saved elsewhere)."""
    await results.save(score_id, "all", DocVersion(0, 1), "[1]")
    assert await results.get_latest(score_id) is not None
    await results.inner.save(score_id, "all", DocVersion(0, 2), "[2]")
    cached = await results.get_latest(score_id)
    assert cached is not None and cached.version == DocVersion(0, 1)


async def test_restoring_a_score_drops_its_cached_analyses(
    parts: tuple[ScoreService, AccessControl, CachedResultStore],
) -> None:
    scores, _, results = parts
    record = await scores.create(title="Chorale", owner="ann")
    version = await scores.create_version(record.id, name="first", author="ann")
    await _stale_cached_result(results, record.id)
    await scores.restore(record.id, version.id, author="ann")
    fresh = await results.get_latest(record.id)
    assert fresh is not None and fresh.version == DocVersion(0, 2)


async def test_deleting_a_score_drops_its_cached_analyses(
    parts: tuple[ScoreService, AccessControl, CachedResultStore],
) -> None:
    scores, _, results = parts
    record = await scores.create(title="Chorale", owner="ann")
    await _stale_cached_result(results, record.id)
    await scores.delete(record.id)
    fresh = await results.get_latest(record.id)
    assert fresh is not None and fresh.version == DocVersion(0, 2)
