"""Tools that write notes. Each rewrites whole cells (one measure of one part) through
:meth:`~agents.brains.base.TaskContext.write`, so the runtime's suggestion layer, stale
protection and quality gate see every change; notes are named by measure, part, voice and
onset, as the reading shows them."""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import replace
from typing import Any

from agents.brains.base import Focus, NoteSpec, TaskContext
from agents.tools.reading import note_text
from agents.tools.refs import (
    ToolError,
    measure_id,
    measure_ids,
    parse_duration,
    parse_onset,
    part_id,
    part_ids,
    part_label,
)
from agents.tools.toolbox import (
    DURATION,
    MEASURE,
    MEASURES,
    ONSET,
    PART,
    PARTS,
    PITCHES,
    VOICE,
    Outcome,
    Tool,
    require,
    schema,
)
from score_model.document import ScoreData
from score_model.schema import TIE_TYPES, Note, SchemaError, check_pitch

# What each running task proposed per cell, in suggest mode (the score itself keeps the
# people's notes until a suggestion is accepted): the next edit of the cell builds on it.
_DRAFTS: dict[int, dict[tuple[str, str], list[NoteSpec]]] = {}


def cell(data: ScoreData, measure: str, part: str) -> list[NoteSpec]:
    """The notes of one cell as specs (grace notes, lyrics and dynamics are not kept)."""
    return [
        NoteSpec(n.onset, n.duration, n.pitches, n.voice, n.ties, n.articulations)
        for n in data.notes_by_cell().get((measure, part), [])
        if not n.grace
    ]


def current(ctx: TaskContext, data: ScoreData, measure: str, part: str) -> list[NoteSpec]:
    """The cell as this task sees it: its own proposal if it made one, else the score's."""
    drafted = _DRAFTS.get(id(ctx), {}).get((measure, part))
    return list(drafted) if drafted is not None else cell(data, measure, part)


def spec(raw: Any) -> NoteSpec:
    """A note from the model's JSON, checked against the schema."""
    if not isinstance(raw, dict):
        raise ToolError("each note must be an object {onset, duration, pitches}")
    require(raw, "onset", "duration")
    pitches = raw.get("pitches", [])
    if isinstance(pitches, str):
        pitches = [pitches] if pitches and pitches.lower() != "rest" else []
    try:
        names = tuple(check_pitch(p) for p in pitches)
    except SchemaError as exc:
        raise ToolError(f"{exc}: write pitches like 'C5', 'F#4', 'B-3'") from None
    tie = raw.get("tie")
    if tie is not None and tie not in TIE_TYPES:
        raise ToolError(f"tie {tie!r} is not start, stop or continue")
    duration = parse_duration(raw["duration"])
    if duration <= 0:
        raise ToolError(f"duration {raw['duration']!r} must be positive")
    note = NoteSpec(
        parse_onset(raw["onset"]),
        duration,
        names,
        _voice(raw.get("voice")),
        tuple(tie for _ in names) if tie and names else (),
    )
    Note.from_json("check", note.to_json("m", "p"))  # the schema's own checks
    return note


def proposals(ctx: TaskContext, data: ScoreData, measures: list[str] | None) -> str:
    """This task's proposals not yet in the score (suggest mode), as reading lines."""
    numbers = {slot.id: slot.number for slot in data.layout()}
    lines = []
    for (measure, part), notes in _DRAFTS.get(id(ctx), {}).items():
        if measures is not None and measure not in measures:
            continue
        for voice in sorted({n.voice for n in notes}):
            body = "; ".join(note_text(n) for n in notes if n.voice == voice)
            lines.append(
                f"m{numbers.get(measure, '?')} {part_label(data, part)} v{voice}: {body or 'empty'}"
            )
    if not lines:
        return ""
    return "\nyour proposals, waiting for review (the lines above are the score):\n" + (
        "\n".join(lines)
    )


