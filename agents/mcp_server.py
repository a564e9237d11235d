"""The agent tools over the Model Context Protocol, so an outside assistant (Claude
Desktop, an IDE, a script with the ``mcp`` SDK) can work in a live score.

Every tool of :mod:`agents.tools` is offered with one more argument, ``score`` (a score
id), plus ``list_scores``. The first call on a score joins its room as a participant
through the :class:`McpHost` (the server's participant API): people see the assistant's
presence (``kind: "agent"``, status and focus) while it works, and its edits are
transactions under its own origin, written directly (the assistant acts for the user
whose API token it holds, with that user's role on the score). A participant idle for
``idle_seconds`` leaves the room.

Transports: :func:`run_stdio` (the token given once, at start) and :meth:`McpTools.http_app`
(streamable HTTP; every request carries ``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from agents.brains.base import TaskRequest
from agents.config import AgentConfig
from agents.personas import ABILITIES, Persona
from agents.session import ScoreSession, SessionError
from agents.tools import Toolbox, default_toolbox
from agents.tools.context import DirectContext
from agents.tools.refs import ToolError, measure_ids
from agents.tools.toolbox import MEASURES, require

log = logging.getLogger(__name__)

SERVER_NAME = "orpheus"
IDLE_SECONDS = 300.0
MCP_COLOR = "#0d9488"
SCORE = {"type": "string", "description": "the score's id (see list_scores)"}
CALLER_KEY = "orpheus.mcp.caller"  # where the HTTP gate leaves the request's caller


class Refused(Exception):
    """A token the host does not accept, or a score the caller may not open."""

    status = 401


class Throttled(Refused):
    """The caller is over its request rate; ``retry_after`` seconds to wait."""

    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a principal (user id) and the host's own identity object."""

    principal: str
    identity: Any = None


class McpHost(Protocol):
    """What the MCP server needs from the score server."""

    async def authenticate(self, token: str) -> Caller:
        """The caller a token stands for (once per HTTP request: the host may count it
        against the caller's rate); :class:`Refused` for a bad token, :class:`Throttled`
        over the rate."""
        ...

    async def join(self, score_id: str, caller: Caller, name: str) -> ScoreSession:
        """Join a score's room as a participant named ``name`` acting for ``caller``."""
        ...

    async def scores(self, caller: Caller) -> list[dict[str, Any]]:
        """The scores the caller may open: ``{"id", "title"}``."""
        ...

    async def ask_agent(
        self,
        score_id: str,
        caller: Caller,
        agent: str,
        instruction: str,
        measures: list[str] | None,
        mode: str,
    ) -> dict[str, Any]:
        """Start an agent task (as ``@agent instruction`` would) for the caller; its
        record as JSON. :class:`Refused` for what the caller may not ask."""
        ...

    async def agent_task(self, score_id: str, caller: Caller, task_id: str) -> dict[str, Any]:
        """An agent task's record as JSON."""
        ...


