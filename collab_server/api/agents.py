"""REST and server-sent events: agent tasks on a score (docs/agents.md).

- ``GET /api/agents``: the personas (name, display name, colour, role, abilities).
- ``POST /api/scores/{id}/agents/tasks`` ``{agent, instruction, measures?, parts?, mode?}``:
  start a task; 202 with the task. ``measures`` is a list of measure ids or a 1-based
  range ``"1-8"``; ``mode`` ``suggest`` (default) or ``direct``. Viewers may ask the
  agents that only talk; writing tasks need the editor role (403); 429 over the per-user
  rate.
- ``GET .../agents/tasks/{task_id}``: the task; ``DELETE`` cancels it (what it wrote is
  withdrawn); ``POST .../undo`` reverts a finished task's own changes;
  ``POST .../accept`` and ``.../reject`` ``{measures?}`` decide its pending suggestions
  (what clients do through the document, for scripts).
- ``GET .../agents/tasks/{task_id}/events``: ``text/event-stream`` of its progress
  (``status``, ``write``, ``stale``, ``say``, ``gate``, then ``done``, ``failed`` or
  ``cancelled``), each with its ``seq`` as the event id; ``Last-Event-ID`` resumes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agents.mentions import bar_range, measures_of
from agents.tasks import FINISHED
from collab_server.api.json_body import json_body
from collab_server.errors import NotAcceptable, Unprocessable
from collab_server.participants.agents import AgentTasks
from collab_server.security.authenticator import Identity
from collab_server.security.routes import Route
from persistence.accounts.base import Role

KEEPALIVE_SECONDS = 15.0


def tasks(request: Request) -> AgentTasks:
    found: AgentTasks = request.app.state.agents
    return found


async def caller(request: Request) -> tuple[str | None, Role]:
    """The caller's user id and role on the path's score (the gate already checked it may
    read it); with authentication off, everyone is an owner."""
    identity = request.scope.get("orpheus.identity")
    gate = getattr(request.app.state, "gate", None)
    if not isinstance(identity, Identity) or gate is None or gate.access is None:
        return None, "owner"
    role = await gate.access.role(request.path_params["score_id"], identity)
    return identity.principal, role or "viewer"


async def list_agents(request: Request) -> Response:
    """
    summary: The agents (personas) that can join a score
    responses:
      200: {description: "A list of {name, display_name, color, role, abilities, writes}"}
    """
    return JSONResponse(
        [
            {
                "name": p.name,
                "display_name": p.display_name,
                "color": p.color,
                "role": p.role,
                "abilities": sorted(p.abilities),
                "writes": p.writes,
            }
            for p in tasks(request).personas.values()
        ]
    )


async def start_task(request: Request) -> Response:
    """
    summary: Ask an agent to work on the score
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [agent, instruction]
            properties:
              agent: {type: string}
              instruction: {type: string}
              measures: {oneOf: [{type: array, items: {type: string}}, {type: string}]}
              parts: {type: array, items: {type: string}}
              mode: {type: string, enum: [suggest, direct]}
    responses:
      202: {description: The task, queued}
      403: {description: A writing task needs the editor role}
      422: {description: Unknown agent or invalid request}
      429: {description: Too many tasks per minute}
    """
    score_id = request.path_params["score_id"]
    body = await json_body(request)
    agent, instruction = body.get("agent"), body.get("instruction", "")
    if not isinstance(agent, str) or not isinstance(instruction, str):
        raise Unprocessable("agent and instruction must be strings")
    scores = request.app.state.scores
    await scores.get(score_id)
    measures = await _measures(request, score_id, body.get("measures"))
    parts = body.get("parts")
    if parts is not None and (
        not isinstance(parts, list) or not all(isinstance(p, str) for p in parts)
    ):
        raise Unprocessable("parts must be a list of part ids")
    mode = body.get("mode", "suggest")
    user, role = await caller(request)
    record = await tasks(request).start(
        score_id,
        agent=agent,
        instruction=instruction,
        role=role,
        user=user,
        measures=measures,
        parts=parts,
        mode=mode if isinstance(mode, str) else "",
        source="rest",
    )
    return JSONResponse(
        record.to_json(), status_code=202, headers={"Location": f"{request.url.path}/{record.id}"}
    )


async def _measures(request: Request, score_id: str, raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, list) and all(isinstance(m, str) for m in raw):
        return list(raw) or None
    if isinstance(raw, str):
        bars = bar_range(f"bars {raw}")
        if bars is not None:
            score = await request.app.state.scores.document(score_id)
            found = measures_of(bars, [(s.number, s.id) for s in score.read().layout()])
            if found:
                return list(found)
    raise Unprocessable("measures must be a list of measure ids or a range like '1-8'")


async def get_task(request: Request) -> Response:
    """
    summary: An agent task's state
    responses:
      200: {description: The task}
      404: {description: No such task on this score}
    """
    record = await tasks(request).get(
        request.path_params["score_id"], request.path_params["task_id"]
    )
    return JSONResponse(record.to_json())


async def cancel_task(request: Request) -> Response:
    """
    summary: Cancel an agent task (what it wrote is withdrawn)
    responses:
      200: {description: The task after cancelling}
      404: {description: No such task on this score}
    """
    record = await tasks(request).cancel(
        request.path_params["score_id"], request.path_params["task_id"]
    )
    return JSONResponse(record.to_json())


async def undo_task(request: Request) -> Response:
    """
    summary: Undo a finished agent task's own changes (people's later edits stay)
    responses:
      200: {description: The task, now undone}
      409: {description: The task cannot be undone}
    """
    _, role = await caller(request)
    record = await tasks(request).undo(
        request.path_params["score_id"], request.path_params["task_id"], role
    )
    return JSONResponse(record.to_json())


async def accept_task(request: Request) -> Response:
    """
    summary: Accept a task's pending suggestions (all, or those of some measures)
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {measures: {type: array, items: {type: string}}}}
    responses:
      200: {description: "{applied: [ids], stale: [ids]}: stale measures were changed since the agent read them"}
      404: {description: No such task on this score}
    """
    return await _review(request, accept=True)


async def reject_task(request: Request) -> Response:
    """
    summary: Reject (delete) a task's pending suggestions (all, or those of some measures)
    responses:
      200: {description: "{rejected: [ids]}"}
      404: {description: No such task on this score}
    """
    return await _review(request, accept=False)


async def _review(request: Request, *, accept: bool) -> Response:
    body = await json_body(request)
    measures = body.get("measures")
    if measures is not None and (
        not isinstance(measures, list) or not all(isinstance(m, str) for m in measures)
    ):
        raise Unprocessable("measures must be a list of measure ids")
    user, _ = await caller(request)
    result = await tasks(request).review(
        request.path_params["score_id"],
        request.path_params["task_id"],
        accept=accept,
        measures=measures,
        by=user,
    )
    return JSONResponse(result)


async def task_events(request: Request) -> Response:
    """
    summary: Server-sent events with an agent task's progress
    responses:
      200: {description: "text/event-stream of the task's events"}
      404: {description: No such task on this score}
      406: {description: The request does not accept text/event-stream}
    """
    agents = tasks(request)
    task_id = request.path_params["task_id"]
    await agents.get(request.path_params["score_id"], task_id)
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise NotAcceptable("this is an event stream: send Accept: text/event-stream")
    try:
        after = int(request.headers.get("last-event-id", "0"))
    except ValueError:
        after = 0

    async def stream() -> AsyncIterator[str]:
        seq = after
        yield "retry: 1000\n\n"
        while True:
            events = await agents.board.events(task_id, after=seq, wait=KEEPALIVE_SECONDS)
            if not events:
                yield ": keep-alive\n\n"
                continue
            for event in events:
                seq = event.seq
                yield (
                    f"event: {event.type}\nid: {event.seq}\ndata: {json.dumps(event.to_json())}\n\n"
                )
                if event.type in FINISHED:
                    return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


TASK = "/api/scores/{score_id}/agents/tasks/{task_id}"
routes: list[Any] = [
    Route("/api/agents", list_agents, methods=["GET"], role="token"),
    Route("/api/scores/{score_id}/agents/tasks", start_task, methods=["POST"], role="viewer"),
    Route(TASK, get_task, methods=["GET"], role="viewer"),
    Route(TASK, cancel_task, methods=["DELETE"], role="editor"),
    Route(f"{TASK}/undo", undo_task, methods=["POST"], role="editor"),
    Route(f"{TASK}/accept", accept_task, methods=["POST"], role="editor"),
    Route(f"{TASK}/reject", reject_task, methods=["POST"], role="editor"),
    Route(f"{TASK}/events", task_events, methods=["GET"], role="viewer"),
]
