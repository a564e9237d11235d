"""Account storage protocol: users, API tokens, revoked sessions, per-score roles and
share links. One contract suite (``tests/persistence/test_accounts.py``) runs against
every implementation (memory, SQLite, PostgreSQL).

Secrets never reach this layer in clear: password hashes come already hashed (argon2,
by the caller) and API/share-link tokens as SHA-256 digests.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["owner", "editor", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "editor", "viewer")
#: Higher ranks include the rights of lower ones.
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "owner": 3}

_USER_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def check_user_id(user_id: str) -> str:
    """Return ``user_id`` if valid (1-64 of ``[a-z0-9._-]``, starting with a letter or
    digit), else raise ``ValueError``. User ids double as login names."""
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise ValueError(f"invalid user name {user_id!r}: use 1-64 of [a-z0-9._-]")
    return user_id


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise ValueError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    return role


def new_token_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    display_name: str = ""
    password_hash: str | None = None
    is_admin: bool = False
    disabled: bool = False
    created_at: float = 0.0
    #: Sessions (JWTs) issued before this time are no longer valid (password change).
    sessions_valid_after: float = 0.0


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    created_at: float
    expires_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """A user's role on a score."""

    score_id: str
    user_id: str
    role: Role
    granted_by: str | None = None


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A secret link giving ``role`` (editor or viewer) on a score to whoever holds it."""

    id: str
    score_id: str
    role: Role
    created_by: str | None
    created_at: float
    expires_at: float | None = None
    revoked: bool = False


class AccountStore(Protocol):
    # --- users -------------------------------------------------------------------------
    async def create_user(self, user: User) -> User:
        """Insert ``user`` (``created_at`` of 0 is set to now); :class:`AlreadyExists` if
        the id is taken, ``ValueError`` for an invalid id."""
        ...

    async def get_user(self, user_id: str) -> User:
        """The user, or :class:`NotFound`."""
        ...

    async def count_users(self) -> int: ...

    async def set_password(
        self, user_id: str, password_hash: str, *, sessions_valid_after: float
    ) -> None:
        """Replace the password hash and invalidate sessions issued before
        ``sessions_valid_after``; :class:`NotFound` for an unknown user."""
        ...

    # --- API tokens ----------------------------------------------------------------------
    async def create_api_token(
        self, user_id: str, *, name: str, token_hash: bytes, expires_at: float | None = None
    ) -> ApiToken: ...

    async def find_api_token(self, token_hash: bytes) -> ApiToken | None:
        """The token with this digest (revoked ones included), or ``None``."""
        ...

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        """The user's tokens, oldest first, revoked ones included."""
        ...

    async def revoke_api_token(self, user_id: str, token_id: str) -> None:
        """Revoke one of the user's tokens; :class:`NotFound` if it is not theirs."""
        ...

    # --- revoked sessions (JWT deny-list) ------------------------------------------------
    async def revoke_session(self, jti: str, expires_at: float) -> None:
        """Deny a session id until ``expires_at`` (after which its JWT is expired anyway)."""
        ...

    async def session_revoked(self, jti: str) -> bool: ...

    async def purge_revoked_sessions(self, now: float) -> int:
        """Forget entries expired before ``now``; return how many."""
        ...

    # --- score access --------------------------------------------------------------------
    async def set_role(
        self, score_id: str, user_id: str, role: Role, *, granted_by: str | None = None
    ) -> None:
        """Give ``user_id`` ``role`` on the score (replacing any earlier role).
        :class:`NotFound` for an unknown user or score (where the backend knows scores)."""
        ...

    async def remove_role(self, score_id: str, user_id: str) -> bool:
        """Remove the user's role; ``True`` if there was one."""
        ...

    async def get_role(self, score_id: str, user_id: str) -> Role | None: ...

    async def list_grants(self, score_id: str) -> list[Grant]:
        """Every user's role on the score, owner first."""
        ...

    async def scores_of(self, user_id: str) -> list[str]:
        """Ids of the scores the user has any role on, oldest grant first."""
        ...

    async def forget_score(self, score_id: str) -> None:
        """Drop every grant and link of a deleted score."""
        ...

    # --- share links -----------------------------------------------------------------------
    async def create_link(
        self,
        score_id: str,
        *,
        role: Role,
        token_hash: bytes,
        created_by: str | None,
        expires_at: float | None = None,
    ) -> ShareLink:
        """A new link; ``ValueError`` if ``role`` is ``owner``."""
        ...

    async def find_link(self, token_hash: bytes) -> ShareLink | None: ...

    async def list_links(self, score_id: str) -> list[ShareLink]: ...

    async def revoke_link(self, score_id: str, link_id: str) -> None:
        """:class:`NotFound` if the score has no such link."""
        ...

    async def close(self) -> None: ...
