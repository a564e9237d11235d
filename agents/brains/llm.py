"""The LLM brain: a model behind any OpenAI-compatible chat-completions server (OpenAI,
vLLM, llama.cpp's server, Ollama) works in the score through the tools of
:mod:`agents.tools`.

Each step streams one completion: text is passed on as it arrives (``on_text``); the
text of a step that calls tools is posted to the chat when the step ends, and the final
answer is the result's summary (which the runtime posts). Tool-call deltas are put
together and the calls run through the :class:`~agents.brains.base.TaskContext`, their
results going back to the model. The loop ends when the model answers without calling a
tool, after ``max_steps``, when the task's token budget is spent (usage from the stream's
last chunk, or estimated), or when the task is cancelled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from openai import APIError, AsyncOpenAI, omit

from agents.brains.base import BrainResult, TaskContext, TaskRequest
from agents.config import AgentConfig
from agents.tools import Toolbox, default_toolbox
from agents.tools.reading import read_text
from persistence.conversations.base import Message

log = logging.getLogger(__name__)

MAX_STEPS = 12
MAX_REPLY_TOKENS = 4_096  # per completion: within every model's output limit
MAX_READING_CHARS = 8_000
CHARS_PER_TOKEN = 4  # the estimate when a server reports no usage


class LlmError(RuntimeError):
    """The model server failed (unreachable, refused the request, broke the stream)."""


def client_for(config: AgentConfig) -> AsyncOpenAI:
    """An SDK client for the configured server."""
    return AsyncOpenAI(
        base_url=config.llm_base_url or None,
        api_key=config.llm_api_key,
        timeout=config.max_seconds,
        max_retries=1,
    )


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _Step:
    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    tokens: int | None = None
    cancelled: bool = False

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments or "{}"},
                }
                for _, c in sorted(self.calls.items())
            ]
        return out


class LlmBrain:
    """A :class:`~agents.brains.base.Brain` that asks a model.

    ``memory``: recent messages of the score's conversation (oldest first); without it,
    the context's memory is recalled if it has one. ``on_text``: called with each piece
    of the model's text as it streams.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        client: AsyncOpenAI | None = None,
        toolbox: Toolbox | None = None,
        memory: Sequence[MemoryEntry] = (),
        on_text: Callable[[str], Awaitable[None]] | None = None,
        max_steps: int = MAX_STEPS,
        max_reply_tokens: int = MAX_REPLY_TOKENS,
    ) -> None:
        self.config = config
        self.client = client or client_for(config)
        self.toolbox = toolbox
        self.memory = list(memory)
        self.on_text = on_text
        self.max_steps = max_steps
        self.max_reply_tokens = max_reply_tokens

    async def run(self, ctx: TaskContext) -> BrainResult:
        request = ctx.request
        toolbox = self.toolbox or default_toolbox(writes=request.persona.writes)
        memory = self.memory or await recall(ctx)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(request)},
            *memory_messages(memory, request.persona.name),
            {"role": "user", "content": task_prompt(request, read(ctx))},
        ]
        used = notes = 0
        replies: list[str] = []
        for step_number in range(self.max_steps):
            if ctx.cancelled:
                return self._result("cancelled", replies, notes, used, stopped="cancelled")
            remaining = self.config.max_tokens - used
            if remaining <= 0:
                return self._result(
                    "I stopped: my token budget is spent.", replies, notes, used, stopped="tokens"
                )
            await ctx.status("thinking")
            step = await self._complete(
                ctx, messages, toolbox, min(remaining, self.max_reply_tokens)
            )
            tokens = step.tokens if step.tokens is not None else _estimate(messages, step)
            used += tokens
            budget_spent = used >= self.config.max_tokens
            try:
                ctx.use_tokens(tokens)
            except Exception as exc:  # the runtime's own limit: its type is its business
                log.info("task token budget: %s", exc)
                budget_spent = True
            text = "".join(step.text).strip()
            if text:
                replies.append(text)
                if step.calls or budget_spent:  # the final answer is the summary
                    await ctx.say(text)
            if step.cancelled:
                return self._result("cancelled", replies, notes, used, stopped="cancelled")
            if budget_spent:
                return self._result(
                    "I stopped: my token budget is spent.", replies, notes, used, stopped="tokens"
                )
            if not step.calls:
                return self._result(text or "done", replies, notes, used, steps=step_number + 1)
            messages.append(step.message())
            for call in (c for _, c in sorted(step.calls.items())):
                if ctx.cancelled:
                    return self._result("cancelled", replies, notes, used, stopped="cancelled")
                outcome = await toolbox.call(ctx, call.name, call.arguments)
                notes += outcome.notes
                messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.text})
        return self._result(
            "I stopped: I took as many steps as a task may.", replies, notes, used, stopped="steps"
        )

    async def _complete(
        self, ctx: TaskContext, messages: list[dict[str, Any]], toolbox: Toolbox, max_tokens: int
    ) -> _Step:
        """One streamed completion: text pieces passed on, tool-call deltas joined."""
        step = _Step()
        tools: Any = toolbox.definitions() if toolbox.names else omit
        try:
            stream = await self.client.chat.completions.create(
                model=self.config.llm_model,
                messages=cast(Any, messages),
                tools=tools,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        step.tokens = chunk.usage.total_tokens
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            step.text.append(delta.content)
                            await ctx.stream(delta.content)
                            if self.on_text is not None:
                                await self.on_text(delta.content)
                        for part in delta.tool_calls or ():
                            call = step.calls.setdefault(part.index, _Call())
                            call.id = part.id or call.id
                            if part.function is not None:
                                call.name += part.function.name or ""
                                call.arguments += part.function.arguments or ""
                    if ctx.cancelled:
                        step.cancelled = True
                        break
        except APIError as exc:
            raise LlmError(f"the model server failed: {exc}") from exc
        for index, call in step.calls.items():
            call.id = call.id or f"call_{index}"
        return step

    @staticmethod
    def _result(
        summary: str, replies: list[str], notes: int, tokens: int, **details: Any
    ) -> BrainResult:
        return BrainResult(
            summary if summary not in ("done", "") else (replies[-1] if replies else summary),
            notes_written=notes,
            tokens_used=tokens,
            details={"replies": replies, **details},
        )


def system_prompt(request: TaskRequest) -> str:
    """The persona's voice, role and rules of the score."""
    persona = request.persona
    if not persona.writes:
        rights = (
            "You cannot change the score: read, analyse and explain, always with "
            "measure references (m3, m5-m8)."
        )
    elif request.mode == "suggest":
        rights = (
            "What you write becomes a suggestion that people accept or reject; "
            "never overwrite their notes without being asked."
        )
    else:
        rights = "What you write changes the score at once."
    return (
        f"You are {persona.display_name}, an AI collaborator in a live music score that "
        f"people are editing with you. Role: {persona.role} Voice: {persona.voice}\n"
        "Work through the tools. Read measures before you change them. Name measures by "
        "number ('m3') and parts as 'P1' or by name; onsets and durations are in quarter "
        "notes ('0', '3/2') or names (w h q e s, a dot adds half); pitches are like C5, "
        f"F#4, B-3. {rights} Keep replies short: your text is posted to the score's chat."
    )


def read(ctx: TaskContext) -> str:
    """The task's measures and parts in the tools' reading (with onsets, which the note
    tools name notes by); the runtime records the read."""
    request = ctx.request
    measures = list(request.measure_ids) if request.measure_ids else None
    ctx.read_measures(measures)
    parts = list(request.part_ids) if request.part_ids else None
    return read_text(ctx.session.doc.read(), measures, parts)


def task_prompt(request: TaskRequest, reading: str) -> str:
    """The instruction and a reading of the measures it is about."""
    if len(reading) > MAX_READING_CHARS:
        reading = reading[:MAX_READING_CHARS] + "\n...(more: use read_measures)"
    return f"{request.instruction}\n\nThe score now:\n{reading}"


MemoryEntry = Message | dict[str, Any]


def memory_messages(memory: Sequence[MemoryEntry], persona: str) -> list[dict[str, Any]]:
    """The conversation so far as chat messages: this agent's as the assistant's. Entries
    are stored :class:`Message` objects or ``{"author", "kind", "text"}``
    (:meth:`agents.memory.Memory.recall`)."""
    out: list[dict[str, Any]] = []
    for entry in memory:
        author: Any
        kind: Any
        if isinstance(entry, Message):
            author, kind, text = entry.author_id, entry.author_kind, entry.body.get("text")
        else:
            author, kind, text = entry.get("author"), entry.get("kind"), entry.get("text")
        if not isinstance(text, str) or not text:
            continue
        if kind == "agent" and author == persona:
            out.append({"role": "assistant", "content": text})
        else:
            out.append({"role": "user", "content": f"{author or 'server'}: {text}"})
    return out


async def recall(ctx: TaskContext) -> list[MemoryEntry]:
    """The runtime's conversation memory, when its context carries one (``ctx.memory``
    with ``recall()``)."""
    memory = getattr(ctx, "memory", None)
    if memory is None or not hasattr(memory, "recall"):
        return []
    return list(await memory.recall())


def _estimate(messages: list[dict[str, Any]], step: _Step) -> int:
    sent = sum(len(json.dumps(m)) for m in messages)
    received = sum(map(len, step.text)) + sum(len(c.arguments) for c in step.calls.values())
    return (sent + received) // CHARS_PER_TOKEN + 1
