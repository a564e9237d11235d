"""Start-up of the security parts: the authenticator over the backend's account store,
access control and rate limiters, and the first admin account.

Called by the app factory's lifespan; library code receives the built :class:`Gate`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from collab_server.security.authenticator import Authenticator, load_secret
from collab_server.security.gate import Gate
from collab_server.security.limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from collab_server.security.roles import AccessControl
from collab_server.settings import Settings
from collab_server.sync.rooms import RoomManager
from persistence.accounts.base import User
from persistence.backend import Backend
from persistence.errors import AlreadyExists

ADMIN = "admin"


async def build_gate(
    settings: Settings,
    backend: Backend,
    rooms: RoomManager,
    announce: Callable[[str], None],
    *,
    redis: Any = None,
) -> Gate:
    """Everything the gate needs, from settings; creates the first admin if there is none.
    Rate limits are shared through ``redis`` (the process's client) when given."""
    ip_limiter = _limiter(redis, settings.rest_rate_per_ip, settings.rest_burst_per_ip)
    user_limiter = _limiter(redis, settings.rest_rate_per_user, settings.rest_burst_per_user)
    login_limiter = _limiter(
        redis, settings.login_rate_per_ip, settings.login_burst_per_ip, "login:"
    )
    if not settings.auth_enabled:
        return Gate(None, None, ip_limiter, user_limiter)
    accounts = backend.accounts
    secret = load_secret(settings, embedded=backend.embedded)
    auth = Authenticator(
        accounts,
        secret=secret,
        algorithm=settings.jwt_algorithm,
        lifetime=settings.jwt_lifetime_seconds,
    )
    await ensure_admin(auth, settings.admin_password, announce)
    return Gate(
        auth,
        AccessControl(accounts, backend.storage, rooms),
        ip_limiter,
        user_limiter,
        login_limiter=login_limiter,
        max_connections_per_user=settings.max_connections_per_user,
        max_connections_per_room=settings.max_connections_per_room,
    )


async def ensure_admin(auth: Authenticator, password: str, announce: Callable[[str], None]) -> bool:
    """With no account at all, create ``admin`` with ``password`` (or a random one,
    announced once). Return whether it was created."""
    if await auth.accounts.count_users():
        return False
    generated = not password
    password = password or secrets.token_urlsafe(12)
    try:
        await auth.accounts.create_user(
            User(ADMIN, "Administrator", auth.hash_password(password), is_admin=True)
        )
    except AlreadyExists:
        return False  # another instance starting at the same moment created it

    if generated:
        announce(
            f"Created the first account: user '{ADMIN}', password '{password}'. "
            "This is shown once: log in (POST /api/auth/login) and change it "
            "(POST /api/auth/password)."
        )
    return True


def _limiter(redis: Any, rate: float, burst: int, name: str = "") -> RateLimiter | None:
    if rate <= 0:
        return None
    if redis is not None:
        return RedisRateLimiter(redis, rate, burst, prefix=f"orpheus:rl:{name}")
    return MemoryRateLimiter(rate, burst)


async def close_gate(gate: Gate) -> None:
    limiters = (gate.ip_limiter, gate.user_limiter, gate.login_limiter)
    for limiter in {id(x): x for x in limiters if x}.values():
        await limiter.close()
