"""Validation of a live score: reports problems with their locations, never raises.

Overfull and underfull measures, orphaned notes and off-schema values are legal states
of a live document (a client may be half-way through an edit, or misbehave); they are
reported here so that people, agents and exports can act on them.
"""

from __future__ import annotations

from fractions import Fraction

from score_model.document import MeasureSlot, ScoreData, ScoreDoc
from score_model.schema import Problem, format_fraction
from score_model.suggestions import OPEN, decode_suggestions
from score_model.tuplets import group_problems


def validate(score: ScoreDoc | ScoreData) -> list[Problem]:
    """All problems in a score document, decoding problems first."""
    try:
        data = score.read() if isinstance(score, ScoreDoc) else score
    except Exception as exc:  # a document pycrdt itself cannot read
        return [Problem("unreadable", f"the document cannot be read: {exc}")]
    problems = list(data.problems)
    measure_ids = {m.id for m in data.measures}
    part_ids = {p.id for p in data.parts}
    slots = {slot.id: slot for slot in data.layout()}
    ends: dict[tuple[str, str, int], list[tuple[Fraction, Fraction]]] = {}
    for note in data.notes.values():
        if note.measure not in measure_ids or note.part not in part_ids:
            missing = "measure" if note.measure not in measure_ids else "part"
            problems.append(
                Problem(
                    "orphan_note",
                    f"note {note.id} points at no existing {missing}",
                    measure=note.measure,
                    part=note.part,
                    note=note.id,
                    voice=note.voice,
                )
            )
            continue
        if not note.grace:
            ends.setdefault((note.measure, note.part, note.voice), []).append(
                (note.onset, note.end)
            )
    for (measure_id, part_id, voice), spans in ends.items():
        slot = slots[measure_id]
        end = max(stop for _, stop in spans)
        if end > slot.bar:
            problems.append(
                Problem(
                    "overfull",
                    f"measure {slot.number}, voice {voice}: content ends at "
                    f"{format_fraction(end)} but the bar ({slot.time}) ends at "
                    f"{format_fraction(slot.bar)}",
                    measure=measure_id,
                    part=part_id,
                    voice=voice,
                )
            )
        elif not slot.measure.pickup and voice == 1 and _covered(spans) < slot.bar:
            problems.append(
                Problem(
                    "underfull",
                    f"measure {slot.number}, voice 1: notes and rests cover "
                    f"{format_fraction(_covered(spans))} of {format_fraction(slot.bar)}",
                    measure=measure_id,
                    part=part_id,
                    voice=voice,
                    severity="warning",
                )
            )
    problems.extend(group_problems(n for n in data.notes.values() if n.tuplets))
    problems.extend(_chord_symbol_problems(data, part_ids, slots))
    if isinstance(score, ScoreDoc):
        problems.extend(_suggestion_problems(score, measure_ids, part_ids))
    return problems


def _chord_symbol_problems(
    data: ScoreData, part_ids: set[str], slots: dict[str, MeasureSlot]
) -> list[Problem]:
    """Chord symbols (version 4) on a part that does not exist, or after the bar's end."""
    problems: list[Problem] = []
    for measure in data.measures:
        for symbol in measure.chord_symbols:
            if symbol.part not in part_ids:
                message = f"a chord symbol of measure {slots[measure.id].number} is on no part"
                code = "orphan_chord_symbol"
            elif symbol.onset >= slots[measure.id].bar:
                message = (
                    f"a chord symbol of measure {slots[measure.id].number} at "
                    f"{format_fraction(symbol.onset)} is after the end of the bar"
                )
                code = "chord_symbol_outside"
            else:
                continue
            problems.append(
                Problem(code, message, measure=measure.id, part=symbol.part, severity="warning")
            )
    return problems


def _suggestion_problems(
    score: ScoreDoc, measure_ids: set[str], part_ids: set[str]
) -> list[Problem]:
    """Off-schema suggestions (errors) and open ones whose cell no longer exists."""
    suggestions, bad = decode_suggestions(score.raw_suggestions())
    problems = [Problem("bad_suggestion", f"suggestion {i} is off-schema") for i in bad]
    for suggestion in suggestions.values():
        if suggestion.status in OPEN and (
            suggestion.measure not in measure_ids or suggestion.part not in part_ids
        ):
            problems.append(
                Problem(
                    "orphan_suggestion",
                    f"suggestion {suggestion.id} points at no existing measure or part",
                    measure=suggestion.measure,
                    part=suggestion.part,
                    severity="warning",
                )
            )
    return problems


def _covered(spans: list[tuple[Fraction, Fraction]]) -> Fraction:
    """Total length covered by possibly overlapping spans."""
    total, reach = Fraction(0), Fraction(0)
    for start, stop in sorted(spans):
        if stop > reach:
            total += stop - max(start, reach)
            reach = stop
    return total
