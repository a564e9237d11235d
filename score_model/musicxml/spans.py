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

from score_model.musicxml.events import Voice
from score_model.schema import Note

__all__ = ["Spans", "pair_spans", "starts_first"]


@dataclass(slots=True)
class Spans:
    """Per note id: slur marks ``(type, number)``, wedges starting before it ``(kind,
    number)`` and wedges stopping after it (numbers); and how many marks went unpaired."""

    slurs: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    wedge_starts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    wedge_stops: dict[str, list[int]] = field(default_factory=dict)
    unpaired: int = 0
    pairs: list[tuple[str, str]] = field(default_factory=list)
    """Every slur and wedge written, as (first note id, last note id)."""


def pair_spans(marked: Iterable[tuple[Fraction, Fraction, Fraction, Note]]) -> Spans:
    """Pair the marks of one part's notes, each given with its time from the score's start
    and where its measure starts and ends.

    A span's number is held from the start of its first note's measure to the end of its
    last note's: within a measure the staves and voices are written one after the other,
    so a number freed and taken again inside one measure could be read in the wrong order.
    """
    ordered = sorted(marked, key=lambda entry: (entry[0], entry[3].staff, entry[3].voice))
    bars = {id(n): (start, end) for _, start, end, n in ordered}
    spans = Spans()
    slur_pairs: list[tuple[Note, Note]] = []
    wedge_pairs: list[tuple[str, Note, Note]] = []
    open_slurs: list[tuple[int, Note]] = []
    open_wedges: list[tuple[str, Note]] = []
    for *_, item in ordered:
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
    spans.pairs = [(a.id, b.id) for a, b in slur_pairs] + [(a.id, b.id) for _, a, b in wedge_pairs]
    slur_numbers = _numbers([(bars[id(a)][0], bars[id(b)][1]) for a, b in slur_pairs])
    for (first, last), number in zip(slur_pairs, slur_numbers, strict=True):
        spans.slurs.setdefault(first.id, []).append(("start", number))
        spans.slurs.setdefault(last.id, []).append(("stop", number))
    wedge_numbers = _numbers([(bars[id(a)][0], bars[id(b)][1]) for _, a, b in wedge_pairs])
    for (kind, first, last), number in zip(wedge_pairs, wedge_numbers, strict=True):
        spans.wedge_starts.setdefault(first.id, []).append((kind, number))
        spans.wedge_stops.setdefault(last.id, []).append(number)
    return spans


def _numbers(held: list[tuple[Fraction, Fraction]]) -> list[int]:
    """The lowest number free over each interval (a number freed at a time may be taken
    again from that time)."""
    events = sorted(
        [(end, 0, index) for index, (_, end) in enumerate(held)]
        + [(start, 1, index) for index, (start, _) in enumerate(held)]
    )
    used: set[int] = set()
    numbers = [0] * len(held)
    for _, kind, index in events:
        if kind == 0:
            used.discard(numbers[index])
            continue
        number = 1
        while number in used:
            number += 1
        used.add(number)
        numbers[index] = number
    return numbers


def starts_first(voices: list[Voice], pairs: list[tuple[str, str]]) -> list[Voice]:
    """The voices of one measure in writing order: staff and voice order, except that a
    voice holding the first note of a slur or wedge whose last note is in another voice of
    the measure goes before that voice. Readers (music21's) pair a stop with a start they
    have already read, so a span from voice 2 up to voice 1 would otherwise be lost."""
    where = {event.note.id: i for i, voice in enumerate(voices) for event in voice.events}
    before = {
        (where[first], where[last])
        for first, last in pairs
        if first in where and last in where and where[first] != where[last]
    }
    if not before:
        return voices
    remaining, order = list(range(len(voices))), []
    while remaining:
        free = [i for i in remaining if not any((j, i) in before for j in remaining)]
        if not free:  # spans both ways between two voices: keep the usual order
            return voices
        remaining.remove(free[0])
        order.append(free[0])
    return [voices[i] for i in order]
