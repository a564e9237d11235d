"""The LLM brain against a scripted OpenAI-compatible server over real HTTP, through the
real ``openai`` SDK: streamed text, tool calls assembled from deltas, the token budget,
cancellation and conversation memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from agents.brains.llm import LlmBrain, LlmError
from agents.config import AgentConfig
from persistence.conversations.base import Message
from score_model.document import ScoreDoc
from tests.agents.llm.conftest import cell, make_context
from tests.agents.llm.doc_session import DocSession
from tests.agents.llm.openai_server import API_KEY, Call, Reply, ScriptedModel, serve_model


@pytest.fixture
async def model() -> AsyncIterator[tuple[ScriptedModel, AgentConfig]]:
    scripted = ScriptedModel([])
    async with serve_model(scripted) as url:
        yield scripted, AgentConfig(llm_base_url=url, llm_model="scripted-1", llm_api_key=API_KEY)


def tool_messages(request: dict[str, object]) -> list[str]:
    return [
        m["content"]
        for m in request["messages"]  # type: ignore[attr-defined]
        if m["role"] == "tool"
    ]


async def test_tool_calls_become_edits(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    scripted.replies = [
        Reply("Let me read m1.", [Call("read_measures", {"measures": ["1"]})]),
        Reply(
            "",
            [
                Call(
                    "write_measure",
                    {
                        "measure": "1",
                        "part": "Bass",
                        "notes": [
                            {"onset": "0", "duration": "h", "pitches": ["C3"]},
                            {"onset": "2", "duration": "h", "pitches": ["G2"]},
                        ],
                    },
                ),
                Call("set_tie", {"measure": "1", "part": "P2", "onset": "2", "tie": "start"}),
            ],
        ),
        Reply("I wrote a bass for m1: C3 then G2."),
    ]
    ctx = make_context(session, instruction="write a bass for bar 1")
    result = await LlmBrain(config).run(ctx)

    assert cell(score, 0, 1) == [("0", "2", ("C3",)), ("2", "2", ("G2",))]
    assert result.notes_written == 4  # two cell writes of two notes
    assert result.tokens_used == 3 * 60
    assert result.summary == "I wrote a bass for m1: C3 then G2."
    assert [m["text"] for m in score.raw_chat()] == ["Let me read m1."]  # the answer is
    # the summary, which the runtime posts
    first, second, third = scripted.requests
    assert first["model"] == "scripted-1" and first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    offered = [t["function"]["name"] for t in first["tools"]]
    assert {
        "read_measures",
        "analyse",
        "write_measure",
        "add_note",
        "transpose",
        "harmonise",
    } <= set(offered)
    system, user = first["messages"][0], first["messages"][-1]
    assert system["role"] == "system" and "Aureon" in system["content"]
    assert "Calm and exact" in system["content"]  # the persona's voice
    assert user["content"].startswith("write a bass for bar 1")
    assert "m1 [4/4] P1 v1: @0 C5 q; @1 D5 q" in user["content"]
    assert "m1 [4/4] P1 v1: @0 C5 q" in tool_messages(second)[0]
    assistant = second["messages"][-2]
    assert assistant["tool_calls"][0]["function"]["name"] == "read_measures"
    assert tool_messages(third)[-2:] == ["ok: wrote 2 notes", "ok: wrote 2 notes"]
    assert scripted.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert {"status": "thinking", "agent": "aureon", "focus": None} in session.presence


async def test_invalid_tool_arguments_go_back_and_the_loop_continues(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    scripted.replies = [
        Reply(
            calls=[
                Call(
                    "add_note",
                    {
                        "measure": "12",
                        "part": "P1",
                        "onset": "0",
                        "duration": "q",
                        "pitches": ["C4"],
                    },
                ),
                Call("add_note", '{"measure": "2", "part": '),
                Call("play_music", {}),
            ]
        ),
        Reply(
            calls=[
                Call(
                    "add_note",
                    {
                        "measure": "2",
                        "part": "P1",
                        "onset": "0",
                        "duration": "w",
                        "pitches": ["G5"],
                    },
                )
            ]
        ),
        Reply("Done."),
    ]
    result = await LlmBrain(config).run(make_context(session))
    errors = tool_messages(scripted.requests[1])
    assert errors[0].startswith("error: no measure 12")
    assert errors[1].startswith("error: arguments are not valid JSON")
    assert errors[2].startswith("error: no tool 'play_music'")
    assert tool_messages(scripted.requests[2])[-1] == "ok: wrote 1 notes"
    assert cell(score, 1, 0) == [("0", "4", ("G5",))]
    assert result.summary == "Done." and result.notes_written == 1


async def test_token_budget_stops_the_loop(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    config = replace(config, max_tokens=100)
    write = Call(
        "add_note", {"measure": "2", "part": "P1", "onset": "0", "duration": "q", "pitches": ["C5"]}
    )
    scripted.replies = [
        Reply("one", [write], usage=(40, 20)),
        Reply("two", [write], usage=(40, 20)),
        Reply("three"),
    ]
    result = await LlmBrain(config).run(make_context(session))
    assert result.details["stopped"] == "tokens"
    assert result.tokens_used == 120
    assert len(scripted.requests) == 2
    assert scripted.requests[0]["max_tokens"] == 100
    assert scripted.requests[1]["max_tokens"] == 40  # what is left of the budget
    scripted.replies = [Reply("ok")]
    await LlmBrain(replace(config, max_tokens=50_000)).run(make_context(session))
    assert scripted.requests[-1]["max_tokens"] == 4_096  # one reply's cap
    assert cell(score, 1, 0) == [("0", "1", ("C5",))]  # the second call never ran


async def test_tokens_are_estimated_without_usage(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession
) -> None:
    scripted, config = model
    scripted.replies = [Reply("Nothing to do.", usage=None)]
    ctx = make_context(session)
    result = await LlmBrain(config).run(ctx)
    assert result.tokens_used > 100  # the system prompt and reading alone
    assert ctx.tokens_used == result.tokens_used  # counted against the task


async def test_streamed_text_arrives_in_pieces(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    text = "Bars 1-2 are in C major; m1 climbs by step from C5 to F5."
    scripted.replies = [Reply(text, piece=5)]
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    result = await LlmBrain(config, on_text=on_text).run(make_context(session, "mia"))
    assert len(pieces) == len(range(0, len(text), 5)) and "".join(pieces) == text
    assert result.summary == text and score.raw_chat() == []  # the runtime posts it
    assert [t["function"]["name"] for t in scripted.requests[0]["tools"]] == [
        "read_measures",
        "analyse",
    ]  # mia may not write
    assert "cannot change the score" in scripted.requests[0]["messages"][0]["content"]


async def test_cancellation_stops_the_stream(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    scripted.replies = [
        Reply("x" * 400, [Call("add_note", {})], piece=2, delay=0.01),
        Reply("never asked"),
    ]
    ctx = make_context(session)
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            ctx.cancel()

    result = await LlmBrain(config, on_text=on_text).run(ctx)
    assert result.details["stopped"] == "cancelled"
    assert len(pieces) == 3
    assert len(scripted.requests) == 1
    assert cell(score, 1, 0) == []


async def test_cancelled_between_steps(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession, score: ScoreDoc
) -> None:
    scripted, config = model
    ctx = make_context(session)
    scripted.replies = [Reply("", [Call("read_measures", {})]), Reply("never asked")]
    original = ctx.read_measures

    def read_and_cancel(measure_ids: list[str] | None = None) -> str:
        if len(scripted.requests) == 1:  # the tool call of the first step
            ctx.cancel()
        return original(measure_ids)

    ctx.read_measures = read_and_cancel  # type: ignore[method-assign]
    result = await LlmBrain(config).run(ctx)
    assert result.details["stopped"] == "cancelled" and len(scripted.requests) == 1


async def test_step_limit(model: tuple[ScriptedModel, AgentConfig], session: DocSession) -> None:
    scripted, config = model
    scripted.replies = [Reply(calls=[Call("read_measures", {})]) for _ in range(5)]
    result = await LlmBrain(config, max_steps=3).run(make_context(session))
    assert result.details["stopped"] == "steps" and len(scripted.requests) == 3


async def test_conversation_memory_is_sent(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession
) -> None:
    scripted, config = model
    scripted.replies = [Reply("Because V goes to I in m2.")]
    memory = [
        Message("ana", "user", {"text": "@aureon harmonise bar 1"}, 1.0),
        Message("aureon", "agent", {"text": "Done: I V I."}, 2.0),
        Message("ana", "user", {"kind": "presence"}, 3.0),
    ]
    await LlmBrain(config, memory=memory).run(make_context(session, instruction="why?"))
    sent = scripted.requests[0]["messages"]
    assert sent[1] == {"role": "user", "content": "ana: @aureon harmonise bar 1"}
    assert sent[2] == {"role": "assistant", "content": "Done: I V I."}
    assert sent[3]["role"] == "user" and sent[3]["content"].startswith("why?")
    assert len(sent) == 4


async def test_a_refused_key_is_an_llm_error(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession
) -> None:
    _, config = model
    config = replace(config, llm_api_key="sk-wrong")
    with pytest.raises(LlmError, match="401"):
        await LlmBrain(config).run(make_context(session))


class RecallingMemory:
    """A conversation memory as the runtime's context carries it."""

    async def recall(self) -> list[dict[str, object]]:
        return [
            {"author": "ana", "kind": "user", "text": "@mia what key is this?"},
            {"author": "mia", "kind": "agent", "text": "C major."},
        ]


async def test_memory_is_recalled_from_the_context(
    model: tuple[ScriptedModel, AgentConfig], session: DocSession
) -> None:
    scripted, config = model
    scripted.replies = [Reply("It starts on the tonic.")]
    ctx = make_context(session, "mia", instruction="why?")
    ctx.memory = RecallingMemory()  # type: ignore[attr-defined]
    await LlmBrain(config).run(ctx)
    sent = scripted.requests[0]["messages"]
    assert sent[1:3] == [
        {"role": "user", "content": "ana: @mia what key is this?"},
        {"role": "assistant", "content": "C major."},
    ]
