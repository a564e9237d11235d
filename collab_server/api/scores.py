"""REST: scores (create empty or by upload, list, read, rename, delete), exports and
validation. Each endpoint's docstring carries its OpenAPI description."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.json_body import json_body, parse_json_body
from collab_server.api.uploads import read_body, read_upload
from collab_server.errors import (
    BadRequest,
    Unprocessable,
)
from collab_server.security.authenticator import Identity
from collab_server.security.routes import Route
from collab_server.services.files import EXPORT_FORMATS, EXPORT_LINK_SECONDS, ScoreFiles
from collab_server.services.score_service import ScoreService
from collab_server.settings import Settings
from persistence.base import ScoreRecord
from score_model.document import ScoreDoc
from score_model.engrave import EngraveError, EngraveOptions
from score_model.exporter import CONTENT_TYPES
from score_model.validation import validate


def service(request: Request) -> ScoreService:
    return request.app.state.scores


def files(request: Request) -> ScoreFiles:
    return service(request).files


def settings(request: Request) -> Settings:
    return request.app.state.settings


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds")


def score_json(record: ScoreRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "title": record.title,
        "owner": record.owner,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "epoch": record.epoch,
        "websocket": f"/ws/scores/{record.id}",
    }


async def list_scores(request: Request) -> Response:
    """
    summary: List scores
    parameters:
      - {name: limit, in: query, schema: {type: integer, default: 100, maximum: 1000}}
      - {name: offset, in: query, schema: {type: integer, default: 0}}
    responses:
      200: {description: "Scores, newest first: {scores: [...]}"}
    """
    limit = _int_param(request, "limit", 100, 1, 1000)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    identity = request.scope.get("orpheus.identity")
    records = await service(request).list(
        identity=identity if isinstance(identity, Identity) else None, limit=limit, offset=offset
    )
    return JSONResponse({"scores": [score_json(r) for r in records]})


async def create_score(request: Request) -> Response:
    """
    summary: Create a score, empty or from an uploaded file
    description: >
      Send JSON ({"title": ...}) for an empty score, or a MusicXML, MXL, MIDI or ABC file
      as multipart form field `file` or as the raw body (name it with `?filename=`).
    requestBody:
      content:
        application/json: {schema: {type: object, properties: {title: {type: string}}}}
        multipart/form-data: {schema: {type: object, properties: {file: {type: string, format: binary}}}}
        application/octet-stream: {schema: {type: string, format: binary}}
    responses:
      201: {description: The new score}
      413: {description: Upload over the size limit}
      415: {description: Not a supported score format}
      422: {description: A broken or hostile file, or a score over the limits}
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    config = settings(request)
    score: ScoreDoc | None = None
    fallback_title = "Untitled"
    if media == "application/json" or (not media and "filename" not in request.query_params):
        raw = await read_body(request, config.max_upload_bytes)
        body = await parse_json_body(raw)
        if {"notes", "measures", "schema_version"} & set(body):  # a score exported as JSON
            score = await files(request).import_file(raw, "score.json")
        else:
            fallback_title = body.get("title", fallback_title)
            if not isinstance(fallback_title, str):
                raise Unprocessable("title must be a string")
    else:
        upload = await read_upload(request, config.max_upload_bytes)
        score = await files(request).import_file(upload.data, upload.filename)
        fallback_title = (upload.filename or "").rsplit(".", 1)[0] or fallback_title
    title = (
        request.query_params.get("title")
        or (score.raw_meta().get("title") if score is not None else None)
        or fallback_title
    )
    record = await service(request).create(
        title=str(title)[:200], owner=_actor(request), score=score
    )
    return JSONResponse(score_json(record), status_code=201)


async def get_score(request: Request) -> Response:
    """
    summary: A score's metadata
    responses:
      200: {description: The score}
      404: {description: No such score}
    """
    record = await service(request).get(request.path_params["score_id"])
    return JSONResponse(score_json(record))


