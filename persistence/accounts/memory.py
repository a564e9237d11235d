"""In-memory account store: for tests and throw-away servers. Each method mutates plain
dicts without awaiting, so it is atomic within the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from persistence.accounts.base import (
    ApiToken,
    Grant,
    Role,
    ShareLink,
    User,
    check_role,
    check_user_id,
    new_token_id,
)
from persistence.errors import AlreadyExists, NotFound


class MemoryAccountStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._users: dict[str, User] = {}
        self._tokens: dict[str, tuple[ApiToken, bytes]] = {}
        self._revoked: dict[str, float] = {}
        self._grants: dict[tuple[str, str], tuple[Grant, int]] = {}
        self._links: dict[str, tuple[ShareLink, bytes]] = {}
        self._order = 0

    async def create_user(self, user: User) -> User:
        check_user_id(user.id)
        if user.id in self._users:
            raise AlreadyExists(f"user {user.id!r} exists already")
        if not user.created_at:
            user = replace(user, created_at=self._clock())
        self._users[user.id] = user
        return user

    async def get_user(self, user_id: str) -> User:
        try:
            return self._users[user_id]
        except KeyError:
            raise NotFound(f"no user {user_id!r}") from None

    async def count_users(self) -> int:
        return len(self._users)

    async def set_password(
        self, user_id: str, password_hash: str, *, sessions_valid_after: float
    ) -> None:
        user = await self.get_user(user_id)
        self._users[user_id] = replace(
            user, password_hash=password_hash, sessions_valid_after=sessions_valid_after
        )

    async def create_api_token(
        self, user_id: str, *, name: str, token_hash: bytes, expires_at: float | None = None
    ) -> ApiToken:
        await self.get_user(user_id)
        if any(digest == token_hash for _, digest in self._tokens.values()):
            raise AlreadyExists("token exists already")
        token = ApiToken(new_token_id("t"), user_id, name, self._clock(), expires_at)
        self._tokens[token.id] = (token, bytes(token_hash))
        return token

    async def find_api_token(self, token_hash: bytes) -> ApiToken | None:
        return next((t for t, digest in self._tokens.values() if digest == token_hash), None)

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        return [t for t, _ in self._tokens.values() if t.user_id == user_id]

    async def revoke_api_token(self, user_id: str, token_id: str) -> None:
        found = self._tokens.get(token_id)
        if found is None or found[0].user_id != user_id:
            raise NotFound(f"no token {token_id!r}")
        self._tokens[token_id] = (replace(found[0], revoked=True), found[1])

    async def revoke_session(self, jti: str, expires_at: float) -> None:
        self._revoked[jti] = max(expires_at, self._revoked.get(jti, 0.0))

    async def session_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    async def purge_revoked_sessions(self, now: float) -> int:
        old = [jti for jti, until in self._revoked.items() if until < now]
        for jti in old:
            del self._revoked[jti]
        return len(old)

    async def set_role(
        self, score_id: str, user_id: str, role: Role, *, granted_by: str | None = None
    ) -> None:
        check_role(role)
        await self.get_user(user_id)
        if role == "owner" and any(
            g.role == "owner" and g.user_id != user_id for g in await self.list_grants(score_id)
        ):
            raise AlreadyExists(f"score {score_id!r} has an owner already")
        previous = self._grants.get((score_id, user_id))
        self._order += 1
        order = previous[1] if previous else self._order
        self._grants[(score_id, user_id)] = (Grant(score_id, user_id, role, granted_by), order)

    async def remove_role(self, score_id: str, user_id: str) -> bool:
        return self._grants.pop((score_id, user_id), None) is not None

    async def get_role(self, score_id: str, user_id: str) -> Role | None:
        found = self._grants.get((score_id, user_id))
        return found[0].role if found else None

    async def list_grants(self, score_id: str) -> list[Grant]:
        grants = sorted((order, g) for (s, _), (g, order) in self._grants.items() if s == score_id)
        return sorted((g for _, g in grants), key=lambda g: g.role != "owner")

    async def scores_of(self, user_id: str) -> list[str]:
        return [
            s
            for order, s in sorted(
                (order, s) for (s, u), (_, order) in self._grants.items() if u == user_id
            )
        ]

    async def forget_score(self, score_id: str) -> None:
        for key in [k for k in self._grants if k[0] == score_id]:
            del self._grants[key]
        for link_id in [i for i, (link, _) in self._links.items() if link.score_id == score_id]:
            del self._links[link_id]

    async def create_link(
        self,
        score_id: str,
        *,
        role: Role,
        token_hash: bytes,
        created_by: str | None,
        expires_at: float | None = None,
    ) -> ShareLink:
        if check_role(role) == "owner":
            raise ValueError("a share link gives editor or viewer rights, not owner")
        link = ShareLink(new_token_id("l"), score_id, role, created_by, self._clock(), expires_at)
        self._links[link.id] = (link, bytes(token_hash))
        return link

    async def find_link(self, token_hash: bytes) -> ShareLink | None:
        return next((link for link, digest in self._links.values() if digest == token_hash), None)

    async def list_links(self, score_id: str) -> list[ShareLink]:
        return [link for link, _ in self._links.values() if link.score_id == score_id]

    async def revoke_link(self, score_id: str, link_id: str) -> None:
        found = self._links.get(link_id)
        if found is None or found[0].score_id != score_id:
            raise NotFound(f"no link {link_id!r} on score {score_id!r}")
        self._links[link_id] = (replace(found[0], revoked=True), found[1])

    async def close(self) -> None:
        return None
