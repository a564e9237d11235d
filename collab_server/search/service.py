"""Melodic and text search over the scores a caller may read, and (re-)indexing a score.

A melodic query is a list of notes (``C4``, ``Eb4``, ``F#``; a note without an octave
is placed nearest the note before it), optionally with durations: without them the
search is rhythm-invariant, with them it matches the rhythm too (up to a tempo factor).
The similarity of a hit is the share of the query's n-grams that agree at that place;
1.0 is an exact (transposed) occurrence.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from collab_server.errors import BadRequest
from collab_server.search.extract import melody_index, note_lines, text_entries
from collab_server.security.authenticator import Identity
from persistence.base import ScoreCatalog
from persistence.errors import NotFound
from persistence.search.base import TEXT_KINDS, SearchIndex
from persistence.search.ngrams import GRAM, grams
from score_model.document import ScoreDoc

log = logging.getLogger("orpheus.search")

#: Most notes in a melodic query.
MAX_QUERY_NOTES = 64
_NOTE = re.compile(r"([A-Ga-g])(##|#|bb|b|--|-)?(\d)?")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALTERS = {"": 0, "#": 1, "##": 2, "b": -1, "bb": -2, "-": -1, "--": -2}


class AccountsView(Protocol):
    async def scores_of(self, user_id: str) -> list[str]: ...


def parse_notes(names: Sequence[str]) -> list[int]:
    """MIDI keys of note names; ``BadRequest`` for a name that is not a note."""
    midis: list[int] = []
    for name in names:
        match = _NOTE.fullmatch(name.strip())
        if match is None:
            raise BadRequest(f"not a note name: {name!r} (try C4, Eb4, F#)")
        step, alter, octave = match.groups()
        pitch_class = _STEPS[step.upper()] + _ALTERS[alter or ""]
        if octave is not None:
            midis.append(pitch_class + 12 * (int(octave) + 1))
        elif midis:
            previous = midis[-1]
            midis.append(previous + (pitch_class - previous + 6) % 12 - 6)
        else:
            midis.append(pitch_class + 60)
    return midis


def parse_durations(values: Sequence[str | float]) -> list[Fraction]:
    """Durations in quarter notes (``1``, ``0.5``, ``3/2``); ``BadRequest`` otherwise."""
    try:
        out = [Fraction(str(v).strip()) for v in values]
    except (ValueError, ZeroDivisionError):
        raise BadRequest("durations must be numbers of quarter notes (1, 0.5, 3/2)") from None
    if any(not 0 < d <= 1024 for d in out):
        raise BadRequest("durations must be positive, at most 1024 quarter notes")
    return out


@dataclass(frozen=True, slots=True)
class MelodyHit:
    score_id: str
    title: str
    part_id: str
    voice: int
    note_index: int  # the line's note where the match starts
    measure_ids: tuple[str, ...]  # the measures the match spans, in order
    similarity: float
    part_name: str = ""
    measure_numbers: tuple[int, ...] = ()  # of measure_ids (empty: indexed before 0011)
    note_ids: tuple[str, ...] = ()  # the line's notes the match covers

    def to_json(self) -> dict[str, Any]:
        return {
            "score_id": self.score_id,
            "title": self.title,
            "part_id": self.part_id,
            "voice": self.voice,
            "note_index": self.note_index,
            "measure_ids": list(self.measure_ids),
            "similarity": round(self.similarity, 4),
            "part_name": self.part_name,
            "measure_numbers": list(self.measure_numbers),
            "note_ids": list(self.note_ids),
        }


class SearchService:
    """Queries the index within the scores an identity may read; indexes documents.

    ``accounts``: with access control on, a user reads the scores granted to them (a
    share link: its one score); ``None`` (no access control): every score."""

    def __init__(
        self, index: SearchIndex, catalog: ScoreCatalog, accounts: AccountsView | None = None
    ) -> None:
        self.index = index
        self.catalog = catalog
        self.accounts = accounts

    async def readable(self, identity: Identity | None) -> list[str] | None:
        """The ids of the scores ``identity`` may read, ``None`` for all of them."""
        if self.accounts is None or identity is None:
            return None
        if identity.link is not None:
            return [identity.link.score_id]
        if identity.user_id is not None:
            return await self.accounts.scores_of(identity.user_id)
        return []

    async def melody(
        self,
        notes: Sequence[int],
        durations: Sequence[Fraction] | None = None,
        *,
        identity: Identity | None = None,
        min_similarity: float = 0.6,
        limit: int = 20,
    ) -> list[MelodyHit]:
        """Where the melody ``notes`` (MIDI keys) occurs, best first."""
        if not GRAM + 1 <= len(notes) <= MAX_QUERY_NOTES:
            raise BadRequest(f"a melodic query needs {GRAM + 1} to {MAX_QUERY_NOTES} notes")
        if durations is not None and len(durations) != len(notes):
            raise BadRequest("give one duration per note, or none")
        if not 0 < min_similarity <= 1:
            raise BadRequest("min_similarity must be in (0, 1]")
        query = grams(notes, durations)
        scope = await self.readable(identity)
        if scope is not None and not scope:
            return []
        found = await self.index.find_melody(
            query,
            score_ids=scope,
            min_hits=max(1, math.ceil(min_similarity * len(query) - 1e-9)),
            limit=limit,
        )
        titles: dict[str, str | None] = {}
        lines: dict[str, dict[int, Any]] = {}
        hits = []
        for candidate in found:
            if candidate.score_id not in titles:
                titles[candidate.score_id] = await self._title(candidate.score_id)
                lines[candidate.score_id] = await self.index.melody_lines(
                    candidate.score_id, {c.line for c in found if c.score_id == candidate.score_id}
                )
            title = titles[candidate.score_id]
            line = lines[candidate.score_id].get(candidate.line)
            if title is None or line is None:
                continue  # deleted or trashed since
            first = max(0, candidate.pos)
            last = min(len(line.measures), candidate.pos + len(notes))
            numbers = dict(zip(line.measures, line.numbers, strict=False))
            measure_ids = tuple(dict.fromkeys(line.measures[first:last]))
            hits.append(
                MelodyHit(
                    candidate.score_id,
                    title,
                    line.part_id,
                    line.voice,
                    candidate.pos,
                    measure_ids,
                    candidate.hits / len(query),
                    line.part_name,
                    tuple(numbers[m] for m in measure_ids if m in numbers),
                    line.notes[first:last],
                )
            )
        return hits

    async def text(
        self,
        query: str,
        *,
        identity: Identity | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Title, composer, lyrics, chat and comment entries holding every word of
        ``query``, best first."""
        if not query.strip() or len(query) > 500:
            raise BadRequest("the text query must be 1 to 500 characters")
        if kinds is not None and not set(kinds) <= TEXT_KINDS:
            raise BadRequest(f"kinds are {', '.join(sorted(TEXT_KINDS))}")
        scope = await self.readable(identity)
        if scope is not None and not scope:
            return []
        out = []
        titles: dict[str, str | None] = {}
        for hit in await self.index.search_text(query, score_ids=scope, kinds=kinds, limit=limit):
            if hit.score_id not in titles:
                titles[hit.score_id] = await self._title(hit.score_id)
            title = titles[hit.score_id]
            if title is None:
                continue
            out.append(
                {
                    "score_id": hit.score_id,
                    "title": title,
                    "kind": hit.kind,
                    "ref": hit.ref,
                    "text": hit.text if len(hit.text) <= 300 else hit.text[:299] + "…",
                    "rank": round(hit.rank, 6),
                }
            )
        return out

    async def _title(self, score_id: str) -> str | None:
        try:
            record = await self.catalog.get_score(score_id)
        except NotFound:
            return None
        return None if record.deleted_at is not None else record.title

    async def index_document(self, score_id: str, state: bytes) -> None:
        """(Re-)index the score whose document state is ``state``; a score deleted
        meanwhile is skipped. Decoding runs in a thread."""
        lines, postings, entries = await asyncio.to_thread(_extract, state)
        try:
            await self.index.put_melody(score_id, lines, postings)
            await self.index.put_text(score_id, entries)
        except NotFound:
            log.debug("score %r deleted before it was indexed", score_id)


def _extract(state: bytes) -> tuple[Any, Any, Any]:
    score = ScoreDoc.from_update(state)
    data = score.read()
    lines, postings = melody_index(note_lines(data))
    return lines, postings, text_entries(data, score.raw_chat(), score.raw_comments())
