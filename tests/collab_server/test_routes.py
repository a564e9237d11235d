"""Every route declares the role it needs, and the gate enforces the declared role."""

from __future__ import annotations

from pathlib import Path

from starlette import routing
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.app import create_app
from collab_server.security.routes import NEEDS, Route, declared_role
from tests.collab_server.security_helpers import bearer, live_server, settings_for


def _walk(routes: list[routing.BaseRoute]) -> list[routing.BaseRoute]:
    found: list[routing.BaseRoute] = []
    for route in routes:
        found.append(route)
        if isinstance(route, routing.Mount) and declared_role(route) is None:
            found.extend(_walk(route.routes))
    return found


def test_every_route_declares_a_role(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    routes = _walk(app.routes)
    assert any(isinstance(r, routing.WebSocketRoute) for r in routes)
    missing = [getattr(r, "path", repr(r)) for r in routes if declared_role(r) is None]
    assert not missing, (
        f"declare role=... on these routes (collab_server.security.routes): {missing}"
    )
    assert {declared_role(r) for r in routes} <= set(NEEDS)


async def _secret(request: Request) -> Response:
    return JSONResponse({"secret": request.path_params["score_id"]})


async def test_the_gate_enforces_the_declared_role_and_refuses_undeclared_routes(
    tmp_path: Path,
) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        live.app.router.routes[:0] = [
            Route("/api/scores/{score_id}/secret", _secret, methods=["GET"], role="owner"),
            routing.Route("/api/scores/{score_id}/undeclared", _secret, methods=["GET"]),
        ]
        ann, bob = await live.user("ann"), await live.user("bob")
        score = await live.score(ann)
        await live.http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "editor"}
        )
        secret = f"/api/scores/{score}/secret"
        assert (await live.http.get(secret, headers=bearer(ann))).json() == {"secret": score}
        refused = await live.http.get(secret, headers=bearer(bob))
        assert refused.status_code == 403 and "owner" in refused.json()["message"]
        assert (await live.http.get(secret)).status_code == 401
        # a route without a declaration fails closed, even for the owner
        undeclared = f"/api/scores/{score}/undeclared"
        assert (await live.http.get(undeclared, headers=bearer(ann))).status_code == 403


async def test_public_pages_never_look_at_a_token(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        for path in ("/healthz", "/docs", "/openapi.json"):
            page = await live.http.get(path, params={"token": "garbage"}, headers=bearer("garbage"))
            assert page.status_code == 200, path
        # under /api a sent token is still checked, even on a public route
        login = await live.http.post(
            "/api/auth/login",
            headers=bearer("garbage"),
            json={"username": "admin", "password": "x"},
        )
        assert login.status_code == 401 and "token" in login.text.lower()