class McpTools:
    """The MCP server: tools, the rooms joined, and the transports."""

    def __init__(
        self,
        host: McpHost,
        *,
        toolbox: Toolbox | None = None,
        config: AgentConfig | None = None,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.toolbox = toolbox or default_toolbox()
        self.config = config or AgentConfig()
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._sessions: dict[tuple[str, str, str], tuple[ScoreSession, float]] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    # --- tools -------------------------------------------------------------------------

    def tools(self) -> list[types.Tool]:
        listed = [
            types.Tool(
                name="list_scores",
                description="The scores you may open.",
                input_schema={"type": "object", "properties": {}},
            ),
            types.Tool(name="ask_agent", description=ASK_AGENT, input_schema=ASK_AGENT_SCHEMA),
            types.Tool(
                name="agent_task",
                description="An agent task's status, summary and suggestions.",
                input_schema=AGENT_TASK_SCHEMA,
            ),
        ]
        for tool in self.toolbox.tools.values():
            parameters = dict(tool.parameters)
            parameters["properties"] = {"score": SCORE, **parameters.get("properties", {})}
            parameters["required"] = ["score", *parameters.get("required", [])]
            listed.append(
                types.Tool(name=tool.name, description=tool.description, input_schema=parameters)
            )
        return listed

    async def call(
        self, caller: Caller, client: str, name: str, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        """Run one tool for ``caller``; mistakes come back as error results."""
        args = dict(arguments or {})
        if name == "list_scores":
            return _result(_lines(await self.host.scores(caller)))
        if name not in self.toolbox.tools and name not in ("ask_agent", "agent_task"):
            return _result(f"error: no tool {name!r}", error=True)
        score_id = args.pop("score", None)
        if not isinstance(score_id, str) or not score_id:
            return _result("error: missing argument: score (a score id)", error=True)
        try:
            session = await self._session(caller, client, score_id)
            if name == "ask_agent":
                return await self._ask(session, caller, args)
            if name == "agent_task":
                task = await self.host.agent_task(score_id, caller, str(args.get("task", "")))
                return _result(json.dumps(task))
        except (Refused, SessionError, ToolError) as exc:
            return _result(f"error: {exc}", error=True)
        persona = Persona(
            "mcp", client, MCP_COLOR, "An assistant connected over MCP.", "", ABILITIES, "analyse"
        )
        ctx = DirectContext(session, TaskRequest(persona, name, mode="direct"), config=self.config)
        outcome = await self.toolbox.call(ctx, name, args)
        return _result(outcome.text, error=outcome.error)

    async def _ask(
        self, session: ScoreSession, caller: Caller, args: dict[str, Any]
    ) -> types.CallToolResult:
        """Start an agent task; with ``wait`` (the default), until it ends."""
        require(args, "agent", "instruction")
        measures = measure_ids(session.doc.read(), args.get("measures"))
        task = await self.host.ask_agent(
            session.score_id,
            caller,
            str(args["agent"]),
            str(args["instruction"]),
            measures,
            str(args.get("mode") or "suggest"),
        )
        deadline = self._clock() + self.config.max_seconds + 5
        while (
            args.get("wait", True)
            and task.get("status") not in FINISHED
            and self._clock() < deadline
        ):
            await asyncio.sleep(0.1)
            task = await self.host.agent_task(session.score_id, caller, task["id"])
        return _result(json.dumps(task), error=task.get("status") == "failed")

    async def _session(self, caller: Caller, client: str, score_id: str) -> ScoreSession:
        key = (caller.principal, client, score_id)
        async with self._lock:
            await self._leave_idle()
            found = self._sessions.get(key)
            session = (
                found[0]
                if found
                else await self.host.join(score_id, caller, f"{client} ({caller.principal})")
            )
            self._sessions[key] = (session, self._clock())
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.get_running_loop().create_task(self._reap())
        return session

    async def _reap(self) -> None:
        """Leave the rooms of idle assistants (their presence goes with them)."""
        while self._sessions:
            await asyncio.sleep(max(0.05, self.idle_seconds / 4))
            async with self._lock:
                await self._leave_idle()

    async def _leave_idle(self) -> None:
        now = self._clock()
        for key, (session, used) in list(self._sessions.items()):
            if now - used > self.idle_seconds:
                del self._sessions[key]
                with contextlib.suppress(Exception):
                    await session.leave()

    async def close(self) -> None:
        """Leave every room."""
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._lock:
            sessions = [s for s, _ in self._sessions.values()]
            self._sessions.clear()
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.leave()

    @property
    def joined(self) -> list[tuple[str, str, str]]:
        return list(self._sessions)

    # --- the MCP server ----------------------------------------------------------------

    def server(self, caller_of: Callable[[ServerRequestContext[Any, Any]], Any]) -> Server[Any]:
        """An MCP server; ``caller_of(ctx)`` gives the caller of a request (awaitable)."""

        async def list_tools(
            ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return types.ListToolsResult(tools=self.tools())

        async def call_tool(
            ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            try:
                caller = await caller_of(ctx)
            except Refused as exc:
                return _result(f"error: {exc}", error=True)
            return await self.call(caller, _client_name(ctx), params.name, params.arguments)

        return Server(
            SERVER_NAME, instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool
        )

    def http_app(self, *, path: str = "/mcp", host: str = "127.0.0.1") -> Starlette:
        """The streamable-HTTP app at ``path``: a request without a token the host
        accepts gets 401. Its lifespan runs the MCP session manager; ``host`` is the
        address served (loopback turns on the SDK's DNS-rebinding protection)."""

        async def caller_of(ctx: ServerRequestContext[Any, Any]) -> Caller:
            scope = getattr(ctx.request, "scope", None) or {}
            caller = scope.get(CALLER_KEY)
            if isinstance(caller, Caller):  # the gate checked this request's token
                return caller
            headers = getattr(ctx.request, "headers", None)
            token = _bearer(headers.get("authorization") if headers is not None else None)
            if token is None:
                raise Refused("an API token is needed")
            return await self.host.authenticate(token)

        inner = self.server(caller_of).streamable_http_app(streamable_http_path=path, host=host)
        return Starlette(
            routes=inner.routes,
            middleware=[Middleware(BearerGate, host=self.host)],
            lifespan=inner.router.lifespan_context,
        )


async def run_stdio(tools: McpTools, caller: Caller) -> None:
    """Serve ``tools`` for ``caller`` over standard input and output until it closes."""

    async def caller_of(ctx: ServerRequestContext[Any, Any]) -> Caller:
        return caller

    server = tools.server(caller_of)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await tools.close()


class BearerGate:
    """Refuse HTTP requests whose bearer token the host does not accept (401) or whose
    caller is over its rate (429); the caller of an accepted one is put in the scope."""

    def __init__(self, app: ASGIApp, host: McpHost) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in scope.get("headers", [])
            }
            token = _bearer(headers.get("authorization"))
            try:
                if token is None:
                    raise Refused("an API token is needed: Authorization: Bearer <token>")
                scope[CALLER_KEY] = await self.host.authenticate(token)
            except Refused as exc:
                await _refuse(send, exc)
                return
        await self.app(scope, receive, send)


FINISHED = frozenset({"done", "failed", "cancelled", "undone"})
ASK_AGENT = (
    "Ask one of the score's agents to work, as '@agent instruction' in the chat would: "
    "aureon (arranger: harmonise, revoice, transpose), jeremyai (composer: continue, "
    "bass, countermelody), mia (analyst), miette (teacher). Writing tasks leave "
    "suggestions people accept or reject (mode 'suggest'), checked by the quality gate. "
    "Waits until the task ends unless wait is false; returns the task's record."
)
ASK_AGENT_SCHEMA = {
    "type": "object",
    "properties": {
        "score": SCORE,
        "agent": {"type": "string"},
        "instruction": {"type": "string"},
        "measures": MEASURES,
        "mode": {"type": "string", "enum": ["suggest", "direct"]},
        "wait": {"type": "boolean"},
    },
    "required": ["score", "agent", "instruction"],
}
AGENT_TASK_SCHEMA = {
    "type": "object",
    "properties": {"score": SCORE, "task": {"type": "string"}},
    "required": ["score", "task"],
}

INSTRUCTIONS = (
    "Orpheus scores are shared live with people. Call list_scores, then read_measures "
    "before you change anything. Name measures by number ('m3') and parts as 'P1' or by "
    "name; onsets and durations are in quarter notes ('0', '3/2') or names (w h q e s). "
    "Your edits appear at once in everyone's score, attributed to you."
)


def _bearer(value: str | None) -> str | None:
    if not value or not value.lower().startswith("bearer "):
        return None
    return value[7:].strip() or None


async def _refuse(send: Send, exc: Refused) -> None:
    throttled = isinstance(exc, Throttled)
    body = json.dumps(
        {"error": "rate_limited" if throttled else "unauthorized", "message": str(exc)}
    ).encode()
    headers = [(b"content-type", b"application/json")]
    if isinstance(exc, Throttled):
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
    else:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client_name(ctx: ServerRequestContext[Any, Any]) -> str:
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else ""
    return (name or "assistant")[:40]


def _result(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


def _lines(scores: list[dict[str, Any]]) -> str:
    return "\n".join(f"{s['id']}: {s.get('title') or '(untitled)'}" for s in scores) or (
        "no scores"
    )
