"""The browser client: the built single-page app (``collab_server/webapp_dist``, made by
``npm --prefix web run build`` and shipped with the package) served at ``/``.

Hashed files under ``/assets/`` are immutable and cached for a year; a gzip copy made
at build time is sent to browsers that accept it. Every other GET that is not a server
path answers ``index.html`` (never cached), so client routes such as
``/scores/{id}`` survive a reload. Server paths (``/api``, ``/ws``, ``/docs``,
``/openapi.json``, ``/healthz``, ``/readyz``, ``/metrics``) are never answered here:
an unknown one stays a JSON 404. These routes come last in the app's route list.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from collab_server.security.routes import Route

DIST = Path(__file__).resolve().parent.parent / "webapp_dist"
RESERVED = ("/api", "/ws", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics")
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".html": "text/html",
}


def _reserved(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


def _inside(base: Path, relative: str) -> Path | None:
    """The file ``relative`` under ``base``, or None (missing, a directory, or outside)."""
    if not relative or "\x00" in relative:
        return None
    candidate = (base / relative).resolve()
    if base.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def _media_type(path: Path) -> str:
    return (
        TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def _file(request: Request, path: Path, cache: str) -> Response:
    headers = {
        "Cache-Control": cache,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    gz = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "").lower() and gz.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(gz, media_type=_media_type(path), headers=headers)
    return FileResponse(path, media_type=_media_type(path), headers=headers)


def _not_found(path: str) -> Response:
    return JSONResponse({"error": "not_found", "message": f"no such path: {path}"}, status_code=404)


async def asset(request: Request) -> Response:
    """A hashed build file: cached for a year."""
    found = _inside(DIST / "assets", request.path_params["path"])
    if found is None or found.suffix == ".gz":
        return _not_found(request.url.path)
    return _file(request, found, IMMUTABLE)


async def app_page(request: Request) -> Response:
    """The single-page app: a top-level build file, else index.html."""
    path = request.url.path
    if _reserved(path):
        return _not_found(path)
    index = DIST / "index.html"
    if not index.is_file():
        return PlainTextResponse(
            "The web client is not built: run `npm --prefix web ci && npm --prefix web run build`.",
            status_code=503,
        )
    found = _inside(DIST, path.lstrip("/"))
    if found is not None and found.suffix != ".gz" and found.name != "index.html":
        return _file(request, found, "public, max-age=3600")
    return FileResponse(
        index,
        media_type="text/html",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


class AppRoute(Route):
    """A route that never matches a server path, whatever the method: an unknown
    ``POST /api/...`` stays the API's 404, never this route's 405."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or _reserved(scope.get("path", "")):
            return Match.NONE, {}
        return super().matches(scope)


routes = [
    AppRoute(
        "/assets/{path:path}",
        asset,
        methods=["GET", "HEAD"],
        include_in_schema=False,
        role="public",
    ),
    AppRoute(
        "/{path:path}", app_page, methods=["GET", "HEAD"], include_in_schema=False, role="public"
    ),
]
