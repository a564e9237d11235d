"""A scripted OpenAI-compatible chat-completions server for the tests: real HTTP on
loopback, Server-Sent Events of ``chat.completion.chunk`` frames as the OpenAI API sends
them (text in pieces, tool calls as deltas, a final usage chunk), answering each request
with the next scripted :class:`Reply` and recording every request it received."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.collab_server.harness import run_uvicorn

API_KEY = "sk-test-orpheus"


@dataclass(frozen=True)
class Call:
    """A tool call the model makes; ``arguments`` is sent as given when it is a string
    (so a test can send broken JSON)."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class Reply:
    """One scripted completion: text (streamed ``piece`` characters at a time), tool
    calls, the usage to report (``None``: no usage chunk) and a pause between chunks."""

    text: str = ""
    calls: Sequence[Call] = ()
    usage: tuple[int, int] | None = (50, 10)
    piece: int = 4
    delay: float = 0.0


@dataclass
class ScriptedModel:
    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    model: str = "scripted-1"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse(
                {
                    "error": {
                        "message": "bad key",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        reply = self.replies.pop(0) if self.replies else Reply("(script ended)")
        if not body.get("stream"):
            return JSONResponse(self._completion(reply))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._frames(reply, usage), media_type="text/event-stream")

    async def _frames(self, reply: Reply, usage: bool) -> AsyncIterator[str]:
        for chunk in self.chunks(reply, usage):
            if reply.delay:
                await asyncio.sleep(reply.delay)
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    def chunks(self, reply: Reply, usage: bool) -> list[dict[str, Any]]:
        out = [self._chunk({"role": "assistant", "content": ""})]
        for start in range(0, len(reply.text), reply.piece):
            out.append(self._chunk({"content": reply.text[start : start + reply.piece]}))
        for index, call in enumerate(reply.calls):
            arguments = (
                call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            )
            out.append(
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": f"call_{len(self.requests)}_{index}",
                                "type": "function",
                                "function": {"name": call.name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for start in range(0, len(arguments), 7):  # arguments arrive in pieces too
                out.append(
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "function": {"arguments": arguments[start : start + 7]},
                                }
                            ]
                        }
                    )
                )
        out.append(self._chunk({}, "tool_calls" if reply.calls else "stop"))
        if usage and reply.usage is not None:
            prompt, completion = reply.usage
            out.append(
                {
                    **self._chunk({}),
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                }
            )
        return out

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _completion(self, reply: Reply) -> dict[str, Any]:
        calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.arguments
                    if isinstance(c.arguments, str)
                    else json.dumps(c.arguments),
                },
            }
            for i, c in enumerate(reply.calls)
        ]
        prompt, completion = reply.usage or (0, 0)
        return {
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "message": {
                        "role": "assistant",
                        "content": reply.text or None,
                        **({"tool_calls": calls} if calls else {}),
                    },
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


@asynccontextmanager
async def serve_model(model: ScriptedModel) -> AsyncIterator[str]:
    """Run ``model`` on a free loopback port; yield its base URL (``.../v1``)."""
    async with run_uvicorn(model.app()) as port:
        yield f"http://127.0.0.1:{port}/v1"
