"""What a score document contributes to the search index, as pure functions.

Melody: one line per (part, voice), notes in time order; a chord counts as its highest
pitch, rests and grace notes are skipped, a tied continuation of the same pitch
lengthens the note before it. Text: the title, the composer, each part's lyrics (one
entry per part), each chat message and each comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from persistence.search.base import MelodyLine, Posting, TextEntry
from persistence.search.ngrams import grams
from score_model.document import ScoreData
from score_model.midi_writer import midi_number


@dataclass(frozen=True, slots=True)
class NoteLine:
    """A line of notes: MIDI keys, durations (quarter notes), measure ids; the part's
    name, and each note's measure number and id (a tied continuation's is its first
    note's)."""

    part_id: str
    voice: int
    midis: tuple[int, ...]
    durations: tuple[Fraction, ...]
    measures: tuple[str, ...]
    part_name: str = ""
    numbers: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


def midi_of(name: str) -> int | None:
    """The MIDI key of a pitch name (``C#4``, ``B-3``), ``None`` if it is not one."""
    try:
        return midi_number(name)
    except (KeyError, ValueError, IndexError):
        return None


def note_lines(data: ScoreData) -> list[NoteLine]:
    """The melodic lines of a decoded score, in part then voice order."""
    slots = {slot.measure.id: slot for slot in data.layout()}
    offsets = {measure: slot.offset for measure, slot in slots.items()}
    order = {part.id: i for i, part in enumerate(data.parts)}
    names = {part.id: part.name for part in data.parts}
    by_line: dict[tuple[str, int], list[tuple[Fraction, int, Fraction, str, bool, str]]] = {}
    for note in data.notes.values():
        if note.is_rest or note.grace or note.measure not in offsets:
            continue
        keyed = [(m, i) for i, p in enumerate(note.pitches) if (m := midi_of(p)) is not None]
        if not keyed:
            continue
        midi, index = max(keyed)
        tied = note.tie_of(index) in ("stop", "continue")
        start = offsets[note.measure] + note.onset
        by_line.setdefault((note.part, note.voice), []).append(
            (start, midi, note.duration, note.measure, tied, note.id)
        )
    lines = []
    for (part, voice), notes in sorted(
        by_line.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0])
    ):
        notes.sort(key=lambda n: (float(n[0]), n[0], -n[1]))  # floats first: fast, same order
        midis: list[int] = []
        durations: list[Fraction] = []
        measures: list[str] = []
        ids: list[str] = []
        last_start: Fraction | None = None
        for start, midi, duration, measure, tied, note_id in notes:
            if start == last_start:
                continue  # a second note at one onset in one voice: keep the highest
            last_start = start
            if tied and midis and midis[-1] == midi:
                durations[-1] += duration
                continue
            midis.append(midi)
            durations.append(duration)
            measures.append(measure)
            ids.append(note_id)
        lines.append(
            NoteLine(
                part,
                voice,
                tuple(midis),
                tuple(durations),
                tuple(measures),
                names.get(part, ""),
                tuple(slots[m].number for m in measures),
                tuple(ids),
            )
        )
    return lines


def melody_index(lines: Sequence[NoteLine]) -> tuple[list[MelodyLine], list[Posting]]:
    """The rows :meth:`~persistence.search.base.SearchIndex.put_melody` stores: both gram
    families (interval, interval and rhythm) of every line."""
    rows = [
        MelodyLine(
            line.part_id, line.voice, line.measures, line.part_name, line.numbers, line.notes
        )
        for line in lines
    ]
    postings = []
    for i, line in enumerate(lines):
        for pos, key in grams(line.midis):
            postings.append(Posting(key, i, pos))
        for pos, key in grams(line.midis, line.durations):
            postings.append(Posting(key, i, pos))
    return rows, postings


def text_entries(data: ScoreData, chat: Sequence[Any], comments: dict[str, Any]) -> list[TextEntry]:
    """The text entries of a score: title, composer, lyrics per part, chat, comments."""
    entries = [
        TextEntry("title", "", data.meta.title),
        TextEntry("composer", "", data.meta.composer),
    ]
    lyrics: dict[str, list[tuple[Fraction, str]]] = {}
    offsets = {slot.measure.id: slot.offset for slot in data.layout()}
    for note in data.notes.values():
        if note.lyric:
            start = offsets.get(note.measure, Fraction(0)) + note.onset
            lyrics.setdefault(note.part, []).append((start, note.lyric))
    for part in data.parts:
        syllables = sorted(lyrics.get(part.id, []), key=lambda s: (float(s[0]), s[0]))
        entries.append(TextEntry("lyrics", part.id, " ".join(text for _, text in syllables)))
    for message in chat:
        if isinstance(message, dict) and isinstance(message.get("text"), str):
            entries.append(TextEntry("chat", str(message.get("id", "")), message["text"]))
    for comment_id, comment in comments.items():
        if isinstance(comment, dict) and isinstance(comment.get("text"), str):
            entries.append(TextEntry("comment", comment_id, comment["text"]))
    return entries