async def update_score(request: Request) -> Response:
    """
    summary: Rename a score
    requestBody:
      content:
        application/json: {schema: {type: object, properties: {title: {type: string}}, required: [title]}}
    responses:
      200: {description: The renamed score}
      422: {description: Invalid title}
    """
    body = await json_body(request)
    if "title" not in body:
        raise Unprocessable("send {'title': ...}")
    record = await service(request).rename(
        request.path_params["score_id"], body["title"], actor=_actor(request) or "rest"
    )
    return JSONResponse(score_json(record))


async def delete_score(request: Request) -> Response:
    """
    summary: Move a score to its owner's trash (purged after ORPHEUS_TRASH_DAYS, 30 by default)
    responses:
      204: {description: In the trash; its live sessions are closed (4404)}
      404: {description: No such score}
    """
    await service(request).delete(request.path_params["score_id"])
    return Response(status_code=204)


async def export_current(request: Request) -> Response:
    """
    summary: Export the current state
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [musicxml, mxl, midi, json, svg, pdf], default: musicxml}}
      - {name: link, in: query, schema: {type: boolean, default: false}, description: "Answer {url, expires_in}: a presigned download link (S3 blob stores only; other stores send the file)"}
      - {name: page_width, in: query, schema: {type: number, minimum: 50, maximum: 1000, default: 210}, description: "svg, pdf: page width in mm"}
      - {name: page_height, in: query, schema: {type: number, minimum: 50, maximum: 1000, default: 297}, description: "svg, pdf: page height in mm"}
      - {name: scale, in: query, schema: {type: integer, minimum: 10, maximum: 200, default: 50}, description: "svg, pdf: Verovio's scale in percent"}
      - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}, description: "svg: the page to render (X-Page-Count says how many there are); pdf holds them all"}
    responses:
      200: {description: "The file, with its content type and a file name; or with link=true on S3, {url, expires_in}. svg and pdf: X-Page-Count; any format: X-Export-Warnings lists approximations"}
      400: {description: "Unknown format, or page size, scale or page out of bounds"}
      404: {description: No such score}
      422: {description: "The score cannot be written in this format (an svg page that does not exist)"}
    """
    score_id = request.path_params["score_id"]
    record = await service(request).get(score_id)
    state = await service(request).state(score_id)
    fmt = export_format(request)
    if wants_link(request):
        tag = "current-" + hashlib.sha256(state).hexdigest()[:40] + engraving_tag(request, fmt)
        link = await export_link(request, score_id, tag, state, fmt, record.title)
        if link is not None:
            return link
    return await export_response(request, state, fmt, record.title)


def export_format(request: Request) -> str:
    fmt = request.query_params.get("format", "musicxml").lower()
    if fmt == "xml":
        fmt = "musicxml"
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def engraving(request: Request, fmt: str) -> tuple[EngraveOptions | None, int]:
    """Page size, scale and page of an svg or pdf export (400 out of bounds)."""
    if fmt not in ("svg", "pdf"):
        return None, 1
    defaults = EngraveOptions()
    try:
        options = EngraveOptions(
            page_width=float(request.query_params.get("page_width", defaults.page_width)),
            page_height=float(request.query_params.get("page_height", defaults.page_height)),
            scale=int(request.query_params.get("scale", defaults.scale)),
        )
    except (ValueError, EngraveError) as exc:
        message = (
            str(exc)
            if isinstance(exc, EngraveError)
            else "page_width, page_height and scale must be numbers (scale an integer)"
        )
        raise BadRequest(message) from exc
    page = _int_param(request, "page", 1, 1, 100_000) if fmt == "svg" else 1
    return options, page


def engraving_tag(request: Request, fmt: str) -> str:
    """What a stored svg or pdf export depends on besides the state (part of its key)."""
    options, page = engraving(request, fmt)
    return "" if options is None else f"-{options.tag()}-p{page}"


def export_filename(title: str, suffix: str, extension: str) -> str:
    return f"{(_slug(title) or 'score') + suffix}.{extension}"


async def export_response(
    request: Request, state: bytes, fmt: str, title: str, suffix: str = ""
) -> Response:
    options, page = engraving(request, fmt)
    exported = await files(request).export(state, fmt, engraving=options, page=page)
    if fmt == "svg":
        suffix += f"-p{page}"
    name = export_filename(title, suffix, exported.extension)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if exported.pages is not None:
        headers["X-Page-Count"] = str(exported.pages)
    if exported.warnings:
        headers["X-Export-Warnings"] = "; ".join(exported.warnings)[:2000]
    return Response(exported.data, media_type=exported.content_type, headers=headers)


