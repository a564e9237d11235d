"""What the ``orpheus user`` and ``orpheus token`` commands do, on the configured backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from collab_server.errors import OrpheusError
from collab_server.security.authenticator import Authenticator, load_secret
from collab_server.settings import Settings
from persistence.accounts.base import User
from persistence.backend import open_backend
from persistence.errors import NotFound

T = TypeVar("T")


async def with_authenticator(settings: Settings, job: Callable[[Authenticator], Awaitable[T]]) -> T:
    """Open the backend named by ``settings``, run ``job`` and close everything."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = await open_backend(settings.backend_config())
    try:
        secret = load_secret(settings, embedded=backend.embedded)
        return await job(
            Authenticator(
                backend.accounts,
                secret=secret,
                algorithm=settings.jwt_algorithm,
                lifetime=settings.jwt_lifetime_seconds,
            )
        )
    finally:
        await backend.close()


async def add_user(auth: Authenticator, name: str, password: str, *, admin: bool) -> User:
    """The account ``name``, created by the same rules as over the API (an operator may
    create admins); :class:`ValueError` with the reason when refused."""
    try:
        return await auth.create_user(name, password, is_admin=admin)
    except OrpheusError as exc:
        raise ValueError(exc.message) from None


async def create_token(auth: Authenticator, username: str, name: str) -> str:
    try:
        _, secret = await auth.create_api_token(username, name)
    except NotFound:
        raise ValueError(f"no user {username!r}") from None
    return secret
