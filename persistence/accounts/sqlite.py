"""Account store in the embedded SQLite file, next to the score tables (same connection
and worker thread as :class:`~persistence.drivers.sqlite.SqliteStorage`). Tables are created on
first use; grants and links go with their score (``ON DELETE CASCADE``)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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
from persistence.drivers.sqlite import SqliteDatabase
from persistence.errors import AlreadyExists, NotFound

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    sessions_valid_after REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_tokens_by_user ON api_tokens (user_id);
CREATE TABLE IF NOT EXISTS revoked_sessions (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS score_access (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    granted_by TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (score_id, user_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS score_access_one_owner ON score_access (score_id)
    WHERE role = 'owner';
CREATE INDEX IF NOT EXISTS score_access_by_user ON score_access (user_id, created_at);
CREATE TABLE IF NOT EXISTS share_links (
    id TEXT PRIMARY KEY,
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('editor', 'viewer')),
    created_by TEXT,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS share_links_by_score ON share_links (score_id);
"""

_USER = "id, display_name, password_hash, is_admin, disabled, created_at, sessions_valid_after"
_TOKEN = "id, user_id, name, created_at, expires_at, revoked"
_LINK = "id, score_id, role, created_by, created_at, expires_at, revoked"


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5], row[6])


def _token(row: Sequence[Any]) -> ApiToken:
    return ApiToken(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


def _link(row: Sequence[Any]) -> ShareLink:
    return ShareLink(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))