def wants_link(request: Request) -> bool:
    return request.query_params.get("link", "").lower() in ("1", "true", "yes")


async def export_link(
    request: Request, score_id: str, tag: str, state: bytes, fmt: str, title: str, suffix: str = ""
) -> Response | None:
    """``{"url", "expires_in"}`` for a presigned link to the export, or ``None`` where
    the blob store has no URLs (files, memory): send the file instead."""
    filename = export_filename(title, suffix, CONTENT_TYPES[fmt][1])
    options, page = engraving(request, fmt)
    url = await files(request).export_url(
        score_id, tag, state, fmt, filename, engraving=options, page=page
    )
    if url is None:
        return None
    return JSONResponse({"url": url, "expires_in": EXPORT_LINK_SECONDS})


async def validation(request: Request) -> Response:
    """
    summary: Problems in the current state (overfull measures, orphaned notes, bad values)
    responses:
      200: {description: "{problems: [{code, message, measure, part, note, voice, severity}]}"}
    """
    score = await service(request).document(request.path_params["score_id"])
    problems = await to_thread.run_sync(validate, score)
    return JSONResponse({"problems": [p.to_json() for p in problems]})


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _actor(request: Request) -> str | None:
    user = request.scope.get("orpheus.user")
    return user if isinstance(user, str) else None


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:80]


def trash_json(record: ScoreRecord, purge_at: float) -> dict[str, Any]:
    return {
        **score_json(record),
        "deleted_at": iso(record.deleted_at or 0.0),
        "purge_at": iso(purge_at),
    }


def _identity(request: Request) -> Identity | None:
    identity = request.scope.get("orpheus.identity")
    return identity if isinstance(identity, Identity) else None


async def list_trash(request: Request) -> Response:
    """
    summary: Your deleted scores (an admin's list holds everyone's), most recent first
    parameters:
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 100}}
      - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
    responses:
      200: {description: "{scores: [...]}, each with deleted_at and purge_at"}
    """
    scores = service(request)
    records = await scores.trash(
        _identity(request),
        limit=_int_param(request, "limit", 100, 1, 1000),
        offset=_int_param(request, "offset", 0, 0, 10**9),
    )
    return JSONResponse({"scores": [trash_json(r, scores.purge_at(r)) for r in records]})


async def restore_from_trash(request: Request) -> Response:
    """
    summary: Take a score out of your trash, as it was
    responses:
      200: {description: The score}
      404: {description: No such score in your trash}
    """
    record = await service(request).untrash(request.path_params["trashed_id"], _identity(request))
    return JSONResponse(score_json(record))


async def purge_from_trash(request: Request) -> Response:
    """
    summary: Delete a score of your trash for good, now
    responses:
      204: {description: Gone}
      404: {description: No such score in your trash}
    """
    await service(request).purge(request.path_params["trashed_id"], _identity(request))
    return Response(status_code=204)


routes = [
    Route("/api/scores", list_scores, methods=["GET"], role="authenticated"),
    Route("/api/scores", create_score, methods=["POST"], role="authenticated"),
    Route("/api/scores/{score_id}", get_score, methods=["GET"], role="viewer"),
    Route("/api/scores/{score_id}", update_score, methods=["PATCH"], role="editor"),
    Route("/api/scores/{score_id}", delete_score, methods=["DELETE"], role="owner"),
    Route("/api/scores/{score_id}/export", export_current, methods=["GET"], role="viewer"),
    Route("/api/scores/{score_id}/validation", validation, methods=["GET"], role="viewer"),
    # A trashed score has no roles any more: its owner is checked by the service.
    Route("/api/trash", list_trash, methods=["GET"], role="authenticated"),
    Route(
        "/api/trash/{trashed_id}/restore",
        restore_from_trash,
        methods=["POST"],
        role="authenticated",
    ),
    Route("/api/trash/{trashed_id}", purge_from_trash, methods=["DELETE"], role="authenticated"),
]
