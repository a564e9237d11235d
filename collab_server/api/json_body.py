"""The one reader of JSON request bodies: a size limit while reading, a nesting limit
while and after parsing, and a 400 with a clear message for anything that is not a JSON object.

Python's JSON parser recurses once per level: a body nested a few thousand levels deep
raised ``RecursionError`` (HTTP 500, with tracebacks) before any handler could look at
it. That error is now a 400, and a parsed body is checked level by level (iteratively)
against ``MAX_JSON_DEPTH``, so nothing deeper reaches a handler, a validator or an
encoder that recurses.
"""

from __future__ import annotations

import json
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from collab_server.api.uploads import read_body
from collab_server.errors import BadRequest

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64  # a score exported as JSON nests about 6 levels
THREAD_ABOVE = 64 * 1024  # bigger bodies are parsed off the event loop


async def json_body(request: Request, *, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body), read under ``limit`` bytes."""
    return await parse_json_body(await read_body(request, limit))


async def parse_json_body(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """:func:`parse_json_object`, in a worker thread when ``raw`` is big."""
    if len(raw) <= THREAD_ABOVE:
        return parse_json_object(raw, max_depth=max_depth)
    return await to_thread.run_sync(lambda: parse_json_object(raw, max_depth=max_depth))


def parse_json_object(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Parse a JSON object, or raise :class:`BadRequest` saying what is wrong with it."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"the JSON body nests more than {max_depth} levels deep") from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if too_deep(body, max_depth):
        raise BadRequest(f"the JSON body nests more than {max_depth} levels deep")
    return body


def too_deep(value: Any, max_depth: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``max_depth`` levels
    (level by level: a deep value cannot exhaust the stack here)."""
    level: list[Any] = [value]
    for _ in range(max_depth):
        deeper: list[Any] = []
        add = deeper.append
        for item in level:
            for child in item.values() if type(item) is dict else item:
                kind = type(child)
                if kind is list or kind is dict:
                    add(child)
        if not deeper:
            return False
        level = deeper
    return True