async def write_cell(ctx: TaskContext, measure: str, part: str, notes: list[NoteSpec]) -> Outcome:
    await ctx.status("writing", Focus((measure,), (part,)))
    ordered = sorted(notes, key=lambda n: (n.voice, n.onset))
    await ctx.write(measure, part, ordered)
    if ctx.request.mode == "suggest":
        if id(ctx) not in _DRAFTS:
            with contextlib.suppress(TypeError):  # a context without weak references
                weakref.finalize(ctx, _DRAFTS.pop, id(ctx), None)
        _DRAFTS.setdefault(id(ctx), {})[(measure, part)] = ordered
    return Outcome(f"ok: wrote {len(notes)} notes", notes=len(notes))


async def write_measure(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    require(args, "measure", "part")
    data = ctx.session.doc.read()
    measure, part = measure_id(data, args["measure"]), part_id(data, args["part"])
    raw_notes = args.get("notes") or []
    if not isinstance(raw_notes, list):
        raise ToolError("notes must be a list of {onset, duration, pitches}")
    notes = [spec(raw) for raw in raw_notes]
    voices = {n.voice for n in notes} or {_voice(args.get("voice"))}
    kept = [n for n in current(ctx, data, measure, part) if n.voice not in voices]
    return await write_cell(ctx, measure, part, kept + notes)


async def add_note(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    require(args, "measure", "part")
    data = ctx.session.doc.read()
    measure, part = measure_id(data, args["measure"]), part_id(data, args["part"])
    note = spec(args)
    return await write_cell(ctx, measure, part, [*current(ctx, data, measure, part), note])


async def remove_note(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    require(args, "measure", "part", "onset")
    data = ctx.session.doc.read()
    measure, part = measure_id(data, args["measure"]), part_id(data, args["part"])
    notes = current(ctx, data, measure, part)
    target = _find(notes, args)
    return await write_cell(ctx, measure, part, [n for n in notes if n is not target])


async def change_note(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    require(args, "measure", "part", "onset")
    data = ctx.session.doc.read()
    measure, part = measure_id(data, args["measure"]), part_id(data, args["part"])
    notes = current(ctx, data, measure, part)
    target = _find(notes, args)
    merged = {
        "onset": args.get("new_onset", target.onset),
        "duration": args.get("duration", target.duration),
        "pitches": args.get("pitches", list(target.pitches)),
        "voice": target.voice,
    }
    changed = spec(merged)
    if "pitches" not in args and target.ties:
        changed = replace(changed, ties=target.ties)
    if "pitches" not in args and target.articulations:
        changed = replace(changed, articulations=target.articulations)
    return await write_cell(ctx, measure, part, [changed if n is target else n for n in notes])


async def set_tie(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    require(args, "measure", "part", "onset")
    tie = args.get("tie")
    if tie is not None and tie not in TIE_TYPES:
        raise ToolError(f"tie {tie!r} is not start, stop, continue or null")
    data = ctx.session.doc.read()
    measure, part = measure_id(data, args["measure"]), part_id(data, args["part"])
    notes = current(ctx, data, measure, part)
    target = _find(notes, args)
    if not target.pitches:
        raise ToolError("a rest cannot be tied")
    tied = replace(target, ties=tuple(tie for _ in target.pitches) if tie else ())
    return await write_cell(ctx, measure, part, [tied if n is target else n for n in notes])


async def transpose(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """Transpose notes by an interval name, spelled by music21."""
    require(args, "interval")
    from music21 import interval as m21interval
    from music21 import pitch as m21pitch

    try:
        step = m21interval.Interval(str(args["interval"]))
    except Exception:  # music21 raises several types for bad names
        raise ToolError(f"interval {args['interval']!r} is not like 'M2', '-P5', 'm3'") from None
    data = ctx.session.doc.read()
    measures = measure_ids(data, args.get("measures"))
    parts = part_ids(data, args.get("parts"))
    written = 0
    for measure, part in list(data.notes_by_cell()):
        if (measures is not None and measure not in measures) or (
            parts is not None and part not in parts
        ):
            continue
        notes = current(ctx, data, measure, part)
        if not any(n.pitches for n in notes):
            continue
        moved = [
            replace(
                n,
                pitches=tuple(
                    check_pitch(step.transposePitch(m21pitch.Pitch(p)).nameWithOctave)
                    for p in n.pitches
                ),
            )
            for n in notes
        ]
        written += (await write_cell(ctx, measure, part, moved)).notes
    return Outcome(f"ok: transposed {written} notes by {args['interval']}", notes=written)


async def add_part(ctx: TaskContext, args: dict[str, Any]) -> Outcome:
    """Add an empty part (a structural edit, applied at once in every mode)."""
    require(args, "name")
    name = str(args["name"])[:64]
    fields = {k: args[k] for k in ("instrument", "clef") if args.get(k)}
    new_id = await ctx.session.edit(lambda editor: editor.add_part(name, **fields))
    index = len(ctx.session.doc.read().parts)
    return Outcome(f"ok: added part P{index} {name} ({new_id})")


def _find(notes: list[NoteSpec], args: dict[str, Any]) -> NoteSpec:
    onset = parse_onset(args["onset"])
    voice = _voice(args.get("voice"))
    matches = [n for n in notes if n.onset == onset and n.voice == voice]
    if not matches:
        there = (
            ", ".join(f"@{n.onset}" + (f" v{n.voice}" if n.voice != 1 else "") for n in notes)
            or "no notes"
        )
        raise ToolError(f"no note at onset {onset} in voice {voice}; this cell has {there}")
    return matches[0]


def _voice(value: Any) -> int:
    if value in (None, ""):
        return 1
    voice = int(value)
    if not 1 <= voice <= 8:
        raise ToolError("voice must be 1 to 8")
    return voice


NOTE = {
    "type": "object",
    "properties": {
        "onset": ONSET,
        "duration": DURATION,
        "pitches": PITCHES,
        "voice": VOICE,
        "tie": {"type": "string", "enum": ["start", "stop", "continue"]},
    },
    "required": ["onset", "duration", "pitches"],
}
WHERE = {"measure": MEASURE, "part": PART}
AT = {**WHERE, "onset": ONSET, "voice": VOICE}

TOOLS = (
    Tool(
        "write_measure",
        "Write the notes of one measure of one part, replacing what its voices hold "
        "(other voices stay). Use it to write music measure by measure.",
        schema({**WHERE, "notes": {"type": "array", "items": NOTE}}, ["measure", "part", "notes"]),
        write_measure,
        writes=True,
    ),
    Tool(
        "add_note",
        "Add a note, chord (several pitches) or rest ([]) to a measure.",
        schema(
            {**WHERE, "onset": ONSET, "duration": DURATION, "pitches": PITCHES, "voice": VOICE},
            ["measure", "part", "onset", "duration", "pitches"],
        ),
        add_note,
        writes=True,
    ),
    Tool(
        "remove_note",
        "Remove the note at an onset of a measure, part and voice.",
        schema(AT, ["measure", "part", "onset"]),
        remove_note,
        writes=True,
    ),
    Tool(
        "change_note",
        "Change the pitches, duration or onset of the note at an onset.",
        schema(
            {**AT, "pitches": PITCHES, "duration": DURATION, "new_onset": ONSET},
            ["measure", "part", "onset"],
        ),
        change_note,
        writes=True,
    ),
    Tool(
        "set_tie",
        "Tie the note at an onset to the next one ('start'), or untie (null).",
        schema(
            {
                **AT,
                "tie": {"type": ["string", "null"], "enum": ["start", "stop", "continue", None]},
            },
            ["measure", "part", "onset", "tie"],
        ),
        set_tie,
        writes=True,
    ),
    Tool(
        "transpose",
        "Transpose notes by an interval ('M2' up a major second, '-P5' down a fifth), "
        "in some measures and parts or everywhere.",
        schema(
            {"interval": {"type": "string"}, "measures": MEASURES, "parts": PARTS}, ["interval"]
        ),
        transpose,
        writes=True,
    ),
    Tool(
        "add_part",
        "Add an empty part (for example Alto, Tenor, Bass before harmonising).",
        schema(
            {
                "name": {"type": "string"},
                "instrument": {"type": "string"},
                "clef": {"type": "string", "enum": ["treble", "bass", "alto", "tenor"]},
            },
            ["name"],
        ),
        add_part,
        writes=True,
    ),
)
