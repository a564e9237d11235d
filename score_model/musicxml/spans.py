"""Slurs and hairpins (schema version 3): the notes' start and stop marks paired into
spans, and numbered as MusicXML wants (a number is free again once its span stops).

A slur's ``"start"`` pairs with the next ``"stop"`` of the same voice (nested slurs pair
innermost first), or of another voice of the part when its own has none open (a slur
across staves); a crescendo or diminuendo with the next hairpin ``"stop"`` of the part
(overlapping wedges pair innermost first). Marks left unpaired are counted, not written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from score_model.schema import Note

__all__ = ["Spans", "pair_spans"]


@dataclass(slots=True)
class Spans:
    """Per note id: slur marks ``(type, number)``, wedges starting before it ``(kind,
    number)`` and wedges stopping after it (numbers); and how many marks went unpaired."""

    slurs: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    wedge_starts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    wedge_stops: dict[str, list[int]] = field(default_factory=dict)
    unpaired: int = 0


def pair_spans(marked: Iterable[tuple[Fraction, Note]]) -> Spans:
    """Pair the marks of one part's notes, given with their time from the score's start."""
    ordered = sorted(marked, key=lambda entry: (entry[0], entry[1].staff, entry[1].voice))
    spans = Spans()
    slur_pairs: list[tuple[Note, Note]] = []
    wedge_pairs: list[tuple[str, Note, Note]] = []
    open_slurs: list[tuple[int, Note]] = []
    open_wedges: list[tuple[str, Note]] = []
    for _, item in ordered:
        for mark in item.hairpins:
            if mark == "stop" and open_wedges:
                kind, first = open_wedges.pop()
                wedge_pairs.append((kind, first, item))
            elif mark == "stop":
                spans.unpaired += 1
        open_wedges.extend((mark, item) for mark in item.hairpins if mark != "stop")
        for mark in item.slurs:
            if mark != "stop":
                continue
            if not open_slurs:
                spans.unpaired += 1
                continue
            mine = [i for i, (v, _) in enumerate(open_slurs) if v == item.voice]
            slur_pairs.append((open_slurs.pop(mine[-1] if mine else -1)[1], item))
        open_slurs.extend((item.voice, item) for mark in item.slurs if mark == "start")
    spans.unpaired += len(open_wedges) + len(open_slurs)
    _number_slurs(spans, slur_pairs, {id(n): t for t, n in ordered})
    _number_wedges(spans, wedge_pairs, {id(n): t for t, n in ordered})
    return spans


def _free(used: set[int]) -> int:
    number = 1
    while number in used:
        number += 1
    used.add(number)
    return number


def _number_slurs(spans: Spans, pairs: list[tuple[Note, Note]], times: dict[int, Fraction]) -> None:
    events = [(times[id(first)], 0, index) for index, (first, _) in enumerate(pairs)]
    events += [(times[id(last)], 1, index) for index, (_, last) in enumerate(pairs)]
    events.sort(key=lambda e: (e[0], e[1]))  # a number freed at a time is not reused there
    used: set[int] = set()
    numbers: dict[int, int] = {}
    for _, kind, index in events:
        first, last = pairs[index]
        if kind == 0:
            numbers[index] = _free(used)
            spans.slurs.setdefault(first.id, []).append(("start", numbers[index]))
        else:
            spans.slurs.setdefault(last.id, []).append(("stop", numbers[index]))
            used.discard(numbers[index])


def _number_wedges(
    spans: Spans, pairs: list[tuple[str, Note, Note]], times: dict[int, Fraction]
) -> None:
    ordered = sorted(range(len(pairs)), key=lambda i: times[id(pairs[i][1])])
    active: list[tuple[Fraction, int]] = []  # (stop time, number)
    for index in ordered:
        kind, first, last = pairs[index]
        start = times[id(first)]
        active = [(end, number) for end, number in active if end >= start]
        used = {number for _, number in active}
        number = _free(used)
        active.append((times[id(last)] + last.duration, number))
        spans.wedge_starts.setdefault(first.id, []).append((kind, number))
        spans.wedge_stops.setdefault(last.id, []).append(number)
