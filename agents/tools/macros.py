"""The offline music brain's operations as tools (:mod:`agents.music`): one call runs a
whole operation and writes its result cell by cell through the context, so the model can
ask for a four-part harmonisation or a bass line and then refine it note by note.

A result may need new parts (a harmonisation of a lone melody) or measures appended at
the end (a continuation): those structural edits are applied at once, through the
session; the notes go through :meth:`~agents.brains.base.TaskContext.write` like every
other tool's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.brains.base import Focus, TaskContext
from agents.brains.cells import result_cells
from agents.tools.edits import current, write_cell
from agents.tools.refs import ToolError, measure_ids, part_id
from agents.tools.toolbox import MEASURES, PART, Outcome, Tool, require, schema

if TYPE_CHECKING:
    from agents.music.view import MusicResult, ScoreView

MAX_CONTINUATION = 16
SPECIES = {
    "type": "integer",
    "enum": [1, 2],
    "description": "1: note against note; 2: with passing notes",
}


async def write_result(ctx: TaskContext, result: MusicResult) -> int:
    """Write a music function's result; returns the number of notes written. Voices the
    result does not write stay in each cell."""
    cells = await result_cells(ctx, result)
    data = ctx.session.doc.read()
    written = 0
    for measure, part, notes in cells:
        voices = {n.voice for n in notes}
        kept = [n for n in current(ctx, data, measure, part) if n.voice not in voices]
        written += (await write_cell(ctx, measure, part, kept + notes)).notes
    return written


async def _view(ctx: TaskContext, args: dict[str, Any], melody_key: str) -> tuple[ScoreView, str]:
    from agents.music.view import extract_view

    require(args, melody_key)
    data = ctx.session.doc.read()
    melody = part_id(data, args[melody_key])
    measures = measure_ids(data, args.get("measures"))
    await ctx.status("thinking", Focus(tuple(measures or ()), (melody,)))
    return extract_view(ctx.session.doc, measures=measures), melody


def _target(ctx: TaskContext, args: dict[str, Any], name: str) -> str | None:
    return part_id(ctx.session.doc.read(), args[name]) if args.get(name) else None


async def harmonise(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """Four-part harmonisation (:func:`agents.music.harmonise.harmonise`)."""
    from agents.music.harmonise import harmonise as harmonise_view

    view, melody = await _view(ctx, args, "melody")
    targets = [_target(ctx, args, v) for v in ("alto", "tenor", "bass")]
    found = harmonise_view(view, melody, targets=None if targets == [None, None, None] else targets)
    written = await write_result(ctx, found.result)
    return Outcome(f"ok: {found.result.summary} ({written} notes written)", notes=written)


async def continue_melody(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """Continue a melody (:func:`agents.music.continuation.continue_melody`)."""
    from agents.music.continuation import continue_melody as continue_view
    from agents.music.view import extract_view

    require(args, "part")
    part = part_id(ctx.session.doc.read(), args["part"])
    count = int(args.get("measures_to_add") or 4)
    if not 1 <= count <= MAX_CONTINUATION:
        raise ToolError(f"measures_to_add must be 1 to {MAX_CONTINUATION}")
    await ctx.status("thinking", Focus((), (part,)))
    result = continue_view(
        extract_view(ctx.session.doc), part, measures=count, seed=int(args.get("seed") or 0)
    )
    written = await write_result(ctx, result)
    return Outcome(f"ok: {result.summary or 'continued'} ({written} notes written)", notes=written)


async def _counterpoint(ctx: TaskContext, args: dict[str, Any], role: str) -> Outcome:
    from agents.music.counterpoint import counterpoint

    view, melody = await _view(ctx, args, "melody")
    result = counterpoint(
        view,
        melody,
        role=role,
        species=int(args.get("species") or 1),
        target=_target(ctx, args, "target"),
    )
    written = await write_result(ctx, result)
    return Outcome(f"ok: {result.summary} ({written} notes written)", notes=written)


async def bass_line(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    return await _counterpoint(ctx, args, "bass")


async def countermelody(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    return await _counterpoint(ctx, args, "countermelody")


async def revoice(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """A part re-voiced for an instrument's range (:func:`agents.music.instruments.revoice`)."""
    from agents.music.instruments import revoice as revoice_view

    require(args, "instrument")
    view, part = await _view(ctx, args, "part")
    try:
        result = revoice_view(
            view,
            part,
            str(args["instrument"]),
            target=_target(ctx, args, "target"),
            in_place=bool(args.get("in_place")),
        )
    except KeyError as exc:
        raise ToolError(str(exc).strip("'\"")) from None
    written = await write_result(ctx, result)
    return Outcome(f"ok: {result.summary} ({written} notes written)", notes=written)


TOOLS = (
    Tool(
        "harmonise",
        "Harmonise a melody part in four parts (SATB) with the offline music brain: "
        "chords in the local key, cadences at phrase ends, checked voice leading. Writes "
        "the alto, tenor and bass parts (by default the parts named so, else new parts).",
        schema(
            {"melody": PART, "measures": MEASURES, "alto": PART, "tenor": PART, "bass": PART},
            ["melody"],
        ),
        harmonise,
        writes=True,
    ),
    Tool(
        "continue_melody",
        "Continue a part's melody after its last note with the offline music brain "
        "(statistics of Bach's chorales, seeded); fills empty measures, then appends.",
        schema(
            {
                "part": PART,
                "measures_to_add": {"type": "integer", "minimum": 1, "maximum": MAX_CONTINUATION},
                "seed": {"type": "integer"},
            },
            ["part"],
        ),
        continue_melody,
        writes=True,
    ),
    Tool(
        "bass_line",
        "Write a bass line under a melody by species-counterpoint rules (into `target`, "
        "else a new part).",
        schema(
            {"melody": PART, "measures": MEASURES, "target": PART, "species": SPECIES}, ["melody"]
        ),
        bass_line,
        writes=True,
    ),
    Tool(
        "countermelody",
        "Write a countermelody below a melody, in the tenor range, by species-counterpoint "
        "rules (into `target`, else a new part).",
        schema(
            {"melody": PART, "measures": MEASURES, "target": PART, "species": SPECIES}, ["melody"]
        ),
        countermelody,
        writes=True,
    ),
    Tool(
        "revoice",
        "Re-voice a part for an instrument (violin, cello, flute, clarinet, horn, ...), "
        "moved by octaves into its range; as a new part, into `target`, or in place.",
        schema(
            {
                "part": PART,
                "instrument": {"type": "string"},
                "measures": MEASURES,
                "target": PART,
                "in_place": {"type": "boolean"},
            },
            ["part", "instrument"],
        ),
        revoice,
        writes=True,
    ),
)
