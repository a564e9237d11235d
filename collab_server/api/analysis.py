"""REST and server-sent events: analysis results of a score.

- ``GET /api/scores/{id}/analysis``: the latest result. 200 with the result (``pending``
  is true while a newer change waits for its job, which is then enqueued); 202 ``{"status": "pending"}`` (with
  ``Retry-After``) when none is stored yet, after enqueueing a job; 404 unknown score.
- ``GET /api/scores/{id}/analysis?version=e<epoch>.<seq>``: that live version, 200 if it
  is still the latest result, else 404 (only the newest live result is kept).
  ``?version=<version id>`` is the same as the route below.
- ``GET /api/scores/{id}/versions/{vid}/analysis``: a named version's result, computed
  on demand: 200 if stored, else 202 after enqueueing it; 404 unknown score or version.
- ``GET /api/scores/{id}/analysis/events``: ``text/event-stream``. Sends the latest
  result at once (if any), then an ``analysis`` event with each newer result as workers
  store it; a comment line every 15 s keeps proxies from closing the stream. The request
  must accept ``text/event-stream`` (``EventSource`` does), else 406.

The two GET routes read through the cache (:class:`~collab_server.cache.CachedResultStore`,
24 hours, dropped when a newer result is saved or announced and on delete or restore);
the event stream reads the store itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from collab_server.analysis.runtime import AnalysisRuntime
from collab_server.api.scores import service
from collab_server.errors import BadRequest, NotAcceptable, ScoreNotFound
from collab_server.security.routes import Route
from persistence.results.base import DocVersion, ResultStore, StoredResult

KEEPALIVE_SECONDS = 15.0


def runtime(request: Request) -> AnalysisRuntime:
    analysis: AnalysisRuntime = request.app.state.analysis
    return analysis


def results(request: Request) -> ResultStore:
    """Where REST reads results: through the cache (24 h, invalidated on change)."""
    analysis = runtime(request)
    return analysis.cached if analysis.cached is not None else analysis.results


def result_body(stored: StoredResult, *, pending: bool = False) -> str:
    """The JSON text sent for a stored result (the stored JSON is spliced in as is)."""
    head = json.dumps(
        {
            "score_id": stored.score_id,
            "version": stored.version.token,
            "version_id": stored.version_id,
            "computed_at": stored.computed_at,
            "duration_ms": stored.duration_ms,
            "pending": pending,
        }
    )
    return head[:-1] + ', "result": ' + stored.result_json + "}"


def _result_response(stored: StoredResult, *, pending: bool = False) -> Response:
    return Response(result_body(stored, pending=pending), media_type="application/json")


def _accepted(message: str) -> Response:
    return JSONResponse(
        {"status": "pending", "message": message}, status_code=202, headers={"Retry-After": "1"}
    )


async def get_analysis(request: Request) -> Response:
    """
    summary: The score's latest analysis (or of ?version=e<epoch>.<seq> / a version id)
    responses:
      200: {description: The result}
      202: {description: Not computed yet; a job was enqueued}
      404: {description: No such score, or no result for that live version}
    """
    score_id = request.path_params["score_id"]
    record = await service(request).get(score_id)
    version = request.query_params.get("version")
    if version and not version.startswith("e"):
        return await _named(request, score_id, version)
    analysis = runtime(request)
    if version:
        try:
            wanted = DocVersion.parse(version)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        stored = await results(request).get_for_version(score_id, wanted)
        if stored is None:
            raise ScoreNotFound(
                f"no analysis of version {version}: live results are kept "
                "for the latest version only (save a named version)"
            )
        return _result_response(stored)
    stored = await results(request).get_latest(score_id)
    if stored is None:
        await analysis.enqueuer.analyze_score(score_id, record.epoch)
        return _accepted("the analysis is being computed")
    pending = analysis.hooks.pending(score_id)
    if not pending and await _behind(request, stored, record.epoch):
        await analysis.enqueuer.analyze_score(score_id, record.epoch)  # e.g. after a restart
        pending = True
    return _result_response(stored, pending=pending)


async def _behind(request: Request, stored: StoredResult, epoch: int) -> bool:
    """Whether the stored document has moved on from the result's version."""
    if stored.version.epoch != epoch:
        return True
    log = service(request).storage.log
    return bool(await log.read(stored.score_id, epoch, after=stored.version.seq))


async def get_version_analysis(request: Request) -> Response:
    """
    summary: The analysis of a named version, computed on demand
    responses:
      200: {description: The result}
      202: {description: Being computed; retry shortly}
      404: {description: No such score or version}
    """
    score_id = request.path_params["score_id"]
    await service(request).get(score_id)
    return await _named(request, score_id, request.path_params["version_id"])


async def _named(request: Request, score_id: str, version_id: str) -> Response:
    analysis = runtime(request)
    stored = await results(request).get_for_version(score_id, version_id)
    if stored is not None:
        return _result_response(stored)
    await service(request).version(score_id, version_id)  # 404 if unknown
    await analysis.enqueuer.analyze_version(score_id, version_id)
    return _accepted("the analysis of this version is being computed")


async def analysis_events(request: Request) -> Response:
    """
    summary: Server-sent events with each new analysis of the score
    description: >
      The request must accept text/event-stream (EventSource does): the stream never ends
      by itself, so clients that did not ask for one get 406.
    responses:
      200: {description: "text/event-stream of `analysis` events (data: a result)"}
      404: {description: No such score}
      406: {description: The request does not accept text/event-stream}
    """
    score_id = request.path_params["score_id"]
    await service(request).get(score_id)
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise NotAcceptable("this is an event stream: send Accept: text/event-stream")
    analysis = runtime(request)

    async def stream() -> AsyncIterator[str]:
        async with analysis.events.subscribe(score_id) as subscription:
            sent: DocVersion | None = None
            stored = await analysis.results.get_latest(score_id)
            yield "retry: 1000\n\n"
            while True:
                if stored is not None and (sent is None or stored.version > sent):
                    sent = stored.version
                    yield _event("analysis", stored.version.token, result_body(stored))
                if await subscription.wait(KEEPALIVE_SECONDS) is None:
                    yield ": keep-alive\n\n"
                    continue
                stored = await analysis.results.get_latest(score_id)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(name: str, event_id: str, data: str) -> str:
    return f"event: {name}\nid: {event_id}\ndata: {data}\n\n"


routes: list[Any] = [
    Route("/api/scores/{score_id}/analysis", get_analysis, methods=["GET"], role="viewer"),
    Route(
        "/api/scores/{score_id}/analysis/events", analysis_events, methods=["GET"], role="viewer"
    ),
    Route(
        "/api/scores/{score_id}/versions/{version_id}/analysis",
        get_version_analysis,
        methods=["GET"],
        role="viewer",
    ),
]
