"""Contract suite for account stores, over every backend (the ``backend`` fixture of
conftest.py)."""

from __future__ import annotations

import pytest

from persistence.accounts.base import AccountStore, User
from persistence.backend import Backend
from persistence.base import ScoreRecord, Storage
from persistence.errors import AlreadyExists, NotFound


@pytest.fixture
def stores(backend: Backend) -> tuple[Storage, AccountStore]:
    return backend.storage, backend.accounts


async def _score(storage: Storage, score_id: str) -> str:
    await storage.catalog.create_score(ScoreRecord(id=score_id, title=score_id))
    return score_id


async def test_users(stores: tuple[Storage, AccountStore]) -> None:
    _, accounts = stores
    assert await accounts.count_users() == 0
    alice = await accounts.create_user(User("alice", "Alice", "hash1", is_admin=True))
    assert alice.created_at > 0
    assert await accounts.get_user("alice") == alice
    with pytest.raises(AlreadyExists):
        await accounts.create_user(User("alice"))
    with pytest.raises(ValueError):
        await accounts.create_user(User("Bad Name"))
    with pytest.raises(NotFound):
        await accounts.get_user("nobody")
    await accounts.set_password("alice", "hash2", sessions_valid_after=123.0)
    changed = await accounts.get_user("alice")
    assert (changed.password_hash, changed.sessions_valid_after) == ("hash2", 123.0)
    with pytest.raises(NotFound):
        await accounts.set_password("nobody", "h", sessions_valid_after=1.0)
    assert await accounts.count_users() == 1


async def test_api_tokens(stores: tuple[Storage, AccountStore]) -> None:
    _, accounts = stores
    await accounts.create_user(User("bob"))
    await accounts.create_user(User("eve"))
    token = await accounts.create_api_token("bob", name="ci", token_hash=b"\x01" * 32)
    assert await accounts.find_api_token(b"\x01" * 32) == token
    assert await accounts.find_api_token(b"\x02" * 32) is None
    with pytest.raises(NotFound):
        await accounts.create_api_token("nobody", name="x", token_hash=b"\x03" * 32)
    with pytest.raises(NotFound):
        await accounts.revoke_api_token("eve", token.id)  # not hers
    await accounts.revoke_api_token("bob", token.id)
    found = await accounts.find_api_token(b"\x01" * 32)
    assert found is not None and found.revoked
    assert [t.id for t in await accounts.list_api_tokens("bob")] == [token.id]
    assert await accounts.list_api_tokens("eve") == []


async def test_revoked_sessions(stores: tuple[Storage, AccountStore]) -> None:
    _, accounts = stores
    assert not await accounts.session_revoked("j1")
    await accounts.revoke_session("j1", 100.0)
    await accounts.revoke_session("j2", 300.0)
    await accounts.revoke_session("j1", 50.0)  # idempotent, keeps the later expiry
    assert await accounts.session_revoked("j1")
    assert await accounts.purge_revoked_sessions(200.0) == 1
    assert not await accounts.session_revoked("j1")
    assert await accounts.session_revoked("j2")


async def test_roles(stores: tuple[Storage, AccountStore]) -> None:
    storage, accounts = stores
    for name in ("ann", "ben", "cat"):
        await accounts.create_user(User(name))
    s1, s2 = await _score(storage, "s1"), await _score(storage, "s2")
    await accounts.set_role(s1, "ann", "owner")
    await accounts.set_role(s1, "ben", "viewer", granted_by="ann")
    await accounts.set_role(s2, "ben", "owner")
    assert await accounts.get_role(s1, "ben") == "viewer"
    await accounts.set_role(s1, "ben", "editor", granted_by="ann")
    assert await accounts.get_role(s1, "ben") == "editor"
    assert await accounts.get_role(s1, "cat") is None
    with pytest.raises(AlreadyExists):
        await accounts.set_role(s1, "cat", "owner")
    with pytest.raises(ValueError):
        await accounts.set_role(s1, "cat", "admin")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await accounts.set_role(s1, "nobody", "viewer")
    grants = await accounts.list_grants(s1)
    assert [(g.user_id, g.role) for g in grants] == [("ann", "owner"), ("ben", "editor")]
    assert grants[1].granted_by == "ann"
    assert await accounts.scores_of("ben") == [s1, s2]
    assert await accounts.remove_role(s1, "ben")
    assert not await accounts.remove_role(s1, "ben")
    assert await accounts.scores_of("ben") == [s2]
    await accounts.forget_score(s2)
    assert await accounts.scores_of("ben") == []


async def test_links(stores: tuple[Storage, AccountStore]) -> None:
    storage, accounts = stores
    await accounts.create_user(User("ann"))
    s1 = await _score(storage, "s1")
    link = await accounts.create_link(
        s1, role="viewer", token_hash=b"\x07" * 32, created_by="ann", expires_at=2e9
    )
    assert (link.role, link.score_id, link.expires_at, link.revoked) == ("viewer", s1, 2e9, False)
    assert await accounts.find_link(b"\x07" * 32) == link
    assert await accounts.find_link(b"\x08" * 32) is None
    with pytest.raises(ValueError):
        await accounts.create_link(s1, role="owner", token_hash=b"\x09" * 32, created_by=None)
    edit = await accounts.create_link(s1, role="editor", token_hash=b"\x0a" * 32, created_by=None)
    assert [x.id for x in await accounts.list_links(s1)] == [link.id, edit.id]
    with pytest.raises(NotFound):
        await accounts.revoke_link("s-other", link.id)
    await accounts.revoke_link(s1, link.id)
    found = await accounts.find_link(b"\x07" * 32)
    assert found is not None and found.revoked
    # links and grants go with their score
    await accounts.forget_score(s1)
    assert await accounts.list_links(s1) == []
