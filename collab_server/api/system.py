"""REST: health, readiness, Prometheus metrics, the OpenAPI description and its docs page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles

from collab_server import __version__
from collab_server.security.routes import Mount, Route

schemas = SchemaGenerator(
    {
        "openapi": "3.0.3",
        "info": {
            "title": "Orpheus",
            "version": __version__,
            "description": "Real-time collaborative score server. Live editing is over the "
            "y-websocket protocol at /ws/scores/{score_id}.",
        },
    }
)


async def health(request: Request) -> Response:
    """
    summary: Liveness (the process serves requests)
    responses:
      200: {description: Alive}
    """
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """
    summary: Readiness (storage reachable, no store backlog failing)
    responses:
      200: {description: Ready}
      503: {description: Not ready, with the failing checks}
    """
    checks = await request.app.state.readiness()
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


async def metrics(request: Request) -> Response:
    """
    summary: Prometheus metrics
    responses:
      200: {description: Metrics in the Prometheus text format}
    """
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


async def openapi(request: Request) -> Response:
    """
    summary: This OpenAPI description
    responses:
      200: {description: OpenAPI 3 JSON}
    """
    return JSONResponse(describe(request.app.routes))


def describe(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI description of ``routes``: the handlers' docstrings, plus the path
    parameters (``{score_id}``...) that the docstrings leave implicit."""
    spec = schemas.get_schema(routes=routes)
    for path, operations in spec.get("paths", {}).items():
        names = re.findall(r"{(\w+)}", path)
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", [])}
            operation.setdefault("parameters", []).extend(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in names
                if name not in declared
            )
    return spec


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Orpheus API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>"""


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


routes = [
    Route("/healthz", health, methods=["GET"], role="public"),
    Route("/readyz", ready, methods=["GET"], role="public"),
    Route("/metrics", metrics, methods=["GET"], include_in_schema=False, role="public"),
    Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False, role="public"),
    Route("/docs", docs, methods=["GET"], include_in_schema=False, role="public"),
    Mount(
        "/docs/static",
        StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)),
        name="docs-static",
        role="public",
    ),
]
