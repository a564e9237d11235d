"""``orpheus mcp`` with the MCP SDK's own client: over streamable HTTP (the whole server
in the test's event loop) and over stdio (a child process on an embedded data folder).
An assistant lists the tools, reads measures, edits, and the edit is in the live score;
it shows as an agent in the room; a wrong token is refused; a viewer cannot write."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.applications import Starlette

from agents.mcp_server import McpTools
from collab_server.app import create_app
from collab_server.cli.mcp import ServerHost, with_mcp
from collab_server.settings import Settings
from persistence.accounts.base import User
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from tests.agents.chorale import write_chorale
from tests.collab_server.harness import run_uvicorn

REPO = Path(__file__).resolve().parents[3]
ADMIN_PASSWORD = "admin-password"


@dataclass
class Seeded:
    score_id: str
    editor_token: str  # ana owns the score
    viewer_token: str  # vic may only view it


async def seed(app: Starlette) -> Seeded:
    """Two users, a two-part score owned by ana (vic a viewer), an API token each."""
    auth = app.state.gate.auth
    for name in ("ana", "vic"):
        await auth.accounts.create_user(User(name, name, auth.hash_password("password-1")))
    doc = ScoreDoc()
    editor = ScoreEditor(doc)
    ids = editor.create_score(title="Chorale", parts=["Soprano", "Bass"], measures=2)
    for onset, pitch in enumerate(("C5", "D5", "E5", "F5")):
        editor.add_note(ids["measures"][0], ids["parts"][0], onset, 1, pitch)
    record = await app.state.scores.create(title="Chorale", owner="ana", score=doc)
    await auth.accounts.set_role(record.id, "vic", "viewer", granted_by="ana")
    _, ana = await auth.create_api_token("ana", "mcp")
    _, vic = await auth.create_api_token("vic", "mcp")
    return Seeded(record.id, ana, vic)


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def bass_of_m2(doc: ScoreDoc) -> list[tuple[str, tuple[str, ...]]]:
    data = doc.read()
    cell = data.notes_by_cell().get((data.measures[1].id, data.parts[1].id), [])
    return [(str(n.onset), n.pitches) for n in cell]


WRITE_M2 = {
    "measure": "2",
    "part": "Bass",
    "notes": [
        {"onset": "0", "duration": "h", "pitches": ["C3"]},
        {"onset": "2", "duration": "h", "pitches": ["G2"]},
    ],
}


@asynccontextmanager
async def http_server(
    tmp_path: Path, idle_seconds: float = 300.0, **options: Any
) -> AsyncIterator[tuple[Starlette, McpTools, str]]:
    settings = Settings(
        data_dir=tmp_path,
        database_url="memory://",
        admin_password=ADMIN_PASSWORD,
        log_json=False,
        **options,
    )
    app = create_app(settings)
    tools = McpTools(ServerHost(app), idle_seconds=idle_seconds)
    async with run_uvicorn(with_mcp(app, tools, host="127.0.0.1"), lifespan="on") as port:
        yield app, tools, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[ClientSession]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with (
        http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_http_assistant_reads_and_edits_the_live_score(tmp_path: Path) -> None:
    async with http_server(tmp_path) as (app, tools, url):
        seeded = await seed(app)
        async with http_client(url, seeded.editor_token) as session:
            listed = await session.list_tools()
            names = {tool.name for tool in listed.tools}
            assert {
                "list_scores",
                "read_measures",
                "analyse",
                "write_measure",
                "add_note",
                "transpose",
                "harmonise",
            } <= names
            write_tool = next(t for t in listed.tools if t.name == "write_measure")
            assert write_tool.input_schema["required"][0] == "score"

            scores = await session.call_tool("list_scores", {})
            assert f"{seeded.score_id}: Chorale" in text(scores)

            read = await session.call_tool(
                "read_measures", {"score": seeded.score_id, "measures": ["1"]}
            )
            assert not read.is_error
            assert "m1 [4/4] P1 v1: @0 C5 q; @1 D5 q; @2 E5 q; @3 F5 q" in text(read)

            room = app.state.rooms.loaded(seeded.score_id)
            states = [json.loads(e.state) for e in room.local_presence()]
            agent = [s for s in states if s.get("user", {}).get("kind") == "agent"]
            assert agent and agent[0]["status"] == "reading"
            assert agent[0]["user"]["name"].endswith("(ana)")

            wrote = await session.call_tool("write_measure", {"score": seeded.score_id, **WRITE_M2})
            assert text(wrote) == "ok: wrote 2 notes" and not wrote.is_error
            assert bass_of_m2(room.score) == [("0", ("C3",)), ("2", ("G2",))]

            bad = await session.call_tool(
                "add_note",
                {
                    "score": seeded.score_id,
                    "measure": "7",
                    "part": "P1",
                    "onset": "0",
                    "duration": "q",
                    "pitches": ["C4"],
                },
            )
            assert bad.is_error and "no measure 7" in text(bad)
            missing = await session.call_tool("read_measures", {"score": "s_nothing"})
            assert missing.is_error and "no score 's_nothing'" in text(missing)
        await tools.close()
        assert not [
            e
            for e in room.local_presence()
            if json.loads(e.state).get("user", {}).get("kind") == "agent"
        ]


async def test_http_refuses_wrong_tokens_and_viewer_writes(tmp_path: Path) -> None:
    async with http_server(tmp_path) as (app, _, url):
        seeded = await seed(app)
        async with httpx.AsyncClient() as http:
            for headers in ({}, {"Authorization": "Bearer orp_wrong"}):
                response = await http.post(
                    f"{url}/mcp",
                    headers=headers,
                    json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                )
                assert response.status_code == 401
                assert response.json()["error"] == "unauthorized"
        with pytest.raises(BaseException):  # noqa: B017  (the SDK raises its own group)
            async with http_client(url, "orp_wrong"):
                pass
        async with http_client(url, seeded.viewer_token) as session:
            read = await session.call_tool("read_measures", {"score": seeded.score_id})
            assert not read.is_error and "@0 C5 q" in text(read)
            wrote = await session.call_tool("write_measure", {"score": seeded.score_id, **WRITE_M2})
            assert wrote.is_error and "cannot change the score" in text(wrote)
        room = app.state.rooms.loaded(seeded.score_id)
        assert bass_of_m2(room.score) == []


async def test_http_requests_count_against_the_users_rate(tmp_path: Path) -> None:
    async with http_server(tmp_path, rest_rate_per_user=0.001, rest_burst_per_user=3) as (
        app,
        _,
        url,
    ):
        seeded = await seed(app)
        statuses = []
        async with httpx.AsyncClient() as http:
            for _ in range(5):
                response = await http.post(
                    f"{url}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={
                        "Authorization": f"Bearer {seeded.editor_token}",
                        "Accept": "application/json, text/event-stream",
                    },
                )
                statuses.append(response.status_code)
            assert statuses[:3].count(429) == 0 and statuses[3:] == [429, 429]
            assert response.json()["error"] == "rate_limited"
            assert int(response.headers["retry-after"]) >= 1


def agents_in(room: Any) -> list[dict[str, Any]]:
    states = [json.loads(e.state) for e in room.local_presence()]
    return [s for s in states if s.get("user", {}).get("kind") == "agent"]


async def test_an_idle_assistant_leaves_the_room(tmp_path: Path) -> None:
    async with http_server(tmp_path, idle_seconds=0.3) as (app, tools, url):
        seeded = await seed(app)
        async with http_client(url, seeded.editor_token) as session:
            await session.call_tool("read_measures", {"score": seeded.score_id})
            room = app.state.rooms.loaded(seeded.score_id)
            assert len(agents_in(room)) == 1 and len(tools.joined) == 1
            for _ in range(40):
                await asyncio.sleep(0.05)
                if not tools.joined:
                    break
            assert tools.joined == [] and agents_in(room) == []
            again = await session.call_tool("read_measures", {"score": seeded.score_id})
            assert not again.is_error and len(agents_in(room)) == 1  # joins again


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, admin_password=ADMIN_PASSWORD, log_json=False)


async def seed_embedded(data_dir: Path) -> Seeded:
    app = create_app(embedded_settings(data_dir))
    async with app.router.lifespan_context(app):
        return await seed(app)


def child(data_dir: Path, token: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "collab_server.cli", "mcp"],
        cwd=str(REPO),
        env={
            "ORPHEUS_DATA_DIR": str(data_dir),
            "ORPHEUS_MCP_TOKEN": token,
            "ORPHEUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ORPHEUS_LOG_JSON": "false",
            "PYTHONPATH": str(REPO),
            "PATH": os.environ.get("PATH", ""),
        },
    )


@pytest.mark.slow
async def test_stdio_child_process_edits_the_stored_score(tmp_path: Path) -> None:
    seeded = await seed_embedded(tmp_path)
    with open(tmp_path / "stderr.log", "w") as errlog:
        async with (
            stdio_client(child(tmp_path, seeded.editor_token), errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert {"read_measures", "write_measure", "analyse"} <= names
            reading = await session.call_tool("read_measures", {"score": seeded.score_id})
            assert "m1 [4/4] P1 v1: @0 C5 q" in text(reading)
            wrote = await session.call_tool("write_measure", {"score": seeded.score_id, **WRITE_M2})
            assert text(wrote) == "ok: wrote 2 notes"
            again = await session.call_tool(
                "read_measures", {"score": seeded.score_id, "measures": ["2"]}
            )
            assert "m2 P2 v1: @0 C3 h; @2 G2 h" in text(again)
    app = create_app(embedded_settings(tmp_path))
    async with app.router.lifespan_context(app):
        doc = await app.state.scores.document(seeded.score_id)
        assert bass_of_m2(doc) == [("0", ("C3",)), ("2", ("G2",))]


@pytest.mark.slow
async def test_stdio_refuses_a_wrong_token(tmp_path: Path) -> None:
    await seed_embedded(tmp_path)
    log = tmp_path / "stderr.log"
    with open(log, "w") as errlog, pytest.raises(BaseException):  # noqa: B017
        async with (
            stdio_client(child(tmp_path, "orp_wrong"), errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=20) as session,
        ):
            await session.initialize()
    assert "token refused" in log.read_text()


async def test_assistant_asks_the_scores_agents(tmp_path: Path) -> None:
    async with http_server(tmp_path) as (app, _, url):
        seeded = await seed(app)
        chorale = ScoreDoc()
        write_chorale(ScoreEditor(chorale), bars=2)  # SATB, the melody in the soprano
        record = await app.state.scores.create(title="SATB", owner="ana", score=chorale)
        await app.state.gate.auth.accounts.set_role(record.id, "vic", "viewer")
        seeded.score_id = record.id
        async with http_client(url, seeded.editor_token) as session:
            asked = await session.call_tool(
                "ask_agent",
                {
                    "score": seeded.score_id,
                    "agent": "aureon",
                    "instruction": "harmonise bars 1-2",
                    "measures": ["1-2"],
                },
            )
            task = json.loads(text(asked))
            assert not asked.is_error, task
            assert (task["status"], task["source"], task["requested_by"]) == ("done", "mcp", "ana")
            room = app.state.rooms.loaded(seeded.score_id)
            assert set(task["suggestions"]) <= set(room.score.raw_suggestions())
            assert task["suggestions"] and task["summary"]
            again = await session.call_tool(
                "agent_task", {"score": seeded.score_id, "task": task["id"]}
            )
            assert json.loads(text(again))["id"] == task["id"]
            unknown = await session.call_tool(
                "ask_agent", {"score": seeded.score_id, "agent": "mozart", "instruction": "write"}
            )
            assert unknown.is_error and "no agent named 'mozart'" in text(unknown)
        async with http_client(url, seeded.viewer_token) as session:
            refused = await session.call_tool(
                "ask_agent",
                {"score": seeded.score_id, "agent": "aureon", "instruction": "harmonise"},
            )
            assert refused.is_error and "needs the editor role" in text(refused)
            talk = await session.call_tool(
                "ask_agent",
                {
                    "score": seeded.score_id,
                    "agent": "mia",
                    "instruction": "what key?",
                    "wait": False,
                },
            )
            assert json.loads(text(talk))["status"] in ("queued", "running", "done")
