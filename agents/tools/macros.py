"""The offline music brain's operations as tools (:mod:`agents.music`): one call runs a
whole operation and writes its result cell by cell through the context, so the model can
ask for a four-part harmonisation and then refine it note by note."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agents.brains.base import Focus, NoteSpec, TaskContext
from agents.tools.edits import write_cell
from agents.tools.refs import ToolError, measure_ids, part_id
from agents.tools.toolbox import MEASURES, PART, Outcome, Tool, require, schema


async def harmonise(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """Harmonise a melody in four parts (:func:`agents.music.harmonise.harmonise`)."""
    from agents.music.harmonise import harmonise as harmonise_view
    from agents.music.view import APPENDED, extract_view

    require(args, "melody")
    data = ctx.session.doc.read()
    melody = part_id(data, args["melody"])
    measures = measure_ids(data, args.get("measures"))
    targets = [part_id(data, args[v]) if args.get(v) else None
               for v in ("alto", "tenor", "bass")]
    await ctx.status("thinking", Focus(tuple(measures or ()), (melody,)))
    view = extract_view(ctx.session.doc, measures=measures)
    if targets == [None, None, None]:
        found = harmonise_view(view, melody)
    else:
        found = harmonise_view(view, melody, targets=targets)
    written = 0
    for write in found.result.parts:
        if write.part is None:
            raise ToolError(f"the score has no {write.name or 'lower'} part: add_part it "
                            "first or name the alto, tenor and bass parts")
        by_measure: dict[str, list[NoteSpec]] = defaultdict(list)
        for note in write.notes:
            if note.measure.startswith(APPENDED):
                continue
            by_measure[note.measure].append(NoteSpec(note.onset, note.duration, note.pitches,
                                                     note.voice, note.ties,
                                                     note.articulations))
        for measure, notes in by_measure.items():
            written += (await write_cell(ctx, measure, write.part, notes)).notes
    return Outcome(f"ok: {found.result.summary} ({written} notes written)", notes=written)


TOOLS = (
    Tool("harmonise",
         "Harmonise a melody part in four parts (SATB) with the offline music brain: "
         "chords in the local key, cadences at phrase ends, checked voice leading. "
         "Writes the alto, tenor and bass parts (by default the parts named so).",
         schema({"melody": PART, "measures": MEASURES,
                 "alto": PART, "tenor": PART, "bass": PART}, ["melody"]),
         harmonise, writes=True),
)
