"""REST: sharing a score (owner only, enforced by the gate): roles of users, and secret
links giving view or edit rights."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.accounts import current_user
from collab_server.api.json_body import json_body
from collab_server.api.scores import iso
from collab_server.errors import BadRequest, ScoreNotFound, Unprocessable
from collab_server.security.roles import AccessControl
from collab_server.security.routes import Route
from persistence.accounts.base import ShareLink
from persistence.errors import NotFound

SHARE_ROLES = ("editor", "viewer")


def access(request: Request) -> AccessControl:
    gate = getattr(request.app.state, "gate", None)
    if gate is None or gate.access is None:
        raise BadRequest("access control is turned off on this server")
    return gate.access


def link_json(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "role": link.role,
        "created_by": link.created_by,
        "created_at": iso(link.created_at),
        "expires_at": iso(link.expires_at) if link.expires_at else None,
        "revoked": link.revoked,
    }


def _role(body: dict[str, Any]) -> str:
    role = body.get("role")
    if role not in SHARE_ROLES:
        raise Unprocessable("role must be 'editor' or 'viewer'")
    return str(role)


async def list_access(request: Request) -> Response:
    """
    summary: Who has which role on the score
    responses:
      200: {description: "{owner, grants: [{user, role, granted_by}]}"}
    """
    owner, grants = await access(request).grants(request.path_params["score_id"])
    return JSONResponse(
        {
            "owner": owner,
            "grants": [
                {"user": g.user_id, "role": g.role, "granted_by": g.granted_by} for g in grants
            ],
        }
    )


async def set_access(request: Request) -> Response:
    """
    summary: Give a user a role (editor or viewer); their live sessions follow it
    requestBody:
      content:
        application/json: {schema: {type: object, required: [role], properties: {role: {type: string, enum: [editor, viewer]}}}}
    responses:
      200: {description: The grant}
      404: {description: No such score or user}
    """
    score_id, user_id = request.path_params["score_id"], request.path_params["user_id"]
    body = await json_body(request)
    role = _role(body)
    owner = await current_user(request)
    try:
        await access(request).grant(
            score_id,
            user_id,
            role,  # type: ignore[arg-type]
            by=owner.id,
        )
    except NotFound:
        raise ScoreNotFound(f"no user {user_id!r}") from None
    return JSONResponse({"user": user_id, "role": role, "granted_by": owner.id})


async def remove_access(request: Request) -> Response:
    """
    summary: Remove a user's role; their live sessions on the score are closed (4403)
    responses:
      204: {description: Removed}
    """
    await access(request).revoke(request.path_params["score_id"], request.path_params["user_id"])
    return Response(status_code=204)


async def list_links(request: Request) -> Response:
    """
    summary: The score's share links (without their secrets)
    responses:
      200: {description: "{links: [...]}"}
    """
    links = await access(request).links(request.path_params["score_id"])
    return JSONResponse({"links": [link_json(link) for link in links]})


async def create_link(request: Request) -> Response:
    """
    summary: Create a share link (the secret `token` is shown only in this response)
    requestBody:
      content:
        application/json: {schema: {type: object, required: [role], properties: {role: {type: string, enum: [editor, viewer]}}}}
    responses:
      201: {description: "The link with its `token`: pass it as ?token= or a Bearer token"}
    """
    body = await json_body(request)
    who = request.scope.get("orpheus.user")
    link, token = await access(request).create_link(
        request.path_params["score_id"],
        _role(body),  # type: ignore[arg-type]
        by=who if isinstance(who, str) else None,
    )
    return JSONResponse({**link_json(link), "token": token}, status_code=201)


async def revoke_link(request: Request) -> Response:
    """
    summary: Revoke a share link; sessions opened with it are closed (4403)
    responses:
      204: {description: Revoked}
      404: {description: No such link}
    """
    await access(request).revoke_link(
        request.path_params["score_id"], request.path_params["link_id"]
    )
    return Response(status_code=204)


routes = [
    Route("/api/scores/{score_id}/access", list_access, methods=["GET"], role="owner"),
    Route("/api/scores/{score_id}/access/{user_id}", set_access, methods=["PUT"], role="owner"),
    Route(
        "/api/scores/{score_id}/access/{user_id}", remove_access, methods=["DELETE"], role="owner"
    ),
    Route("/api/scores/{score_id}/links", list_links, methods=["GET"], role="owner"),
    Route("/api/scores/{score_id}/links", create_link, methods=["POST"], role="owner"),
    Route("/api/scores/{score_id}/links/{link_id}", revoke_link, methods=["DELETE"], role="owner"),
]
