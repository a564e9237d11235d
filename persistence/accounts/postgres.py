"""Account store in PostgreSQL (schema: migrations 0002 and 0004). A share link's role
is its ``score_access`` row (principal ``link_id``), as the schema describes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

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
from persistence.drivers.postgres import PostgresDatabase
from persistence.errors import AlreadyExists, NotFound


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _user(row: Mapping[str, Any]) -> User:
    return User(
        row["id"],
        row["display_name"],
        row["password_hash"],
        row["is_admin"],
        row["disabled"],
        row["created_at"].timestamp(),
        row["sessions_valid_after"],
    )


def _token(row: Mapping[str, Any]) -> ApiToken:
    return ApiToken(
        row["id"],
        row["user_id"],
        row["name"],
        row["created_at"].timestamp(),
        _seconds(row["expires_at"]),
        row["revoked"],
    )


def _link(row: Mapping[str, Any]) -> ShareLink:
    return ShareLink(
        row["id"],
        row["score_id"],
        row["role"],
        row["created_by"],
        row["created_at"].timestamp(),
        _seconds(row["expires_at"]),
        row["revoked"],
    )


_USER = "id, display_name, password_hash, is_admin, disabled, created_at, sessions_valid_after"
_TOKEN = "id, user_id, name, created_at, expires_at, revoked"
_LINK = (
    "l.id, l.score_id, a.role, l.created_by, l.created_at, l.expires_at, l.revoked "
    "FROM share_links l JOIN score_access a ON a.link_id = l.id"
)


class PostgresAccountStore:
    """Accounts in the database of a :class:`~persistence.drivers.postgres.PostgresStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def create_user(self, user: User) -> User:
        check_user_id(user.id)
        created = user.created_at or self._clock()
        async with self._db.connection() as conn:
            try:
                row = await conn.fetchrow(
                    f"INSERT INTO users ({_USER}) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING {_USER}",
                    user.id,
                    user.display_name,
                    user.password_hash,
                    user.is_admin,
                    user.disabled,
                    _time(created),
                    user.sessions_valid_after,
                )
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"user {user.id!r} exists already") from None
        return _user(row)

    async def get_user(self, user_id: str) -> User:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(f"SELECT {_USER} FROM users WHERE id = $1", user_id)
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        return _user(row)

    async def count_users(self) -> int:
        async with self._db.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM users"))

    async def set_password(
        self, user_id: str, password_hash: str, *, sessions_valid_after: float
    ) -> None:
        async with self._db.connection() as conn:
            done = await conn.execute(
                "UPDATE users SET password_hash = $2, sessions_valid_after = $3 WHERE id = $1",
                user_id,
                password_hash,
                sessions_valid_after,
            )
        if done.endswith(" 0"):
            raise NotFound(f"no user {user_id!r}")

    async def create_api_token(
        self, user_id: str, *, name: str, token_hash: bytes, expires_at: float | None = None
    ) -> ApiToken:
        async with self._db.connection() as conn:
            try:
                row = await conn.fetchrow(
                    f"INSERT INTO api_tokens (id, user_id, token_hash, name, created_at, "
                    f"expires_at) VALUES ($1,$2,$3,$4,$5,$6) RETURNING {_TOKEN}",
                    new_token_id("t"),
                    user_id,
                    bytes(token_hash),
                    name,
                    _time(self._clock()),
                    _time(expires_at),
                )
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no user {user_id!r}") from None
            except asyncpg.UniqueViolationError:
                raise AlreadyExists("token exists already") from None
        return _token(row)

    async def find_api_token(self, token_hash: bytes) -> ApiToken | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_TOKEN} FROM api_tokens WHERE token_hash = $1", bytes(token_hash)
            )
        return _token(row) if row else None

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_TOKEN} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id",
                user_id,
            )
        return [_token(r) for r in rows]

    async def revoke_api_token(self, user_id: str, token_id: str) -> None:
        async with self._db.connection() as conn:
            done = await conn.execute(
                "UPDATE api_tokens SET revoked = true WHERE id = $1 AND user_id = $2",
                token_id,
                user_id,
            )
        if done.endswith(" 0"):
            raise NotFound(f"no token {token_id!r}")

    async def revoke_session(self, jti: str, expires_at: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO revoked_sessions (jti, expires_at) VALUES ($1, $2) "
                "ON CONFLICT (jti) DO UPDATE SET expires_at = "
                "greatest(revoked_sessions.expires_at, excluded.expires_at)",
                jti,
                _time(expires_at),
            )

    async def session_revoked(self, jti: str) -> bool:
        async with self._db.connection() as conn:
            return (
                await conn.fetchval("SELECT 1 FROM revoked_sessions WHERE jti = $1", jti)
                is not None
            )

    async def purge_revoked_sessions(self, now: float) -> int:
        async with self._db.connection() as conn:
            done = await conn.execute(
                "DELETE FROM revoked_sessions WHERE expires_at < $1", _time(now)
            )
        return int(done.rsplit(" ", 1)[1])

    async def set_role(
        self, score_id: str, user_id: str, role: Role, *, granted_by: str | None = None
    ) -> None:
        check_role(role)
        async with self._db.connection() as conn:
            try:
                await conn.execute(
                    "INSERT INTO score_access (score_id, user_id, role, granted_by, created_at) "
                    "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (score_id, user_id) "
                    "WHERE user_id IS NOT NULL DO UPDATE SET role = excluded.role, "
                    "granted_by = excluded.granted_by",
                    score_id,
                    user_id,
                    role,
                    granted_by,
                    _time(self._clock()),
                )
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"score {score_id!r} has an owner already") from None
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no user {user_id!r} or score {score_id!r}") from None

    async def remove_role(self, score_id: str, user_id: str) -> bool:
        async with self._db.connection() as conn:
            done = await conn.execute(
                "DELETE FROM score_access WHERE score_id = $1 AND user_id = $2", score_id, user_id
            )
        return not done.endswith(" 0")

    async def get_role(self, score_id: str, user_id: str) -> Role | None:
        async with self._db.connection() as conn:
            role = await conn.fetchval(
                "SELECT role FROM score_access WHERE score_id = $1 AND user_id = $2",
                score_id,
                user_id,
            )
        return role

    async def list_grants(self, score_id: str) -> list[Grant]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT score_id, user_id, role, granted_by FROM score_access "
                "WHERE score_id = $1 AND user_id IS NOT NULL "
                "ORDER BY role <> 'owner', created_at, ctid",
                score_id,
            )
        return [Grant(r["score_id"], r["user_id"], r["role"], r["granted_by"]) for r in rows]

    async def scores_of(self, user_id: str) -> list[str]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT score_id FROM score_access WHERE user_id = $1 ORDER BY created_at, ctid",
                user_id,
            )
        return [r["score_id"] for r in rows]

    async def forget_score(self, score_id: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM score_access WHERE score_id = $1", score_id)
            await conn.execute("DELETE FROM share_links WHERE score_id = $1", score_id)

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
        link_id, now = new_token_id("l"), _time(self._clock())
        async with self._db.transaction() as conn:
            try:
                await conn.execute(
                    "INSERT INTO share_links (id, score_id, token_hash, created_by, created_at, "
                    "expires_at) VALUES ($1,$2,$3,$4,$5,$6)",
                    link_id,
                    score_id,
                    bytes(token_hash),
                    created_by,
                    now,
                    _time(expires_at),
                )
                await conn.execute(
                    "INSERT INTO score_access (score_id, link_id, role, granted_by, created_at) "
                    "VALUES ($1,$2,$3,$4,$5)",
                    score_id,
                    link_id,
                    role,
                    created_by,
                    now,
                )
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"no score {score_id!r}") from None
            row = await conn.fetchrow(f"SELECT {_LINK} WHERE l.id = $1", link_id)
        return _link(row)

    async def find_link(self, token_hash: bytes) -> ShareLink | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(f"SELECT {_LINK} WHERE l.token_hash = $1", bytes(token_hash))
        return _link(row) if row else None

    async def list_links(self, score_id: str) -> list[ShareLink]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {_LINK} WHERE l.score_id = $1 ORDER BY l.created_at, l.id", score_id
            )
        return [_link(r) for r in rows]

    async def revoke_link(self, score_id: str, link_id: str) -> None:
        async with self._db.connection() as conn:
            done = await conn.execute(
                "UPDATE share_links SET revoked = true WHERE id = $1 AND score_id = $2",
                link_id,
                score_id,
            )
        if done.endswith(" 0"):
            raise NotFound(f"no link {link_id!r} on score {score_id!r}")

    async def close(self) -> None:
        return None
