"""The gate every request passes: rate limits, authentication and per-score access, for
REST (an ASGI middleware) and WebSocket (the endpoint's ``authenticate``).

What a request needs is the role its route declares (:mod:`collab_server.security.routes`).
REST rules, in order: requests under ``/api`` are rate-limited per client IP (login and
registration, which hash passwords, also per IP on their own bucket); a route that is not
``public`` needs a token (``Authorization: Bearer ...`` or ``?token=``); then the caller's
own bucket is charged; then the declared role is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from collab_server.errors import (
    Forbidden,
    RateLimited,
    ScoreNotFound,
    TooManyConnections,
    Unauthenticated,
    error_json,
    report,
)
from collab_server.security.authenticator import Authenticator, Identity
from collab_server.security.limits import RateLimiter
from collab_server.security.roles import AccessControl
from collab_server.security.routes import SCORE_ROLES, Need, required
from collab_server.sync.rooms import RoomManager
from collab_server.sync.websocket import Access, Authenticate
from persistence.accounts.base import Role
from persistence.errors import NotFound

log = logging.getLogger("orpheus.gate")

# The routes that hash a password, charged to the login limiter.
PASSWORD_ROUTES = frozenset({"/api/auth/login", "/api/auth/register"})


@dataclass(slots=True)
class Gate:
    """What the gate needs, built by the app at start-up (``app.state.gate``)."""

    auth: Authenticator | None  # None: authentication is off, everyone may do anything
    access: AccessControl | None
    ip_limiter: RateLimiter | None
    user_limiter: RateLimiter | None
    login_limiter: RateLimiter | None = None  # login and register, per IP
    max_connections_per_user: int = 0
    max_connections_per_room: int = 0


def bearer(headers: dict[str, str], query: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return query.get("token")


class GateMiddleware:
    """ASGI middleware applying the REST rules; puts the caller's :class:`Identity` at
    ``scope["orpheus.identity"]`` and its user id at ``scope["orpheus.user"]``."""

    def __init__(self, app: ASGIApp, gate: Callable[[Scope], Gate | None]) -> None:
        self.app = app
        self._gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        gate = self._gate(scope) if scope["type"] == "http" else None
        if gate is None or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        try:
            await self._check(gate, scope)
        except Exception as exc:  # mapped like a handler's: a storage outage is a 503
            await error_json(report(exc, "gate check failed", path=path))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, gate: Gate, scope: Scope) -> None:
        path = scope["path"]
        api = path.startswith("/api")
        ip = _client_ip(scope)
        if api and gate.ip_limiter is not None:
            _refuse_if(await gate.ip_limiter.hit("ip:" + ip))
        if gate.auth is None or gate.access is None:
            return
        need, params = required(scope)
        if path in PASSWORD_ROUTES and gate.login_limiter is not None:
            _refuse_if(await gate.login_limiter.hit("ip:" + ip))
        token = _token(scope)
        if need == "public" and (not token or not api):
            return  # pages and assets never look at a token (a share link's page URL)
        if not token:
            raise Unauthenticated("send a token: Authorization: Bearer <token>")
        identity = await gate.auth.verify(token)
        scope["orpheus.identity"] = identity
        scope["orpheus.user"] = identity.user_id
        if api and gate.user_limiter is not None:
            _refuse_if(await gate.user_limiter.hit("user:" + identity.principal))
        await _allow(gate.access, need, params, identity)


async def _allow(
    access: AccessControl, need: Need | None, params: dict[str, Any], identity: Identity
) -> Role | None:
    """Check ``identity`` against a route's declared ``need``; its role on the score for
    the score roles."""
    if need is None:
        raise Forbidden("this route declares no role: nobody may call it")
    if need in SCORE_ROLES:
        score_id = params.get("score_id")
        if not isinstance(score_id, str):
            raise Forbidden("this route declares no role")
        return await _require(access, score_id, identity, need)  # type: ignore[arg-type]
    if need == "authenticated" and identity.link is not None:
        raise Forbidden("a share link gives access to its score only")
    return None


async def _require(access: AccessControl, score_id: str, identity: Identity, role: Role) -> Role:
    try:
        return await access.require(score_id, identity, role)
    except NotFound:
        raise ScoreNotFound(f"no score {score_id!r}") from None


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _refuse_if(wait: float) -> None:
    if wait > 0:
        raise RateLimited("too many requests: slow down", retry_after=wait)


def _token(scope: Scope) -> str | None:
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    return bearer(headers, query)


def websocket_authenticator(
    gate: Callable[[WebSocket], Gate | None], rooms: Callable[[WebSocket], RoomManager]
) -> Authenticate:
    """``ScoreWebSocket``'s ``authenticate``: token in ``?token=`` (or a Bearer header);
    none or bad: 4401; no role: 4403; viewers get read-only connections; over the
    connection limits or the per-IP rate of attempts: 1013 (retry later)."""

    async def authenticate(websocket: WebSocket, score_id: str) -> Access:
        current = gate(websocket)
        if current is None or current.auth is None or current.access is None:
            return Access()
        if current.ip_limiter is not None:
            wait = await current.ip_limiter.hit("ip:" + _client_ip(websocket.scope))
            if wait > 0:  # a retryable close (1013): y-websocket backs off and returns
                raise TooManyConnections("too many connection attempts: retry later")
        token = bearer(dict(websocket.headers), dict(websocket.query_params))
        if not token:
            raise Unauthenticated("send a token: ?token=...")
        identity = await current.auth.verify(token)
        need, params = required(websocket.scope)
        role = await _allow(current.access, need, params, identity)
        _check_connections(current, rooms(websocket), score_id, identity.principal)
        return Access(read_only=role == "viewer", principal=identity.principal)

    return authenticate


def _check_connections(gate: Gate, rooms: RoomManager, score_id: str, principal: str) -> None:
    room = rooms.loaded(score_id)
    if (
        gate.max_connections_per_room
        and room is not None
        and len(room.connections) >= gate.max_connections_per_room
    ):
        raise TooManyConnections(
            f"the score has {gate.max_connections_per_room} connections already"
        )
    if gate.max_connections_per_user:
        mine = sum(1 for r in rooms.rooms for c in r.connections if c.principal == principal)
        if mine >= gate.max_connections_per_user:
            raise TooManyConnections(
                f"you have {gate.max_connections_per_user} connections open already"
            )
