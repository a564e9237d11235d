"""The browser client's routes (collab_server/api/webapp.py): the built app at ``/``,
client routes answered with index.html, immutable hashed assets (gzip when accepted),
and server paths never shadowed."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from collab_server.api import webapp

pytestmark = pytest.mark.skipif(
    not (webapp.DIST / "index.html").is_file(), reason="web client not built"
)


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=webapp.routes))


def test_index_and_client_routes(client: TestClient) -> None:
    for path in ("/", "/scores/s_abc", "/some/client/route"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert '<div id="root">' in response.text


def test_assets_are_immutable_and_gzipped(client: TestClient) -> None:
    wasm = next((webapp.DIST / "assets").glob("verovio-*.wasm"))
    plain = client.get(f"/assets/{wasm.name}", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/wasm"
    assert plain.headers["cache-control"] == webapp.IMMUTABLE
    assert plain.content[:4] == b"\0asm"
    gzipped = client.get(f"/assets/{wasm.name}", headers={"accept-encoding": "gzip"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzipped.content == plain.content  # the client decoded it
    assert client.get("/assets/nothing-here.js").status_code == 404
    assert client.get(f"/assets/{wasm.name}.gz").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/scores",
        "/api/nope",
        "/ws/scores/x",
        "/docs",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/docs/static/x.js",
    ],
)
def test_server_paths_are_never_answered(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404  # not this route's 405
