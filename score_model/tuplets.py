"""Tuplet groups (schema version 4): what makes a group well formed, for the typed edit
operations (which refuse a bad group) and validation (which reports one).

A group is the notes of one cell (measure and part) and voice that share a tuplet id.
It is well formed when its notes follow each other without gaps, each note's written
value (its duration without the squeeze of its groups) is a note value, and the notes
fill the group: ``normal`` times its ``unit``, squeezed by the groups around it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from itertools import pairwise

from score_model.schema import Note, Problem, Tuplet

__all__ = ["TupletError", "check_group", "group_problems", "groups_of", "note_value"]


class TupletError(ValueError):
    """A group of notes that cannot be a tuplet (the message says why)."""


def note_value(value: Fraction) -> bool:
    """Whether a length is a note value with up to two dots (a 1024th to a breve)."""
    if value <= 0:
        return False
    for dots in (Fraction(1), Fraction(3, 2), Fraction(7, 4)):
        base = value / dots
        if base.numerator == 1 and base.denominator & (base.denominator - 1) == 0:
            return base.denominator <= 256
        if base.denominator == 1 and base.numerator in (1, 2, 4, 8):
            return True
    return False


def groups_of(notes: Iterable[Note]) -> dict[tuple[int, str], list[Note]]:
    """The notes of each tuplet group by (level, group id), in onset order."""
    groups: dict[tuple[int, str], list[Note]] = {}
    for note in notes:
        for level, group in enumerate(note.tuplets):
            groups.setdefault((level, group.id), []).append(note)
    for members in groups.values():
        members.sort(key=lambda n: (n.onset, n.id))
    return groups


def check_group(notes: list[Note], group: Tuplet, outer: tuple[Tuplet, ...] = ()) -> Fraction:
    """Check that ``notes`` (in onset order) can form ``group`` inside the ``outer``
    groups; return the group's unit (``group.unit``, else what the notes imply). Raises
    :class:`TupletError` naming the problem."""
    if not notes:
        raise TupletError("a tuplet needs at least one note")
    first = notes[0]
    if any((n.measure, n.part, n.voice) != (first.measure, first.part, first.voice) for n in notes):
        raise TupletError("the notes of a tuplet must be in one measure, part and voice")
    if any(n.grace for n in notes):
        raise TupletError("grace notes cannot be in a tuplet")
    for before, after in pairwise(notes):
        if after.onset != before.end:
            raise TupletError("the notes of a tuplet must follow each other without gaps")
    if group.actual == group.normal:
        raise TupletError("a tuplet's actual and normal numbers must differ")
    squeeze = group.ratio
    for outside in outer:
        squeeze *= outside.ratio
    for n in notes:
        # in the group already (validation): its written value under all its groups
        written = n.written if any(t.id == group.id for t in n.tuplets) else n.duration / squeeze
        if not note_value(written):
            raise TupletError(
                f"note {n.id}: {n.duration} quarters is no note value in a "
                f"{group.actual}:{group.normal} tuplet"
            )
    total = sum((n.duration for n in notes), Fraction(0))
    unit = (
        group.unit if group.unit is not None else total / (group.normal * (squeeze / group.ratio))
    )
    if total != group.normal * unit * (squeeze / group.ratio) or not note_value(unit):
        raise TupletError(
            f"the notes last {total} quarters: a {group.actual}:{group.normal} tuplet of "
            f"{'value ' + str(unit) if group.unit is not None else 'any note value'} "
            "does not last that"
        )
    return unit


def group_problems(notes: Iterable[Note]) -> list[Problem]:
    """Warnings for tuplet groups that are not well formed (see :func:`check_group`):
    exports still write them, with brackets over the notes there are."""
    problems: list[Problem] = []
    for (level, _), members in groups_of(notes).items():
        first = members[0]
        try:
            check_group(members, first.tuplets[level], first.tuplets[:level])
        except TupletError as exc:
            problems.append(
                Problem(
                    "tuplet_mismatch",
                    f"tuplet {first.tuplets[level].id}: {exc}",
                    measure=first.measure,
                    part=first.part,
                    note=first.id,
                    voice=first.voice,
                    severity="warning",
                )
            )
    return problems
