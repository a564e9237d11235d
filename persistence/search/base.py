"""The :class:`SearchIndex` protocol: a melodic n-gram index and a full-text index per
score, replaced whole when a score is re-indexed and deleted with the score.

Melody: a score has lines (one per part and voice) of notes; each line's grams
(:mod:`persistence.search.ngrams`) are postings ``(key, line, position)``. A query is a
list of ``(offset, key)``; :meth:`SearchIndex.find_melody` counts, per candidate start
``position - offset`` in a line, how many query grams agree there.

Text: entries ``(kind, ref, text)`` of kinds :data:`TEXT_KINDS`; a query matches an
entry holding every one of its words (case-insensitive, whole words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

TextKind = Literal["title", "composer", "lyrics", "chat", "comment"]
TEXT_KINDS: frozenset[str] = frozenset(get_args(TextKind))

#: Largest text entry stored, in characters (longer text is cut).
MAX_TEXT_CHARS = 20_000
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class MelodyLine:
    """One indexed line: its part, voice and, per note, its measure id; also the part's
    name and, per note, its measure number and note id (what a hit shows and selects;
    empty for lines indexed before they were stored)."""

    part_id: str
    voice: int
    measures: tuple[str, ...]
    part_name: str = ""
    numbers: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


def line_row(score_id: str, index: int, line: MelodyLine) -> tuple[Any, ...]:
    """A ``melody_lines`` row, lists as JSON text: ``(score_id, line, part_id, voice,
    measures, part_name, numbers, notes)`` (the SQL stores' column order)."""
    return (
        score_id,
        index,
        line.part_id,
        line.voice,
        json.dumps(line.measures),
        line.part_name,
        json.dumps(line.numbers),
        json.dumps(line.notes),
    )


def read_line(
    part_id: str, voice: int, measures: str, part_name: str, numbers: str, notes: str
) -> MelodyLine:
    """A :class:`MelodyLine` from a ``melody_lines`` row's columns (JSON as text)."""
    return MelodyLine(
        part_id,
        voice,
        tuple(json.loads(measures)),
        part_name,
        tuple(json.loads(numbers)),
        tuple(json.loads(notes)),
    )


@dataclass(frozen=True, slots=True)
class Posting:
    key: int
    line: int
    pos: int


@dataclass(frozen=True, slots=True)
class MelodyCandidate:
    """A start ``pos`` in ``line`` of ``score_id`` where ``hits`` query grams agree."""

    score_id: str
    line: int
    pos: int
    hits: int


@dataclass(frozen=True, slots=True)
class TextEntry:
    kind: TextKind
    ref: str  # what in the score: "" for title/composer, a note, comment or message id
    text: str


@dataclass(frozen=True, slots=True)
class TextHit:
    score_id: str
    kind: TextKind
    ref: str
    text: str
    rank: float  # larger is better


@dataclass(frozen=True, slots=True)
class IndexStats:
    scores: int
    lines: int
    postings: int
    text_entries: int


class SearchIndex(Protocol):
    async def put_melody(
        self, score_id: str, lines: Sequence[MelodyLine], postings: Sequence[Posting]
    ) -> None:
        """Replace the score's melodic index. :class:`~persistence.errors.NotFound` for
        an unknown score."""
        ...

    async def find_melody(
        self,
        query: Sequence[tuple[int, int]],
        *,
        score_ids: Collection[str] | None = None,
        min_hits: int = 1,
        limit: int = 100,
    ) -> list[MelodyCandidate]:
        """Candidates with at least ``min_hits`` agreeing grams, most hits first (then
        score id, line, position), within ``score_ids`` if given."""
        ...

    async def melody_lines(self, score_id: str, lines: Collection[int]) -> dict[int, MelodyLine]:
        """The named lines of a score (missing ones are left out)."""
        ...

    async def put_text(self, score_id: str, entries: Sequence[TextEntry]) -> None:
        """Replace the score's text entries. ``NotFound`` for an unknown score."""
        ...

    async def search_text(
        self,
        query: str,
        *,
        score_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        limit: int = 50,
    ) -> list[TextHit]:
        """Entries holding every word of ``query``, best first."""
        ...

    async def stats(self) -> IndexStats:
        """How much is indexed."""
        ...


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (what a text query must all contain)."""
    return _WORD.findall(text.lower())


def check_entries(entries: Sequence[TextEntry]) -> list[TextEntry]:
    """Validated entries, texts cut to :data:`MAX_TEXT_CHARS`, empty ones dropped."""
    out = []
    for entry in entries:
        if entry.kind not in TEXT_KINDS:
            raise ValueError(f"invalid text kind {entry.kind!r}")
        if entry.text.strip():
            out.append(TextEntry(entry.kind, entry.ref, entry.text[:MAX_TEXT_CHARS]))
    return out


def check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("limit must be an integer >= 1")
