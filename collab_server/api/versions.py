"""REST: versions of a score (named snapshots): create, list, read, export, restore."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.json_body import json_body
from collab_server.api.scores import (
    _actor,
    engraving_tag,
    export_format,
    export_link,
    export_response,
    iso,
    service,
    wants_link,
)
from collab_server.errors import Unprocessable
from collab_server.security.routes import Route
from persistence.base import Version


def version_json(version: Version) -> dict[str, Any]:
    return {
        "id": version.id,
        "score_id": version.score_id,
        "name": version.name,
        "author": version.author,
        "created_at": iso(version.created_at),
        "epoch": version.epoch,
        "size": version.size,
    }


async def list_versions(request: Request) -> Response:
    """
    summary: List a score's versions, newest first, with author and time
    responses:
      200: {description: "{versions: [...]}"}
      404: {description: No such score}
    """
    versions = await service(request).versions(request.path_params["score_id"])
    return JSONResponse({"versions": [version_json(v) for v in versions]})


async def create_version(request: Request) -> Response:
    """
    summary: Save the current state as a named version
    requestBody:
      content:
        application/json: {schema: {type: object, properties: {name: {type: string}}}}
    responses:
      201: {description: The new version}
    """
    body = await json_body(request)
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise Unprocessable("name must be a string of at most 200 characters")
    version = await service(request).create_version(
        request.path_params["score_id"], name=name, author=_actor(request)
    )
    return JSONResponse(version_json(version), status_code=201)


async def get_version(request: Request) -> Response:
    """
    summary: One version's metadata
    responses:
      200: {description: The version}
      404: {description: No such score or version}
    """
    version, _ = await service(request).version(
        request.path_params["score_id"], request.path_params["version_id"]
    )
    return JSONResponse(version_json(version))


async def export_version(request: Request) -> Response:
    """
    summary: Export a version
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [musicxml, mxl, midi, json, svg, pdf], default: musicxml}}
      - {name: link, in: query, schema: {type: boolean, default: false}, description: "Answer {url, expires_in}: a presigned download link (S3 blob stores only; other stores send the file)"}
      - {name: page_width, in: query, schema: {type: number, minimum: 50, maximum: 1000, default: 210}, description: "svg, pdf: page width in mm"}
      - {name: page_height, in: query, schema: {type: number, minimum: 50, maximum: 1000, default: 297}, description: "svg, pdf: page height in mm"}
      - {name: scale, in: query, schema: {type: integer, minimum: 10, maximum: 200, default: 50}, description: "svg, pdf: Verovio's scale in percent"}
      - {name: page, in: query, schema: {type: integer, minimum: 1, default: 1}, description: "svg: the page to render (X-Page-Count says how many there are); pdf holds them all"}
    responses:
      200: {description: "The file; or with link=true on S3, {url, expires_in}"}
      404: {description: No such score or version}
    """
    score_id = request.path_params["score_id"]
    record = await service(request).get(score_id)
    version, state = await service(request).version(score_id, request.path_params["version_id"])
    fmt = export_format(request)
    if wants_link(request):
        tag = "version-" + version.id + engraving_tag(request, fmt)
        link = await export_link(
            request, score_id, tag, state, fmt, record.title, suffix="-" + version.id
        )
        if link is not None:
            return link
    return await export_response(request, state, fmt, record.title, suffix="-" + version.id)


async def restore_version(request: Request) -> Response:
    """
    summary: Restore a version (recorded as a new version; nothing is destroyed)
    description: >
      The score moves to a new epoch: connected clients are closed with code 4409 and must
      reload. The state before the restore is kept as a version too.
    responses:
      201: {description: The version recording the restore}
      404: {description: No such score or version}
    """
    version = await service(request).restore(
        request.path_params["score_id"], request.path_params["version_id"], author=_actor(request)
    )
    return JSONResponse(version_json(version), status_code=201)


routes = [
    Route("/api/scores/{score_id}/versions", list_versions, methods=["GET"], role="viewer"),
    Route("/api/scores/{score_id}/versions", create_version, methods=["POST"], role="editor"),
    Route(
        "/api/scores/{score_id}/versions/{version_id}", get_version, methods=["GET"], role="viewer"
    ),
    Route(
        "/api/scores/{score_id}/versions/{version_id}/export",
        export_version,
        methods=["GET"],
        role="viewer",
    ),
    Route(
        "/api/scores/{score_id}/versions/{version_id}/restore",
        restore_version,
        methods=["POST"],
        role="editor",
    ),
]
