"""A compact text reading of a score for a language model, one line per measure and part:

    m3 P1 v1: @0 C5 q; @1 D5 e; @3/2 E5 e; @2 rest h

``@`` is the onset in quarters from the start of the measure, then the pitches (``+``
between the notes of a chord, ``rest`` for none) and the duration (``w h q e s t``, a
dot adds half, else quarters). A tie to the next note is ``~``.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.brains.base import NoteSpec
from agents.tools.refs import duration_name, part_label
from score_model.document import ScoreData
from score_model.schema import Note, format_fraction


def header(data: ScoreData) -> str:
    """Title, parts and measure count: what a model needs to name things."""
    parts = ", ".join(
        f"P{i + 1} {p.name or '(unnamed)'}" + (f" [{p.instrument}]" if p.instrument else "")
        for i, p in enumerate(data.parts)
    )
    slots = data.layout()
    first = slots[0] if slots else None
    key = (
        f", key {first.key.fifths:+d} fifths{' ' + first.key.mode if first.key.mode else ''}"
        if first is not None and first.key is not None
        else ""
    )
    time = f", time {first.time}" if first is not None else ""
    span = f"m{slots[0].number}-m{slots[-1].number}" if slots else "none"
    title = data.meta.title or "(untitled)"
    return f"score {title!r}{time}{key}; parts: {parts or 'none'}; measures: {span}"


def note_text(note: Note | NoteSpec) -> str:
    pitches = "+".join(note.pitches) if note.pitches else "rest"
    tie = "~" if any(t in ("start", "continue") for t in note.ties) else ""
    return f"@{format_fraction(note.onset)} {pitches}{tie} {duration_name(note.duration)}"


def read_text(
    data: ScoreData,
    measures: Sequence[str] | None = None,
    parts: Sequence[str] | None = None,
    *,
    empty: bool = True,
) -> str:
    """The reading of ``measures`` x ``parts`` (default: all), preceded by the header.
    Measures that change time, key or tempo say so (``m5 [3/4, key -1]``)."""
    wanted = None if measures is None else set(measures)
    part_list = [p.id for p in data.parts if parts is None or p.id in parts]
    cells = data.notes_by_cell()
    lines = [header(data)]
    for slot in data.layout():
        if wanted is not None and slot.id not in wanted:
            continue
        changes = []
        if slot.measure.time:
            changes.append(slot.measure.time)
        if slot.measure.key is not None:
            changes.append(f"key {slot.measure.key.fifths:+d}")
        if slot.measure.pickup:
            changes.append("pickup")
        mark = f" [{', '.join(changes)}]" if changes else ""
        for part in part_list:
            notes = [n for n in cells.get((slot.id, part), []) if not n.grace]
            label = f"m{slot.number}{mark} {part_label(data, part)}"
            if not notes:
                if empty:
                    lines.append(f"{label}: empty")
                continue
            voices = sorted({n.voice for n in notes})
            for voice in voices:
                body = "; ".join(note_text(n) for n in notes if n.voice == voice)
                lines.append(f"{label} v{voice}: {body}")
    return "\n".join(lines)
