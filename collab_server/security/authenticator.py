"""Who is calling: passwords (argon2), access tokens (JWT), API tokens and share-link
tokens, verified into an :class:`Identity`.

Token forms, told apart by their look:

- ``eyJ...`` a JWT access token from login, valid ``jwt_lifetime_seconds``; logout puts
  its ``jti`` on a deny-list until it expires; a password change invalidates every
  token issued before it;
- ``orp_...`` a long-lived API token, stored as its SHA-256 digest, revocable;
- ``orl_...`` a share-link token, giving a role on one score to whoever holds it.

With a :class:`SessionCache`, successful checks of JWTs and API tokens (the account
exists and is enabled, the session is neither logged out nor older than the last
password change, the API token is not revoked) are cached per user for 7 days at most,
never beyond the token's own expiry. Logout, a password change and an API-token
revocation drop *all* of that user's cached checks (a new per-user nonce) after their
database write, so the very next request is checked against the database again. The
cache must be shared by every instance (Redis) when several run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collab_server.cache import SESSION_TTL, Cache, scope_nonce
from collab_server.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from collab_server.settings import Settings
from persistence.accounts.base import AccountStore, ApiToken, ShareLink, User, check_user_id
from persistence.errors import AlreadyExists, NotFound

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
    session_expires: float = 0.0  # when the JWT or API token expires (0: never)

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
        raise BadRequest(f"a password is a string of {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


class SessionCache:
    """Successful credential checks by user: ``check`` runs ``verify`` on a miss and
    keeps whether the user is an admin; :meth:`forget_user` drops all of a user's."""

    def __init__(
        self, cache: Cache, *, ttl: float = SESSION_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.cache = cache
        self.ttl = ttl
        self._clock = clock

    async def check(
        self, user_id: str, credential: str, ttl: float, verify: Callable[[], Awaitable[Identity]]
    ) -> bool:
        """Whether the user is an admin, from the cache or ``verify()`` (which raises
        :class:`Unauthenticated` for a bad credential; failures are never cached). A
        kept check lasts at most ``ttl`` seconds and ends at the identity's
        ``session_expires`` (if set) whatever the cache does."""

        async def load() -> bytes:
            identity = await verify()
            if identity.user_id != user_id:
                raise Unauthenticated("invalid credential")
            return json.dumps(
                {"is_admin": identity.is_admin, "expires": identity.session_expires}
            ).encode()

        ttl = min(ttl, self.ttl)
        if ttl < 1:
            raw = await load()
        else:
            nonce = await scope_nonce(self.cache, _user_scope(user_id), self.ttl)
            key = f"{_user_scope(user_id)}:{nonce}:{credential}"
            raw = await self.cache.get_or_load(key, ttl, load)
        kept = json.loads(raw)
        if kept["expires"] and kept["expires"] <= self._clock():
            raise Unauthenticated("the credential has expired")
        return kept["is_admin"] is True

    async def owner(self, token_hash: bytes, load: Callable[[], Awaitable[str]]) -> str:
        """The user an API token belongs to (never changes: safe to keep)."""

        async def load_encoded() -> bytes:
            return (await load()).encode()

        key = f"api-token-owner:{token_hash.hex()}"
        return (await self.cache.get_or_load(key, self.ttl, load_encoded)).decode()

    async def forget_user(self, user_id: str) -> None:
        """Call after a write ending some of the user's sessions (logout, password,
        revocation): their next check goes to the database."""
        try:
            await self.cache.invalidate(_user_scope(user_id), strict=True)
        except Exception:
            raise Unavailable(
                "the change is stored, but cached sessions could not be dropped: retry"
            ) from None


def _user_scope(user_id: str) -> str:
    return f"sessions:{user_id}"


class _ForgettingAccounts:
    """An :class:`AccountStore` that drops the user's cached checks after each write
    ending sessions or tokens (callers may revoke through ``Authenticator.accounts``)."""

    def __init__(self, inner: AccountStore, sessions: SessionCache) -> None:
        self.inner = inner
        self._sessions = sessions

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def set_password(self, user_id: str, password_hash: str, **options: Any) -> None:
        try:
            await self.inner.set_password(user_id, password_hash, **options)
        finally:
            await self._sessions.forget_user(user_id)

    async def revoke_api_token(self, user_id: str, token_id: str) -> None:
        try:
            await self.inner.revoke_api_token(user_id, token_id)
        finally:
            await self._sessions.forget_user(user_id)


class Authenticator:
    """Issues and verifies credentials against an :class:`AccountStore`; with
    ``cache``, successful checks are kept (see :class:`SessionCache`)."""

    def __init__(
        self,
        accounts: AccountStore,
        *,
        secret: str,
        algorithm: str = "HS256",
        lifetime: float = 12 * 3600,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
        cache: Cache | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        self.accounts = accounts
        self._secret = secret
        self._algorithm = algorithm
        self.lifetime = lifetime
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self.sessions: SessionCache | None = None
        if cache is not None:
            self.use_cache(cache)

    def use_cache(self, cache: Cache) -> None:
        """Cache successful credential checks in ``cache`` (shared by every instance)."""
        if self.sessions is not None:
            raise RuntimeError("the session cache is already set")
        self.sessions = SessionCache(cache, clock=self._clock)
        self.accounts = cast(AccountStore, _ForgettingAccounts(self.accounts, self.sessions))

    # --- passwords -------------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        return self._hasher.hash(check_password(password))

    async def create_user(
        self,
        user_id: str,
        password: object,
        *,
        display_name: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """A new account: 422 for a bad name, 400 for a bad password, 409 if taken."""
        try:
            user_id = check_user_id(user_id)
        except ValueError as exc:
            raise Unprocessable(str(exc)) from None
        digest = self.hash_password(check_password(password))
        user = User(user_id, display_name or user_id, digest, is_admin=is_admin)
        try:
            return await self.accounts.create_user(user)
        except AlreadyExists:
            raise Conflict(f"the name {user_id!r} is taken: that account exists already") from None

    async def register(
        self,
        user_id: str,
        password: object,
        *,
        display_name: str | None,
        is_admin: bool,
        caller: Identity | None,
        open_registration: bool,
    ) -> User:
        """:meth:`create_user` for a caller over the API: anyone while registration is
        open, else admins only; only an admin creates admins."""
        caller_is_admin = caller is not None and caller.is_admin
        if not open_registration and not caller_is_admin:
            raise Forbidden("registration is closed: ask an admin for an account")
        if is_admin and not caller_is_admin:
            raise Forbidden("only an admin creates admins")
        return await self.create_user(
            user_id, password, display_name=display_name, is_admin=is_admin
        )

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
        await self.accounts.set_password(user.id, self.hash_password(new), sessions_valid_after=now)
        return self.issue(user, now=now)

    # --- tokens ---------------------------------------------------------------------------
    def issue(self, user: User, *, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        claims = {
            "sub": user.id,
            "iat": int(now),
            "t": now,
            "exp": int(now + self.lifetime),
            "jti": secrets.token_hex(16),
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    async def create_api_token(
        self, user_id: str, name: str, expires_at: float | None = None
    ) -> tuple[ApiToken, str]:
        """A new API token: its record and the secret, shown once."""
        token = new_api_token()
        record = await self.accounts.create_api_token(
            user_id, name=name, token_hash=digest(token), expires_at=expires_at
        )
        return record, token

    async def logout(self, identity: Identity) -> None:
        if identity.session is not None:
            await self.accounts.revoke_session(identity.session, identity.session_expires)
            if self.sessions is not None and identity.user_id is not None:
                await self.sessions.forget_user(identity.user_id)
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
        if self.sessions is None:
            return await self._check_api_token(token)
        token_hash = digest(token)

        async def owner() -> str:
            return (await self._check_api_token(token)).user_id or ""

        user_id = await self.sessions.owner(token_hash, owner)
        is_admin = await self.sessions.check(
            user_id,
            "api:" + token_hash.hex(),
            self.sessions.ttl,
            lambda: self._check_api_token(token),
        )
        return Identity(user_id=user_id, is_admin=is_admin)

    async def _check_api_token(self, token: str) -> Identity:
        record = await self.accounts.find_api_token(digest(token))
        if record is None or record.revoked or self._expired(record.expires_at):
            raise Unauthenticated("the API token is invalid, expired or revoked")
        user = await self._active_user(record.user_id)
        return Identity(
            user_id=user.id, is_admin=user.is_admin, session_expires=record.expires_at or 0.0
        )

    async def _verify_jwt(self, token: str) -> Identity:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require": ["sub", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid access token: {exc}") from None
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise Unauthenticated("invalid access token")
        if self.sessions is None:
            return await self._check_session(claims)
        expires = float(claims["exp"])
        is_admin = await self.sessions.check(
            claims["sub"],
            "jwt:" + claims["jti"],
            expires - self._clock(),
            lambda: self._check_session(claims),
        )
        return Identity(
            user_id=claims["sub"], is_admin=is_admin, session=claims["jti"], session_expires=expires
        )

    async def _check_session(self, claims: dict[str, Any]) -> Identity:
        user = await self._active_user(claims["sub"])
        issued = claims.get("t", claims["iat"])
        if not isinstance(issued, int | float) or issued < user.sessions_valid_after:
            raise Unauthenticated("this session ended (the password was changed)")
        if await self.accounts.session_revoked(claims["jti"]):
            raise Unauthenticated("this session was logged out")
        return Identity(
            user_id=user.id,
            is_admin=user.is_admin,
            session=claims["jti"],
            session_expires=float(claims["exp"]),
        )

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
        raise ValueError(
            "set ORPHEUS_JWT_SECRET: a server with a shared database needs "
            "the same secret on every instance"
        )
    path = Path(settings.data_dir) / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
