"""A music function's result as cells to write: what the offline brain and the tool
macros both write, through their task context."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from agents.brains.base import NoteSpec, TaskContext
from score_model.ops import ScoreEditor

if TYPE_CHECKING:
    from agents.music.view import MusicResult

Cell = tuple[str, str, list[NoteSpec]]  # measure id, part id, notes


async def result_cells(ctx: TaskContext, result: MusicResult) -> list[Cell]:
    """Create the measures and parts ``result`` needs (one edit each) and return its
    notes grouped by cell, the score's measures in order, parts in the result's order."""
    from agents.music.view import APPENDED

    appended = sorted(
        {
            int(n.measure[len(APPENDED) :])
            for w in result.parts
            for n in w.notes
            if n.measure.startswith(APPENDED)
        }
    )
    new_measures: dict[str, str] = {}
    if appended:
        made = await ctx.session.edit(lambda editor: [editor.insert_measure() for _ in appended])
        new_measures = {f"{APPENDED}{i}": m for i, m in zip(appended, made, strict=True)}
    cells: dict[str, dict[str, list[NoteSpec]]] = defaultdict(lambda: defaultdict(list))
    for write in result.parts:
        if write.part is not None:
            part: str = write.part
        else:
            fields = {
                k: v for k, v in (("instrument", write.instrument), ("clef", write.clef)) if v
            }
            part = await ctx.session.edit(_adder(write.name, fields))
        for note in write.notes:
            measure = new_measures.get(note.measure, note.measure)
            cells[measure][part].append(
                NoteSpec(
                    note.onset,
                    note.duration,
                    note.pitches,
                    note.voice,
                    note.ties,
                    note.articulations,
                )
            )
    position = {
        m["id"]: i for i, m in enumerate(ctx.session.doc.raw_measures()) if isinstance(m, dict)
    }
    order = sorted(cells, key=lambda m: position.get(m, len(position)))
    return [(measure, part, notes) for measure in order for part, notes in cells[measure].items()]


def _adder(name: str, fields: dict[str, Any]) -> Any:
    def add(editor: ScoreEditor) -> str:
        return editor.add_part(name, **fields)

    return add
