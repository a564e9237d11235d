"""Who is calling: passwords (argon2), access tokens (JWT), API tokens and share-link
tokens, verified into an :class:`Identity`.

Token forms, told apart by their look:

- ``eyJ...`` a JWT access token from login, valid ``jwt_lifetime_seconds``; logout puts
  its ``jti`` on a deny-list until it expires; a password change invalidates every
  token issued before it;
- ``orp_...`` a long-lived API token, stored as its SHA-256 digest, revocable;
- ``orl_...`` a share-link token, giving a role on one score to whoever holds it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collab_server.errors import BadRequest, Unauthenticated
from collab_server.settings import Settings
from persistence.accounts import AccountStore, ApiToken, ShareLink, User
from persistence.errors import NotFound

API_PREFIX = "orp_"
LINK_PREFIX = "orl_"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller: a user (by password session or API token) or a share link."""

    user_id: str | None = None
    is_admin: bool = False
    link: ShareLink | None = None
    session: str | None = None  # the JWT id, for logout
    session_expires: float = 0.0

    @property
    def principal(self) -> str:
        """Names the caller's live connections (``link:<id>`` for a share link)."""
        if self.user_id is not None:
            return self.user_id
        return f"link:{self.link.id}" if self.link else "anonymous"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_api_token() -> str:
    return API_PREFIX + secrets.token_urlsafe(32)


def new_link_token() -> str:
    return LINK_PREFIX + secrets.token_urlsafe(24)


def check_password(password: object) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(f"a password is a string of {MIN_PASSWORD} to {MAX_PASSWORD} "
                         "characters")
    return password


class Authenticator:
    """Issues and verifies credentials against an :class:`AccountStore`."""

    def __init__(self, accounts: AccountStore, *, secret: str, algorithm: str = "HS256",
                 lifetime: float = 12 * 3600, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        self.accounts = accounts
        self._secret = secret
        self._algorithm = algorithm
        self.lifetime = lifetime
        self._clock = clock
        self._hasher = hasher or PasswordHasher()

    # --- passwords -------------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        return self._hasher.hash(check_password(password))

    async def login(self, user_id: str, password: str) -> tuple[User, str]:
        """Check a password; return the user and a new access token (JWT)."""
        refused = Unauthenticated("wrong user name or password")
        try:
            user = await self.accounts.get_user(user_id)
        except NotFound:
            self._hasher.hash("timing-equaliser")  # as slow as a real check
            raise refused from None
        if user.disabled or not user.password_hash or not self._verify(user, password):
            raise refused
        return user, self.issue(user)

    def _verify(self, user: User, password: str) -> bool:
        try:
            return bool(self._hasher.verify(user.password_hash or "", password))
        except (VerificationError, InvalidHashError):
            return False

    async def change_password(self, user: User, old: str, new: str) -> str:
        """Replace the password, invalidate every earlier session, return a new token."""
        if not self._verify(user, old):
            raise Unauthenticated("the current password is wrong")
        now = self._clock()
        await self.accounts.set_password(user.id, self.hash_password(new),
                                         sessions_valid_after=now)
        return self.issue(user, now=now)

    # --- tokens ---------------------------------------------------------------------------
    def issue(self, user: User, *, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        claims = {"sub": user.id, "iat": int(now), "t": now, "exp": int(now + self.lifetime),
                  "jti": secrets.token_hex(16)}
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    async def create_api_token(self, user_id: str, name: str,
                               expires_at: float | None = None) -> tuple[ApiToken, str]:
        """A new API token: its record and the secret, shown once."""
        token = new_api_token()
        record = await self.accounts.create_api_token(user_id, name=name,
                                                      token_hash=digest(token),
                                                      expires_at=expires_at)
        return record, token

    async def logout(self, identity: Identity) -> None:
        if identity.session is not None:
            await self.accounts.revoke_session(identity.session, identity.session_expires)
            await self.accounts.purge_revoked_sessions(self._clock())

    async def verify(self, token: str) -> Identity:
        """The identity a token stands for, or :class:`Unauthenticated`."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthenticated("no valid token")
        if token.startswith(API_PREFIX):
            return await self._verify_api_token(token)
        if token.startswith(LINK_PREFIX):
            link = await self.accounts.find_link(digest(token))
            if link is None or link.revoked or self._expired(link.expires_at):
                raise Unauthenticated("this share link is invalid, expired or revoked")
            return Identity(link=link)
        return await self._verify_jwt(token)

    async def _verify_api_token(self, token: str) -> Identity:
        record = await self.accounts.find_api_token(digest(token))
        if record is None or record.revoked or self._expired(record.expires_at):
            raise Unauthenticated("the API token is invalid, expired or revoked")
        user = await self._active_user(record.user_id)
        return Identity(user_id=user.id, is_admin=user.is_admin)

    async def _verify_jwt(self, token: str) -> Identity:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[self._algorithm],
                options={"require": ["sub", "exp", "iat", "jti"]})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid access token: {exc}") from None
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise Unauthenticated("invalid access token")
        user = await self._active_user(claims["sub"])
        issued = claims.get("t", claims["iat"])
        if not isinstance(issued, int | float) or issued < user.sessions_valid_after:
            raise Unauthenticated("this session ended (the password was changed)")
        if await self.accounts.session_revoked(claims["jti"]):
            raise Unauthenticated("this session was logged out")
        return Identity(user_id=user.id, is_admin=user.is_admin, session=claims["jti"],
                        session_expires=float(claims["exp"]))

    async def _active_user(self, user_id: str) -> User:
        try:
            user = await self.accounts.get_user(user_id)
        except NotFound:
            raise Unauthenticated("the account no longer exists") from None
        if user.disabled:
            raise Unauthenticated("the account is disabled")
        return user

    def _expired(self, expires_at: float | None) -> bool:
        return expires_at is not None and expires_at <= self._clock()


def load_secret(settings: Settings, *, embedded: bool) -> str:
    """The JWT secret: from settings, else (embedded mode only) read from or generated
    into ``<data_dir>/jwt_secret`` (mode 0600). A production server must set it."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if not embedded:
        raise ValueError("set ORPHEUS_JWT_SECRET: a server with a shared database needs "
                         "the same secret on every instance")
    path = Path(settings.data_dir) / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
