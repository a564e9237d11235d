"""REST: comments of a score (the document's ``comments`` root, docs/score-schema.md),
anchored to a measure or a note, with replies. Writes need the editor role, like any
edit, and run as an in-process participant acting for the caller
(:mod:`collab_server.participants`): connected browsers see them at once, attributed
to the caller, and the webhook hooks report them (``comment.added``, @mentions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.json_body import json_body
from collab_server.errors import ScoreNotFound, Unprocessable
from collab_server.participants import ParticipantHub
from collab_server.participants.participant import Profile
from collab_server.security.authenticator import Identity
from collab_server.security.routes import Route
from score_model.ops import EditError, ScoreEditor
from score_model.origin import Origin

T = TypeVar("T")


def _hub(request: Request) -> ParticipantHub:
    return request.app.state.participants


def _identity(request: Request) -> Identity:
    identity = request.scope.get("orpheus.identity")
    return identity if isinstance(identity, Identity) else Identity()


def _name(identity: Identity) -> str:
    return identity.user_id or identity.principal


def comment_json(comment_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment_id,
        "author": value.get("author"),
        "text": value.get("text"),
        "measure": value.get("measure"),
        "part": value.get("part"),
        "onset": value.get("onset"),
        "note": value.get("note"),
        "reply_to": value.get("reply_to"),
        "resolved": bool(value.get("resolved", False)),
        "time": value.get("time"),
    }


def threads(raw: dict[str, Any], measures: list[str]) -> list[dict[str, Any]]:
    """Threads in score order (the measures' order), then time, each with its
    ``replies`` oldest first; a reply whose thread is gone starts a thread of its own
    (as the web client shows them, web/src/comments/comments.ts)."""
    items = sorted(
        (comment_json(key, value) for key, value in raw.items() if isinstance(value, dict)),
        key=lambda c: (str(c["time"] or ""), c["id"]),
    )
    top = {c["id"]: {**c, "replies": []} for c in items if c["reply_to"] not in raw}
    for comment in items:
        if comment["id"] not in top:
            top[comment["reply_to"]]["replies"].append(comment)
    order = {measure: i for i, measure in enumerate(measures)}
    return sorted(top.values(), key=lambda c: order.get(c["measure"], len(order)))


async def _edit(request: Request, fn: Callable[[ScoreEditor], T]) -> T:
    identity = _identity(request)
    name = _name(identity)
    hub = _hub(request)
    participant = await hub.join(
        request.path_params["score_id"],
        Profile(name, kind="person"),
        Origin.server(f"rest:{name}"),
        acting_for=identity if hub.access is not None else None,  # auth off: an editor
    )
    try:
        return await participant.edit(fn)
    except EditError as exc:
        raise Unprocessable(str(exc)) from None
    finally:
        await participant.leave()


async def _raw(request: Request) -> dict[str, Any]:
    async with _hub(request).rooms.hold(request.path_params["score_id"]) as room:
        return room.score.raw_comments()


async def _threads(request: Request) -> list[dict[str, Any]]:
    async with _hub(request).rooms.hold(request.path_params["score_id"]) as room:
        measures = [m.get("id") for m in room.score.raw_measures() if isinstance(m, dict)]
        return threads(room.score.raw_comments(), [m for m in measures if isinstance(m, str)])


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise Unprocessable("text must be a string")
    return text


def _optional(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Unprocessable(f"{name} must be a string")
    return value


def _add(
    author: str,
    text: str,
    *,
    measure: str | None,
    part: str | None,
    onset: str | None,
    note: str | None,
    reply_to: str | None,
) -> Callable[[ScoreEditor], str]:
    def add(editor: ScoreEditor) -> str:
        nonlocal measure, part, onset
        comments = editor.score.comments
        if reply_to is not None:
            parent = comments.get(reply_to)
            if not isinstance(parent, dict):
                raise EditError(f"no comment {reply_to}")
            measure, part, onset = parent.get("measure"), parent.get("part"), parent.get("onset")
        elif note is not None:
            value = editor.score.notes.get(note)
            if not isinstance(value, dict):
                raise EditError(f"no note {note}")
            measure, part, onset = value.get("measure"), value.get("part"), value.get("onset")
        if not isinstance(measure, str):
            raise EditError("a comment needs a measure, a note or a comment to reply to")
        comment_id = editor.add_comment(author, text, measure=measure, part=part, onset=onset)
        extra = {"note": note if reply_to is None else None, "reply_to": reply_to}
        if reply_to is not None and isinstance(comments.get(reply_to), dict):
            extra["note"] = comments[reply_to].get("note")
        extra = {k: v for k, v in extra.items() if v is not None}
        if extra:
            comments[comment_id] = {**comments[comment_id], **extra}
        return comment_id

    return add


async def list_comments(request: Request) -> Response:
    """
    summary: A score's comments, threaded (each top-level comment with its replies)
    parameters:
      - {name: resolved, in: query, schema: {type: boolean}, description: "Only resolved (true) or open (false) threads"}
    responses:
      200: {description: "{comments: [{id, author, text, measure, part, onset, note, reply_to, resolved, time, replies: [...]}]}"}
      404: {description: No such score}
    """
    found = await _threads(request)
    wanted = request.query_params.get("resolved")
    if wanted in ("true", "false"):
        found = [c for c in found if c["resolved"] == (wanted == "true")]
    return JSONResponse({"comments": found})


async def add_comment(request: Request) -> Response:
    """
    summary: Comment on a measure (optionally a part and onset) or on a note
    description: >
      Give `measure` (with optional `part` and `onset`) or `note` (the comment takes the
      note's measure, part and onset). `@name` in the text notifies that user if they may
      read the score.
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [text]
            properties:
              text: {type: string, maxLength: 10000}
              measure: {type: string}
              part: {type: string}
              onset: {type: string, description: "a fraction of quarter notes, e.g. 1/2"}
              note: {type: string}
    responses:
      201: {description: The comment}
      403: {description: Needs the editor role}
      422: {description: Unknown measure, part or note; empty text}
    """
    body = await json_body(request)
    author = _name(_identity(request))
    comment_id = await _edit(
        request,
        _add(
            author,
            _text(body),
            measure=_optional(body, "measure"),
            part=_optional(body, "part"),
            onset=_optional(body, "onset"),
            note=_optional(body, "note"),
            reply_to=None,
        ),
    )
    return await _answer(request, comment_id, 201)


async def reply(request: Request) -> Response:
    """
    summary: Reply to a comment (the reply shares its anchor)
    requestBody:
      content:
        application/json: {schema: {type: object, required: [text], properties: {text: {type: string}}}}
    responses:
      201: {description: The reply}
      404: {description: No such score or comment}
    """
    body = await json_body(request)
    raw = await _raw(request)
    parent_id = request.path_params["comment_id"]
    parent = raw.get(parent_id)
    if not isinstance(parent, dict):
        raise ScoreNotFound(f"no comment {parent_id}")
    root = parent.get("reply_to") if parent.get("reply_to") in raw else parent_id
    comment_id = await _edit(
        request,
        _add(
            _name(_identity(request)),
            _text(body),
            measure=None,
            part=None,
            onset=None,
            note=None,
            reply_to=str(root),
        ),
    )
    return await _answer(request, comment_id, 201)


async def update_comment(request: Request) -> Response:
    """
    summary: Resolve or reopen a comment
    requestBody:
      content:
        application/json: {schema: {type: object, required: [resolved], properties: {resolved: {type: boolean}}}}
    responses:
      200: {description: The comment}
      404: {description: No such score or comment}
    """
    body = await json_body(request)
    resolved = body.get("resolved")
    if not isinstance(resolved, bool):
        raise Unprocessable("resolved must be true or false")
    comment_id = request.path_params["comment_id"]
    await _known(request, comment_id)
    await _edit(request, lambda editor: editor.resolve_comment(comment_id, resolved))
    return await _answer(request, comment_id, 200)


async def delete_comment(request: Request) -> Response:
    """
    summary: Delete a comment with its replies
    responses:
      204: {description: Deleted}
      404: {description: No such score or comment}
    """
    comment_id = request.path_params["comment_id"]
    raw = await _known(request, comment_id)
    doomed = [comment_id, *(k for k, v in raw.items() if v.get("reply_to") == comment_id)]

    def delete(editor: ScoreEditor) -> None:
        for key in doomed:
            if key in editor.score.comments:
                editor.delete_comment(key)

    await _edit(request, delete)
    return Response(status_code=204)


async def _known(request: Request, comment_id: str) -> dict[str, Any]:
    raw = await _raw(request)
    if not isinstance(raw.get(comment_id), dict):
        raise ScoreNotFound(f"no comment {comment_id}")
    return raw


async def _answer(request: Request, comment_id: str, status: int) -> Response:
    raw = await _raw(request)
    return JSONResponse(comment_json(comment_id, raw.get(comment_id, {})), status_code=status)


_ONE = "/api/scores/{score_id}/comments/{comment_id}"
routes = [
    Route("/api/scores/{score_id}/comments", list_comments, methods=["GET"], role="viewer"),
    Route("/api/scores/{score_id}/comments", add_comment, methods=["POST"], role="editor"),
    Route(_ONE, update_comment, methods=["PATCH"], role="editor"),
    Route(_ONE, delete_comment, methods=["DELETE"], role="editor"),
    Route(_ONE + "/replies", reply, methods=["POST"], role="editor"),
]
