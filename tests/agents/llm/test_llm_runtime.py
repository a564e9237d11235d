"""The LLM brain under the real task runtime, in a real room as a participant: its tool
calls become draft suggestions checked by the quality gate, each edit of a cell builds
on the task's own proposal, and the model's text is the agent's chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from agents.brains.base import TaskRequest
from agents.brains.llm import LlmBrain
from agents.config import AgentConfig
from agents.personas import load_personas
from agents.runtime import run_task
from agents.tasks import MemoryTaskBoard, TaskRecord
from collab_server.participants import ParticipantHub, Profile
from collab_server.sync.rooms import RoomManager
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.suggestions import decode_suggestions
from tests.agents.chorale import write_chorale
from tests.agents.llm.openai_server import API_KEY, Call, Reply, ScriptedModel, serve_model
from tests.collab_server.harness import Backend, make_backend

AUREON = load_personas()["aureon"]


@dataclass
class World:
    backend: Backend
    rooms: RoomManager
    ids: dict[str, list[str]]
    model: ScriptedModel
    config: AgentConfig


@pytest.fixture
async def world() -> AsyncIterator[World]:
    backend = await make_backend()
    score = ScoreDoc()
    ids = write_chorale(ScoreEditor(score, Origin.server("test")), bars=2)
    await backend.documents.create("s1", "Chorale", None, score.encode_state())
    rooms = RoomManager(backend.hooks, idle_timeout=5)
    model = ScriptedModel([])
    async with serve_model(model) as url:
        yield World(
            backend,
            rooms,
            ids,
            model,
            AgentConfig(llm_base_url=url, llm_model="scripted-1", llm_api_key=API_KEY),
        )
    await rooms.close()
    await backend.documents.close()


async def test_tool_calls_become_suggestions_through_the_runtime(world: World) -> None:
    # The bass under m1 (G4 A4 B4 G4 in the soprano): G2, then D3 added in a second call.
    world.model.replies = [
        Reply("Reading bar 1.", [Call("read_measures", {"measures": ["1"]})]),
        Reply(
            calls=[
                Call(
                    "add_note",
                    {
                        "measure": "1",
                        "part": "Bass",
                        "onset": "0",
                        "duration": "h",
                        "pitches": ["G2"],
                    },
                )
            ]
        ),
        Reply(
            calls=[
                Call(
                    "add_note",
                    {
                        "measure": "1",
                        "part": "Bass",
                        "onset": "2",
                        "duration": "h",
                        "pitches": ["D3"],
                    },
                )
            ]
        ),
        Reply("A tonic-dominant bass for bar 1."),
    ]
    record = TaskRecord("s1", "aureon", "a bass for bar 1", "suggest")
    session = await ParticipantHub(world.rooms).join(
        "s1", Profile("Aureon", AUREON.color), Origin.agent(f"aureon:{record.id}")
    )
    request = TaskRequest(AUREON, record.instruction, None, None, "suggest")
    board = MemoryTaskBoard()
    finished = await run_task(
        session,
        request,
        LlmBrain(world.config),
        record=record,
        board=board,
        config=world.config,
    )
    await session.leave()
    streamed = [e.data["text"] for e in await board.events(record.id) if e.type == "text"]
    # the model's words reach the task's progress as they stream, before the summary
    assert "".join(streamed) == "Reading bar 1.A tonic-dominant bass for bar 1."

    assert finished.record.status == "done", finished.record.error
    assert finished.record.summary == "A tonic-dominant bass for bar 1."
    doc = session.doc
    proposed, _ = decode_suggestions(doc.raw_suggestions())
    assert [s.id for s in proposed.values()] == finished.record.suggestions
    (suggestion,) = proposed.values()
    assert suggestion.status == "pending"
    assert (suggestion.measure, suggestion.part) == (
        world.ids["measures"][0],
        world.ids["parts"][3],
    )
    assert [(n["onset"], n["pitches"]) for n in suggestion.notes] == [
        ("0", ["G2"]),
        ("2", ["D3"]),
    ]  # the second edit built on the first
    bass = [n for n in doc.read().notes.values() if n.part == world.ids["parts"][3]]
    assert bass == []  # a suggestion: the score itself is unchanged until accepted
    chat = [m["text"] for m in doc.raw_chat() if m.get("author") == "Aureon"]
    assert chat == ["Reading bar 1.", "A tonic-dominant bass for bar 1."]
    third = world.model.requests[2]["messages"]
    assert third[-1] == {"role": "tool", "tool_call_id": "call_2_0", "content": "ok: wrote 1 notes"}
