"""The offline brain (the embedded default: deterministic, no network, no key): reads the
instruction for one of the persona's abilities and calls :mod:`agents.music`.

Writing abilities produce a :class:`~agents.music.view.MusicResult`; it is checked with the
quality gate's counter before anything is written, and a harmonisation that makes the
measures worse is retried with the hand-set chord costs; the better one is written,
measure by measure (every part of a measure, then the next measure). Parts or measures
the result needs are created first, through the session, under the task's origin.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from agents.brains.base import BrainResult, Focus, TaskContext
from agents.brains.cells import result_cells
from agents.personas import Persona

_ABILITY_WORDS = (
    ("harmonise", ("harmoni", "chorale", "satb", "four part", "4 part", "four-part")),
    ("countermelody", ("counter",)),
    ("bass", ("bass line", "bassline", "bass")),
    ("continue", ("continu", "extend", "next bars", "more bars", "variation")),
    ("transpose", ("transpos",)),
    (
        "revoice",
        (
            "revoice",
            "re-voice",
            "arrange for",
            "for violin",
            "for flute",
            "for cello",
            "for clarinet",
            "for viola",
            "for oboe",
        ),
    ),
    ("analyse", ("analy", "cadence", "form", "key plan", "voice leading", "voice-leading")),
    ("explain", ("explain", "why", "what", "how", "?")),
)
_INTERVALS = {
    "minor second": "m2",
    "major second": "M2",
    "minor third": "m3",
    "major third": "M3",
    "fourth": "P4",
    "perfect fourth": "P4",
    "tritone": "A4",
    "fifth": "P5",
    "perfect fifth": "P5",
    "minor sixth": "m6",
    "major sixth": "M6",
    "minor seventh": "m7",
    "major seventh": "M7",
    "octave": "P8",
    "semitone": "m2",
    "half step": "m2",
    "tone": "M2",
    "whole step": "M2",
}
_INTERVAL_CODE = re.compile(r"\b(-?[PMmAd][1-9][0-9]?)\b")


def choose_ability(persona: Persona, instruction: str) -> str:
    """The persona's ability the instruction asks for (else its default)."""
    text = instruction.lower()
    for ability, words in _ABILITY_WORDS:
        if ability in persona.abilities and any(w in text for w in words):
            return ability
    return persona.default_ability


def interval_of(instruction: str) -> str:
    """``"up a major second"`` → ``M2``; ``"down a fifth"`` → ``-P5``; ``M3`` as given."""
    code = _INTERVAL_CODE.search(instruction)
    if code:
        return code.group(1)
    text = instruction.lower()
    down = " down" in f" {text}" or "lower" in text
    for words, value in sorted(_INTERVALS.items(), key=lambda kv: -len(kv[0])):
        if words in text:
            return f"-{value}" if down else value
    return "-M2" if down else "M2"


class OfflineBrain:
    """Deterministic answers from :mod:`agents.music` and the analysis engine."""

    async def run(self, ctx: TaskContext) -> BrainResult:
        request = ctx.request
        ability = choose_ability(request.persona, request.instruction)
        await ctx.status("thinking", Focus(request.measure_ids or (), request.part_ids or ()))
        if ability in ("analyse", "explain"):
            return await self._explain(ctx, ability)
        result = await asyncio.to_thread(self._compose, ctx, ability)
        written = await write_measure_by_measure(ctx, result)
        return BrainResult(
            result.summary or f"{ability} done",
            notes_written=written,
            details={"ability": ability, **_plain(result.details)},
        )

    async def _explain(self, ctx: TaskContext, ability: str) -> BrainResult:
        from agents.music.explain import analyse, explain
        from agents.music.view import extract_view

        data = ctx.session.doc.read()
        register = (
            "teacher"
            if ability == "explain" and "analyse" not in (ctx.request.persona.abilities)
            else "analyst"
        )
        results = await asyncio.to_thread(analyse, data)
        view = extract_view(data, measures=ctx.request.measure_ids)
        explanation = explain(
            results, register=register, view=view, part_names={p.id: p.name for p in data.parts}
        )
        return BrainResult(
            explanation.text, details={"ability": ability, "references": explanation.references}
        )

    def _compose(self, ctx: TaskContext, ability: str) -> Any:
        from agents.music import (
            check_result,
            continue_melody,
            counterpoint,
            extract_view,
            harmonise,
            revoice,
            transpose,
        )

        request = ctx.request
        score = ctx.session.doc
        view = extract_view(score, measures=request.measure_ids)
        melody: str | int = request.part_ids[0] if request.part_ids else 0
        if ability == "harmonise":
            first = harmonise(view, melody).result
            before, after = check_result(score, first)
            if not after.worse_than(before):
                return first
            second = harmonise(view, melody, learned=False).result
            return second if check_result(score, second)[1].score < after.score else first
        if ability == "bass":
            return counterpoint(view, melody, role="bass", target=_part_named(view, "bass"))
        if ability == "countermelody":
            return counterpoint(view, melody, role="countermelody", species=2)
        if ability == "continue":
            return continue_melody(view, melody, measures=4)
        if ability == "transpose":
            return transpose(
                view,
                interval_of(request.instruction),
                parts=list(request.part_ids) if request.part_ids else None,
            )
        if ability == "revoice":
            from agents.music.instruments import INSTRUMENTS

            text = request.instruction.lower()
            target = next((name for name in INSTRUMENTS if name.lower() in text), "Violin")
            return revoice(view, melody, target, in_place=True)
        raise ValueError(f"{request.persona.name} cannot {ability}")


def _part_named(view: Any, name: str) -> str | None:
    return next((p.part for p in view.parts if p.name.lower() == name), None)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


async def write_measure_by_measure(ctx: TaskContext, result: Any) -> int:
    """Write a :class:`~agents.music.view.MusicResult` through ``ctx``: new measures and
    parts first (one edit each), then every part of the first measure, the second, ..."""
    written = 0
    for measure, part, notes in await result_cells(ctx, result):
        await ctx.write(measure, part, notes)
        written += len(notes)
    return written