class SqliteAccountStore:
    """Accounts in the database of a :class:`~persistence.drivers.sqlite.SqliteStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: SqliteDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._ready = False

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        await self._schema()
        return await self._db.run(fn)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        await self._schema()
        return await self._db.write(fn)

    async def _schema(self) -> None:
        if not self._ready:
            await self._db.run(lambda conn: conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;"))
            self._ready = True

    async def create_user(self, user: User) -> User:
        check_user_id(user.id)
        row = (
            user.id,
            user.display_name,
            user.password_hash,
            int(user.is_admin),
            int(user.disabled),
            user.created_at or self._clock(),
            user.sessions_valid_after,
        )

        def insert(conn: sqlite3.Connection) -> User:
            try:
                conn.execute(f"INSERT INTO users ({_USER}) VALUES (?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"user {user.id!r} exists already") from None
            return _user(row)

        return await self._write(insert)

    async def get_user(self, user_id: str) -> User:
        row = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_USER} FROM users WHERE id = ?", (user_id,)
            ).fetchone()
        )
        if row is None:
            raise NotFound(f"no user {user_id!r}")
        return _user(row)

    async def count_users(self) -> int:
        return int(
            await self._run(lambda conn: conn.execute("SELECT count(*) FROM users").fetchone()[0])
        )

    async def set_password(
        self, user_id: str, password_hash: str, *, sessions_valid_after: float
    ) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if (
                conn.execute(
                    "UPDATE users SET password_hash = ?, sessions_valid_after = ? WHERE id = ?",
                    (password_hash, sessions_valid_after, user_id),
                ).rowcount
                == 0
            ):
                raise NotFound(f"no user {user_id!r}")

        await self._write(update)

    async def create_api_token(
        self, user_id: str, *, name: str, token_hash: bytes, expires_at: float | None = None
    ) -> ApiToken:
        row = (new_token_id("t"), user_id, name, self._clock(), expires_at, 0)

        def insert(conn: sqlite3.Connection) -> ApiToken:
            if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
                raise NotFound(f"no user {user_id!r}")
            try:
                conn.execute(
                    f"INSERT INTO api_tokens ({_TOKEN}, token_hash) VALUES (?,?,?,?,?,?,?)",
                    (*row, bytes(token_hash)),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists("token exists already") from None
            return _token(row)

        return await self._write(insert)

    async def find_api_token(self, token_hash: bytes) -> ApiToken | None:
        row = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_TOKEN} FROM api_tokens WHERE token_hash = ?", (bytes(token_hash),)
            ).fetchone()
        )
        return _token(row) if row else None

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        rows = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_TOKEN} FROM api_tokens WHERE user_id = ? ORDER BY created_at, id",
                (user_id,),
            ).fetchall()
        )
        return [_token(r) for r in rows]

    async def revoke_api_token(self, user_id: str, token_id: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if (
                conn.execute(
                    "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?",
                    (token_id, user_id),
                ).rowcount
                == 0
            ):
                raise NotFound(f"no token {token_id!r}")

        await self._write(update)

    async def revoke_session(self, jti: str, expires_at: float) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO revoked_sessions (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) "
                "DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                (jti, expires_at),
            )
        )

    async def session_revoked(self, jti: str) -> bool:
        return (
            await self._run(
                lambda conn: conn.execute(
                    "SELECT 1 FROM revoked_sessions WHERE jti = ?", (jti,)
                ).fetchone()
            )
            is not None
        )

    async def purge_revoked_sessions(self, now: float) -> int:
        return int(
            await self._write(
                lambda conn: (
                    conn.execute(
                        "DELETE FROM revoked_sessions WHERE expires_at < ?", (now,)
                    ).rowcount
                )
            )
        )

    async def set_role(
        self, score_id: str, user_id: str, role: Role, *, granted_by: str | None = None
    ) -> None:
        check_role(role)
        now = self._clock()

        def upsert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO score_access (score_id, user_id, role, granted_by, created_at) "
                    "VALUES (?,?,?,?,?) ON CONFLICT (score_id, user_id) DO UPDATE SET "
                    "role = excluded.role, granted_by = excluded.granted_by",
                    (score_id, user_id, role, granted_by, now),
                )
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" in str(exc):
                    raise AlreadyExists(f"score {score_id!r} has an owner already") from None
                raise NotFound(f"no user {user_id!r} or score {score_id!r}") from None

        await self._write(upsert)

    async def remove_role(self, score_id: str, user_id: str) -> bool:
        return bool(
            await self._write(
                lambda conn: (
                    conn.execute(
                        "DELETE FROM score_access WHERE score_id = ? AND user_id = ?",
                        (score_id, user_id),
                    ).rowcount
                )
            )
        )

    async def get_role(self, score_id: str, user_id: str) -> Role | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT role FROM score_access WHERE score_id = ? AND user_id = ?",
                (score_id, user_id),
            ).fetchone()
        )
        return row[0] if row else None

    async def list_grants(self, score_id: str) -> list[Grant]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT score_id, user_id, role, granted_by FROM score_access WHERE score_id = ? "
                "ORDER BY role != 'owner', created_at, rowid",
                (score_id,),
            ).fetchall()
        )
        return [Grant(*r) for r in rows]

    async def scores_of(self, user_id: str) -> list[str]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT score_id FROM score_access WHERE user_id = ? ORDER BY created_at, rowid",
                (user_id,),
            ).fetchall()
        )
        return [r[0] for r in rows]

    async def forget_score(self, score_id: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM score_access WHERE score_id = ?", (score_id,))
            conn.execute("DELETE FROM share_links WHERE score_id = ?", (score_id,))

        await self._write(delete)

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
        row = (new_token_id("l"), score_id, role, created_by, self._clock(), expires_at, 0)

        def insert(conn: sqlite3.Connection) -> ShareLink:
            try:
                conn.execute(
                    f"INSERT INTO share_links ({_LINK}, token_hash) VALUES (?,?,?,?,?,?,?,?)",
                    (*row, bytes(token_hash)),
                )
            except sqlite3.IntegrityError:
                raise NotFound(f"no score {score_id!r}") from None
            return _link(row)

        return await self._write(insert)

    async def find_link(self, token_hash: bytes) -> ShareLink | None:
        row = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_LINK} FROM share_links WHERE token_hash = ?", (bytes(token_hash),)
            ).fetchone()
        )
        return _link(row) if row else None

    async def list_links(self, score_id: str) -> list[ShareLink]:
        rows = await self._run(
            lambda conn: conn.execute(
                f"SELECT {_LINK} FROM share_links WHERE score_id = ? ORDER BY created_at, id",
                (score_id,),
            ).fetchall()
        )
        return [_link(r) for r in rows]

    async def revoke_link(self, score_id: str, link_id: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if (
                conn.execute(
                    "UPDATE share_links SET revoked = 1 WHERE id = ? AND score_id = ?",
                    (link_id, score_id),
                ).rowcount
                == 0
            ):
                raise NotFound(f"no link {link_id!r} on score {score_id!r}")

        await self._write(update)

    async def close(self) -> None:
        return None
