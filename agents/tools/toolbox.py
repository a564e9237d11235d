"""Tools a model may call: JSON-schema function definitions with typed async handlers
that act through a :class:`~agents.brains.base.TaskContext`.

A handler gets the context and the decoded arguments and returns an :class:`Outcome`.
Whatever the model gets wrong (unknown measure, bad pitch, missing argument) comes back
to it as an error outcome it can correct; it never ends the task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.brains.base import TaskContext
from agents.session import NotAllowed
from agents.tools.refs import ToolError
from score_model.ops import EditError
from score_model.schema import SchemaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a tool call returns to the model; ``notes`` counts notes it wrote."""

    text: str
    error: bool = False
    notes: int = 0


Handler = Callable[[TaskContext, dict[str, Any]], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Tool:
    """One function the model may call. ``writes``: it changes the score."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    writes: bool = False

    def definition(self) -> dict[str, Any]:
        """The chat-completions ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass
class Toolbox:
    """A set of tools by name, and the dispatcher the brains and the MCP server share."""

    tools: dict[str, Tool] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: Iterable[Tool]) -> Toolbox:
        return cls({tool.name: tool for tool in tools})

    def only(self, *, writes: bool) -> Toolbox:
        """These tools, without the writing ones unless ``writes``."""
        return Toolbox({n: t for n, t in self.tools.items() if writes or not t.writes})

    @property
    def names(self) -> list[str]:
        return list(self.tools)

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition() for tool in self.tools.values()]

    async def call(
        self, ctx: TaskContext, name: str, arguments: str | dict[str, Any] | None
    ) -> Outcome:
        """Run tool ``name`` with ``arguments`` (a JSON object or its text)."""
        tool = self.tools.get(name)
        if tool is None:
            return Outcome(f"error: no tool {name!r}; tools: {', '.join(self.tools)}", True)
        try:
            args = decode_arguments(arguments)
            return await tool.handler(ctx, args)
        except (ToolError, EditError, SchemaError, NotAllowed) as exc:
            return Outcome(f"error: {exc}", True)
        except (KeyError, TypeError, ValueError) as exc:
            log.info("tool %s rejected %r: %r", name, arguments, exc)
            return Outcome(f"error: invalid arguments for {name}: {exc}", True)


def decode_arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolError(f"arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ToolError("arguments must be a JSON object")
    return value


def require(args: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if args.get(n) in (None, "")]
    if missing:
        raise ToolError(f"missing argument(s): {', '.join(missing)}")


def schema(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON-schema object of ``properties``."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


MEASURE = {"type": "string", "description": "measure number ('3' or 'm3') or id"}
MEASURES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "measure numbers or ranges, e.g. ['1-4', '7']; omit for all",
}
PART = {"type": "string", "description": "part: 'P1' (first part), its name, or id"}
PARTS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "parts ('P1', names or ids); omit for all",
}
ONSET = {
    "type": "string",
    "description": "onset in quarters from the start of the measure: '0', '1', '3/2'",
}
DURATION = {
    "type": "string",
    "description": "duration: w h q e s (a trailing dot adds half) or quarters '3/2'",
}
PITCHES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "pitch names like 'C5', 'F#4', 'B-3'; [] for a rest, several for a chord",
}
VOICE = {"type": "integer", "minimum": 1, "maximum": 8, "description": "voice (default 1)"}
