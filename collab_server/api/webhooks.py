"""REST: webhook subscriptions (docs/webhooks.md), their delivery log, and the caller's
notifications. A subscription on a score needs the owner role on it; a per-user one
(no ``score_id``) receives the events of the caller's own scores and their @mentions.
The signing secret is returned once, in the answer that creates the subscription."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.json_body import json_body
from collab_server.errors import Forbidden, ScoreNotFound, Unauthenticated, Unprocessable
from collab_server.security.authenticator import Identity
from collab_server.security.routes import Route
from collab_server.webhooks.urls import check_url
from persistence.errors import NotFound
from persistence.webhooks.base import (
    EVENTS,
    Delivery,
    Subscription,
    WebhookStore,
    new_secret,
    new_subscription_id,
)


def _store(request: Request) -> WebhookStore:
    return request.app.state.webhooks.store


def _identity(request: Request) -> Identity:
    """The caller, a user account (with authentication off: ``local``, an admin)."""
    if request.app.state.gate.access is None:
        return Identity(user_id="local", is_admin=True)
    identity = request.scope.get("orpheus.identity")
    if not isinstance(identity, Identity):
        raise Unauthenticated("send a token: Authorization: Bearer <token>")
    if identity.user_id is None:
        raise Forbidden("webhooks and notifications need a user account, not a share link")
    return identity


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "score_id": subscription.score_id,
        "owner": subscription.owner,
        "created_at": subscription.created_at,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_at": delivery.next_at if delivery.status == "pending" else None,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "payload": delivery.payload,
    }


async def _mine(request: Request) -> Subscription:
    """The path's subscription if the caller owns it (or is an admin); else 404."""
    identity = _identity(request)
    try:
        found = await _store(request).get_subscription(request.path_params["webhook_id"])
    except NotFound:
        found = None
    if found is None or (found.owner != identity.user_id and not identity.is_admin):
        raise ScoreNotFound("no such webhook")
    return found


async def create_webhook(request: Request) -> Response:
    """
    summary: Subscribe a URL to events of one score (owner role) or of your scores
    description: >
      Events: score.changed (debounced), version.created, analysis.ready,
      agent_task.finished, comment.added, mention. Bodies are signed with HMAC-SHA256
      (X-Orpheus-Signature: t=<unix>,v1=<hex>). Only http(s) URLs to public addresses are
      accepted unless the server allows private ones. The secret is shown only here.
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [url, events]
            properties:
              url: {type: string}
              events: {type: array, items: {type: string, enum: [score.changed, version.created, analysis.ready, agent_task.finished, comment.added, mention]}}
              score_id: {type: string}
    responses:
      201: {description: "The subscription with its secret (shown once)"}
      403: {description: Not the score's owner}
      422: {description: Refused URL or unknown event}
    """
    identity = _identity(request)
    body = await json_body(request)
    events = body.get("events")
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in EVENTS for e in events)
    ):
        raise Unprocessable(f"events must be a non-empty list of: {', '.join(EVENTS)}")
    score_id = body.get("score_id")
    if score_id is not None:
        if not isinstance(score_id, str):
            raise Unprocessable("score_id must be a string")
        access = request.app.state.gate.access
        if access is not None:
            await access.require(score_id, identity, "owner")
    settings = request.app.state.settings
    url = await check_url(body.get("url"), allow_private=settings.webhook_allow_private)
    assert identity.user_id is not None
    subscription = await _store(request).add_subscription(
        Subscription(
            new_subscription_id(),
            identity.user_id,
            url,
            tuple(dict.fromkeys(events)),
            new_secret(),
            score_id,
        )
    )
    return JSONResponse(
        {**subscription_json(subscription), "secret": subscription.secret}, status_code=201
    )


async def list_webhooks(request: Request) -> Response:
    """
    summary: Your webhook subscriptions (without their secrets)
    responses:
      200: {description: "{webhooks: [...]}"}
    """
    found = await _store(request).list_subscriptions(owner=_identity(request).user_id)
    return JSONResponse({"webhooks": [subscription_json(s) for s in found]})


async def get_webhook(request: Request) -> Response:
    """
    summary: One of your webhook subscriptions (without its secret)
    responses:
      200: {description: The subscription}
      404: {description: No such webhook of yours}
    """
    return JSONResponse(subscription_json(await _mine(request)))


async def delete_webhook(request: Request) -> Response:
    """
    summary: Unsubscribe (pending deliveries are dropped)
    responses:
      204: {description: Deleted}
      404: {description: No such webhook of yours}
    """
    subscription = await _mine(request)
    await _store(request).delete_subscription(subscription.id)
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    """
    summary: The delivery log of a webhook, newest first
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
    responses:
      200: {description: "{deliveries: [{id, event, status, attempts, next_at, created_at, delivered_at, last_status, last_error, payload}]}"}
      404: {description: No such webhook of yours}
    """
    subscription = await _mine(request)
    limit = _limit(request)
    found = await _store(request).deliveries(subscription.id, limit=limit)
    return JSONResponse({"deliveries": [delivery_json(d) for d in found]})


async def list_notifications(request: Request) -> Response:
    """
    summary: Your notifications (@mentions in comments), newest first
    parameters:
      - {name: unread, in: query, schema: {type: boolean, default: false}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
    responses:
      200: {description: "{notifications: [{id, kind, payload, created_at, read}]}"}
    """
    user = _identity(request).user_id
    assert user is not None
    found = await _store(request).notifications(
        user, unread_only=request.query_params.get("unread") == "true", limit=_limit(request)
    )
    return JSONResponse(
        {
            "notifications": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "payload": n.payload,
                    "created_at": n.created_at,
                    "read": n.read,
                }
                for n in found
            ]
        }
    )


async def read_notifications(request: Request) -> Response:
    """
    summary: Mark notifications read
    requestBody:
      content:
        application/json: {schema: {type: object, required: [ids], properties: {ids: {type: array, items: {type: integer}}}}}
    responses:
      200: {description: "{marked: <how many changed>}"}
    """
    body = await json_body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise Unprocessable("ids must be a list of integers")
    user = _identity(request).user_id
    assert user is not None
    return JSONResponse({"marked": await _store(request).mark_read(user, ids[:1000])})


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise Unprocessable("limit must be an integer from 1 to 500")
    return int(raw)


_ONE = "/api/webhooks/{webhook_id}"
routes = [
    Route("/api/webhooks", list_webhooks, methods=["GET"], role="authenticated"),
    Route("/api/webhooks", create_webhook, methods=["POST"], role="authenticated"),
    Route(_ONE, get_webhook, methods=["GET"], role="authenticated"),
    Route(_ONE, delete_webhook, methods=["DELETE"], role="authenticated"),
    Route(_ONE + "/deliveries", list_deliveries, methods=["GET"], role="authenticated"),
    Route("/api/me/notifications", list_notifications, methods=["GET"], role="authenticated"),
    Route("/api/me/notifications/read", read_notifications, methods=["POST"], role="authenticated"),
]
