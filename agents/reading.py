"""A compact text reading of measures, for brains (and people) to read a score quickly.

One line per measure and part, e.g.::

    m1 (m_3kf…) 4/4 key 1# | Soprano: G4 1, A4 1, B4 2 | Bass: G2 4
"""

from __future__ import annotations

from collections.abc import Sequence

from score_model.document import ScoreData, note_order
from score_model.schema import format_fraction


def read_measures(data: ScoreData, measure_ids: Sequence[str] | None = None) -> str:
    """Measures (all, or those of ``measure_ids``) as text: number, id, time and key
    where they change, then each part's notes as ``pitch duration`` (``r`` a rest,
    ``C4+E4`` a chord, ``v2:`` another voice)."""
    wanted = None if measure_ids is None else set(measure_ids)
    cells = data.notes_by_cell()
    names = {part.id: part.name or part.id for part in data.parts}
    lines = []
    for slot in data.layout():
        if wanted is not None and slot.id not in wanted:
            continue
        head = f"m{slot.number} ({slot.id}) {slot.time}"
        if slot.measure.key is not None:
            fifths = slot.measure.key.fifths
            head += f" key {abs(fifths)}{'#' if fifths >= 0 else 'b'}"
        cols = [head]
        for part in data.parts:
            notes = sorted(cells.get((slot.id, part.id), []), key=note_order)
            text = ", ".join(
                (f"v{n.voice}:" if n.voice != 1 else "")
                + ("+".join(n.pitches) if n.pitches else "r")
                + f" {format_fraction(n.duration)}"
                for n in notes
            )
            cols.append(f"{names[part.id]}: {text or '-'}")
        lines.append(" | ".join(cols))
    return "\n".join(lines)
