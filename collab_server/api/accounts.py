"""REST: accounts and credentials: register, login, logout, password change, me, and
API tokens (created, listed, revoked; the secret is shown once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.json_body import json_body
from collab_server.api.scores import iso
from collab_server.errors import BadRequest, Forbidden, Unauthenticated, Unprocessable
from collab_server.security.authenticator import Authenticator, Identity, check_password
from collab_server.security.routes import Route
from persistence.accounts.base import ApiToken, User
from score_model.text import control_characters


def authenticator(request: Request) -> Authenticator:
    gate = getattr(request.app.state, "gate", None)
    if gate is None or gate.auth is None:
        raise BadRequest("authentication is turned off on this server")
    return gate.auth


def identity(request: Request) -> Identity:
    found = request.scope.get("orpheus.identity")
    if not isinstance(found, Identity):
        raise Unauthenticated("send a token: Authorization: Bearer <token>")
    return found


async def current_user(request: Request) -> User:
    who = identity(request)
    if who.user_id is None:
        raise Forbidden("this needs a user account, not a share link")
    return await authenticator(request).accounts.get_user(who.user_id)


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
        "created_at": iso(user.created_at),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at) if token.expires_at else None,
        "revoked": token.revoked,
    }


def _string(
    body: dict[str, Any],
    name: str,
    *,
    default: str | None = None,
    max_length: int = 200,
    secret: bool = False,
) -> str:
    """A string field; names shown to people (not secrets) may not hold control
    characters: refused rather than cleaned, so a name is exactly what was typed."""
    value = body.get(name, default)
    if not isinstance(value, str) or len(value) > max_length:
        raise Unprocessable(f"{name} must be a string of at most {max_length} characters")
    found = [] if secret else control_characters(value)
    if found:
        raise Unprocessable(f"{name} may not contain control characters ({', '.join(found)})")
    return value


async def register(request: Request) -> Response:
    """
    summary: Create an account (open registration, or an admin's token)
    requestBody:
      content:
        application/json: {schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}, display_name: {type: string}, is_admin: {type: boolean}}}}
    responses:
      201: {description: The new user}
      403: {description: Registration is closed (only admins create accounts)}
      409: {description: The name is taken}
    """
    body = await json_body(request)
    make_admin = body.get("is_admin", False)
    if not isinstance(make_admin, bool):
        raise Unprocessable("is_admin must be true or false")
    caller = request.scope.get("orpheus.identity")
    user = await authenticator(request).register(
        _string(body, "username", max_length=64),
        body.get("password"),
        display_name=_string(body, "display_name", default="") or None,
        is_admin=make_admin,
        caller=caller if isinstance(caller, Identity) else None,
        open_registration=request.app.state.settings.open_registration,
    )
    return JSONResponse(user_json(user), status_code=201)


async def login(request: Request) -> Response:
    """
    summary: Log in with a password; returns an access token (JWT)
    requestBody:
      content:
        application/json: {schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}}}}
    responses:
      200: {description: "{access_token, token_type, expires_in, user}"}
      401: {description: Wrong name or password}
    """
    auth = authenticator(request)
    body = await json_body(request)
    username = _string(body, "username", default="", max_length=64)
    password = _string(body, "password", default="", max_length=1024, secret=True)
    user, token = await auth.login(username, password)
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(auth.lifetime),
            "user": user_json(user),
        }
    )


async def logout(request: Request) -> Response:
    """
    summary: End this session (its access token is refused from now on)
    responses:
      204: {description: Logged out}
    """
    await authenticator(request).logout(identity(request))
    return Response(status_code=204)


async def change_password(request: Request) -> Response:
    """
    summary: Change the password; every other session ends
    requestBody:
      content:
        application/json: {schema: {type: object, required: [old_password, new_password], properties: {old_password: {type: string}, new_password: {type: string}}}}
    responses:
      200: {description: "{access_token}: a new token for this client"}
      401: {description: The current password is wrong}
    """
    user = await current_user(request)
    body = await json_body(request)
    old = _string(body, "old_password", default="", max_length=1024, secret=True)
    new = check_password(body.get("new_password"))
    token = await authenticator(request).change_password(user, old, new)
    return JSONResponse({"access_token": token, "token_type": "bearer"})


async def me(request: Request) -> Response:
    """
    summary: Who the token belongs to
    responses:
      200: {description: The user, or the share link's score and role}
    """
    who = identity(request)
    if who.link is not None:
        return JSONResponse({"link": {"score_id": who.link.score_id, "role": who.link.role}})
    return JSONResponse(user_json(await current_user(request)))


async def list_tokens(request: Request) -> Response:
    """
    summary: My API tokens (without their secrets)
    responses:
      200: {description: "{tokens: [...]}"}
    """
    user = await current_user(request)
    tokens = await authenticator(request).accounts.list_api_tokens(user.id)
    return JSONResponse({"tokens": [token_json(t) for t in tokens]})


async def create_token(request: Request) -> Response:
    """
    summary: Create a long-lived API token (the secret is shown only in this response)
    requestBody:
      content:
        application/json: {schema: {type: object, properties: {name: {type: string}, expires_in_days: {type: integer, minimum: 1, maximum: 3650}}}}
    responses:
      201: {description: "The token's record with its secret in `token`"}
    """
    user = await current_user(request)
    body = await json_body(request)
    name = _string(body, "name", default="")
    days = body.get("expires_in_days")
    if days is not None and (
        not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650
    ):
        raise Unprocessable("expires_in_days must be an integer from 1 to 3650")
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).timestamp() if days else None
    record, secret = await authenticator(request).create_api_token(user.id, name, expires)
    return JSONResponse({**token_json(record), "token": secret}, status_code=201)


async def revoke_token(request: Request) -> Response:
    """
    summary: Revoke one of my API tokens
    responses:
      204: {description: Revoked}
      404: {description: No such token of mine}
    """
    user = await current_user(request)
    await authenticator(request).accounts.revoke_api_token(user.id, request.path_params["token_id"])
    return Response(status_code=204)


routes = [
    Route("/api/auth/register", register, methods=["POST"], role="public"),
    Route("/api/auth/login", login, methods=["POST"], role="public"),
    Route("/api/auth/logout", logout, methods=["POST"], role="authenticated"),
    Route("/api/auth/password", change_password, methods=["POST"], role="authenticated"),
    Route("/api/auth/me", me, methods=["GET"], role="token"),
    Route("/api/auth/tokens", list_tokens, methods=["GET"], role="authenticated"),
    Route("/api/auth/tokens", create_token, methods=["POST"], role="authenticated"),
    Route("/api/auth/tokens/{token_id}", revoke_token, methods=["DELETE"], role="authenticated"),
]
