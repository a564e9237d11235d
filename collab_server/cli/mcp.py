"""``orpheus mcp``: the agent tools over the Model Context Protocol (docs/agents.md).

The command runs the Orpheus app in-process (its rooms, storage and fan-out, as
``orpheus serve`` would) and lets MCP clients act in its rooms as participants through
:class:`~collab_server.participants.ParticipantHub`, with the role of the user whose API
token they hold:

- ``--transport stdio``: for an assistant that starts the command itself; the token comes
  from ``--token`` or ``ORPHEUS_MCP_TOKEN`` and is checked once, before serving.
- ``--transport http``: the whole server plus streamable HTTP at ``/mcp``; every request
  carries ``Authorization: Bearer <token>``. In the embedded default run this instead of
  ``orpheus serve``; with Redis fan-out it can also run beside other instances.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from collab_server.errors import Forbidden, OrpheusError, Unauthenticated
from collab_server.settings import Settings
from persistence.accounts.base import Role
from persistence.errors import NotFound
from score_model.origin import Origin

if TYPE_CHECKING:  # the MCP SDK is imported when the command runs, not by every command
    from agents.mcp_server import Caller, McpTools
    from agents.session import ScoreSession


class ServerHost:
    """:class:`~agents.mcp_server.McpHost` over a started Orpheus app's state."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def authenticate(self, token: str) -> Caller:
        """The token's caller, counted against its per-user request rate (the REST one)."""
        from agents.mcp_server import Caller, Refused, Throttled

        gate = self.app.state.gate
        if gate.auth is None:  # authentication is off: everyone acts as the server
            return Caller("server")
        try:
            identity = await gate.auth.verify(token)
        except Unauthenticated as exc:
            raise Refused(f"token refused: {exc.message}") from None
        if gate.user_limiter is not None:
            wait = await gate.user_limiter.hit("user:" + identity.principal)
            if wait > 0:
                raise Throttled(f"too many requests: retry in {wait:.1f} s", wait)
        return Caller(identity.principal, identity)

    async def join(self, score_id: str, caller: Caller, name: str) -> ScoreSession:
        from agents.mcp_server import MCP_COLOR, Refused
        from collab_server.participants import ParticipantHub, Profile

        hub = ParticipantHub(self.app.state.rooms, self.app.state.gate.access)
        origin = Origin.agent(f"mcp:{caller.principal}:{secrets.token_hex(3)}")
        try:
            participant = await hub.join(
                score_id,
                Profile(name, MCP_COLOR, "agent"),
                origin,
                acting_for=caller.identity,
                role=None if caller.identity else "editor",
            )
        except NotFound:
            raise Refused(f"no score {score_id!r}") from None
        except Forbidden as exc:
            raise Refused(f"score {score_id!r}: {exc.message}") from None
        await participant.set_presence({"status": "reading", "agent": "mcp", "focus": None})
        return participant

    async def scores(self, caller: Caller) -> list[dict[str, Any]]:
        if caller.identity is None:
            records = await self.app.state.backend.storage.catalog.list_scores(limit=100)
        else:
            records = await self.app.state.gate.access.visible(caller.identity, limit=100, offset=0)
        return [{"id": r.id, "title": r.title} for r in records]

    async def ask_agent(
        self,
        score_id: str,
        caller: Caller,
        agent: str,
        instruction: str,
        measures: list[str] | None,
        mode: str,
    ) -> dict[str, Any]:
        from agents.mcp_server import Refused

        try:
            role = await self._role(score_id, caller)
            record = await self.app.state.agents.start(
                score_id,
                agent=agent,
                instruction=instruction,
                role=role,
                user=caller.principal,
                measures=measures,
                mode=mode,
                source="mcp",
            )
        except OrpheusError as exc:
            raise Refused(exc.message) from None
        return dict(record.to_json())

    async def agent_task(self, score_id: str, caller: Caller, task_id: str) -> dict[str, Any]:
        from agents.mcp_server import Refused

        try:
            await self._role(score_id, caller)
            record = await self.app.state.agents.get(score_id, task_id)
        except OrpheusError as exc:
            raise Refused(exc.message) from None
        return dict(record.to_json())

    async def _role(self, score_id: str, caller: Caller) -> Role:
        from agents.mcp_server import Refused

        if caller.identity is None:
            return "editor"
        try:
            role: Role = await self.app.state.gate.access.require(
                score_id, caller.identity, "viewer"
            )
        except NotFound:
            raise Refused(f"no score {score_id!r}") from None
        return role


def with_mcp(app: Starlette, tools: McpTools, *, host: str) -> Starlette:
    """``app`` with the MCP endpoint at ``/mcp``; both lifespans run."""
    endpoint = tools.http_app(host=host)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app), endpoint.router.lifespan_context(endpoint):
            try:
                yield
            finally:
                await tools.close()

    return Starlette(
        routes=[Route("/mcp", endpoint=endpoint), Mount("/", app=app)], lifespan=lifespan
    )


async def serve_stdio(app: Starlette, tools: McpTools, token: str) -> None:
    from agents.mcp_server import run_stdio

    async with app.router.lifespan_context(app):
        caller = await tools.host.authenticate(token)
        await run_stdio(tools, caller)


@click.command("mcp")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for an assistant that starts the command; "
    "http to serve /mcp beside the whole server.",
)
@click.option(
    "--token",
    envvar="ORPHEUS_MCP_TOKEN",
    default=None,
    help="API token to act with (stdio; `orpheus token create USER`).",
)
@click.option("--host", default=None, help="Address to listen on (http; default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (http; default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the embedded SQLite database and blobs (default ./data).",
)
def mcp(
    transport: str, token: str | None, host: str | None, port: int | None, data_dir: Path | None
) -> None:
    """Serve the agent tools over the Model Context Protocol."""
    from agents.mcp_server import McpTools, Refused
    from collab_server.app import create_app
    from collab_server.logs import configure_logging
    from collab_server.participants.agents import agent_config

    settings = Settings.from_env(os.environ, host=host, port=port, data_dir=data_dir)
    configure_logging(settings.log_level, json=settings.log_json)  # on stderr
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, announce=lambda text: click.echo(text, err=True))
    tools = McpTools(ServerHost(app), config=agent_config(settings))
    if transport == "stdio":
        if not token:
            raise click.ClickException("an API token is needed: --token or ORPHEUS_MCP_TOKEN")
        try:
            asyncio.run(serve_stdio(app, tools, token))
        except Refused as exc:
            click.echo(f"orpheus mcp: {exc}", err=True)
            sys.exit(1)
        return
    import uvicorn

    from collab_server.sync.ws_protocol import WS_PROTOCOL

    uvicorn.run(
        with_mcp(app, tools, host=settings.host),
        host=settings.host,
        port=settings.port,
        ws=WS_PROTOCOL,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        ws_max_size=settings.max_message_bytes,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
