"""A full Orpheus app (lifespan, auth, limits) under uvicorn on a free loopback port, in
the test's event loop, with helpers to make accounts and log in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from collab_server.app import create_app
from collab_server.settings import Settings
from tests.collab_server.harness import run_uvicorn

ADMIN_PASSWORD = "admin-password"


@dataclass
class Live:
    app: Starlette
    http: httpx.AsyncClient
    ws_base: str  # ws://127.0.0.1:PORT/ws/scores

    async def user(self, name: str, password: str = "password-1") -> str:
        """Create ``name`` (as admin) and return a fresh access token of theirs."""
        admin = await self.login("admin", ADMIN_PASSWORD)
        created = await self.http.post(
            "/api/auth/register",
            headers=bearer(admin),
            json={"username": name, "password": password},
        )
        assert created.status_code == 201, created.text
        return await self.login(name, password)

    async def login(self, name: str, password: str) -> str:
        response = await self.http.post(
            "/api/auth/login", json={"username": name, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def score(self, token: str, title: str = "s") -> str:
        response = await self.http.post("/api/scores", json={"title": title}, headers=bearer(token))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def ws(self, score_id: str, token: str | None) -> str:
        return f"{self.ws_base}/{score_id}" + (f"?token={token}" if token else "")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[Live]:
    app = create_app(settings)
    async with (
        run_uvicorn(app, lifespan="on", ws_ping_interval=None) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        yield Live(app, http, f"ws://127.0.0.1:{port}/ws/scores")


def settings_for(tmp_path: object, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": "memory://",
        "admin_password": ADMIN_PASSWORD,
        "log_json": False,
        "login_rate_per_ip": 0,
    }
    options.update(overrides)
    return Settings(**options)  # type: ignore[arg-type]
