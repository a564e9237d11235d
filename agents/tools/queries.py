"""Tools that read: a compact text reading of measures and the analysis results."""

from __future__ import annotations

import json
from typing import Any

from agents.brains.base import Focus, TaskContext
from agents.tools.edits import proposals
from agents.tools.reading import read_text
from agents.tools.refs import ToolError, measure_ids, part_ids
from agents.tools.toolbox import MEASURES, PARTS, Outcome, Tool, schema

ANALYSES = ("summary", "key", "harmony", "melody", "rhythm", "voice_leading")
MAX_ANALYSIS_CHARS = 6_000


async def read_measures(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    data = ctx.session.doc.read()
    measures = measure_ids(data, args.get("measures"))
    parts = part_ids(data, args.get("parts"))
    await ctx.status("reading", Focus(tuple(measures or ()), tuple(parts or ())))
    ctx.read_measures(measures)  # the runtime records what the agent read
    return Outcome(read_text(data, measures, parts) + proposals(ctx, data, measures))


async def analyse(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    names = args.get("analyses") or list(ANALYSES)
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in ANALYSES]
    if unknown:
        raise ToolError(f"unknown analyses {unknown}; use {list(ANALYSES)}")
    data = ctx.session.doc.read()
    measures = measure_ids(data, args.get("measures"))
    numbers = {s.id: s.number for s in data.layout()}
    results = ctx.analysis()
    out: dict[str, Any] = {}
    for name in names:
        result = results.get(name)
        if isinstance(result, dict) and "result" in result and "analysis" in result:
            result = result["result"]  # an envelope
        out[name] = (
            "not available"
            if result is None
            else _numbered(_within(result, set(measures)) if measures else result, numbers)
        )
    text = json.dumps(out, separators=(",", ":"), default=str)
    if len(text) > MAX_ANALYSIS_CHARS:
        text = text[:MAX_ANALYSIS_CHARS] + " ...(cut: ask for fewer measures or analyses)"
    return Outcome(text or "{}")


def _within(value: Any, measures: set[str]) -> Any:
    """``value`` without the list items anchored to other measures."""
    if isinstance(value, list):
        return [
            _within(v, measures)
            for v in value
            if not (
                isinstance(v, dict)
                and isinstance(v.get("measure"), str)
                and v["measure"] not in measures
            )
        ]
    if isinstance(value, dict):
        return {k: _within(v, measures) for k, v in value.items()}
    return value


def _numbered(value: Any, numbers: dict[str, int]) -> Any:
    """Measure ids replaced by the numbers the model uses (``"m3"``)."""
    if isinstance(value, list):
        return [_numbered(v, numbers) for v in value]
    if isinstance(value, dict):
        return {k: _numbered(v, numbers) for k, v in value.items()}
    if isinstance(value, str) and value in numbers:
        return f"m{numbers[value]}"
    return value


TOOLS = (
    Tool(
        "read_measures",
        "Read measures as compact text, one line per measure, part and voice: "
        "'m3 P1 v1: @0 C5 q; @1 D5 e' (@onset in quarters, pitches, duration).",
        schema({"measures": MEASURES, "parts": PARTS}),
        read_measures,
    ),
    Tool(
        "analyse",
        "Analysis results of the score (key plan, chords with Roman numerals, melody, "
        "rhythm, voice-leading issues), optionally limited to some measures.",
        schema(
            {
                "analyses": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(ANALYSES)},
                    "description": "which analyses; omit for all",
                },
                "measures": MEASURES,
            }
        ),
        analyse,
    ),
)
