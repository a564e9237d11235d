"""In-memory :class:`~persistence.search.base.SearchIndex` (tests, ``memory://``). The
memory backend calls :meth:`MemorySearchIndex.forget` when a score is deleted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from persistence.base import ScoreCatalog, check_score_id
from persistence.search.base import (
    IndexStats,
    MelodyCandidate,
    MelodyLine,
    Posting,
    TextEntry,
    TextHit,
    check_entries,
    check_limit,
    words,
)


class MemorySearchIndex:
    """Postings in a dict by key; text entries scanned word by word."""

    def __init__(self, catalog: ScoreCatalog | None = None) -> None:
        self._catalog = catalog
        self._lines: dict[str, list[MelodyLine]] = {}
        self._postings: dict[str, list[Posting]] = {}
        self._by_key: dict[int, list[tuple[str, int, int]]] = {}
        self._text: dict[str, list[TextEntry]] = {}

    async def _known(self, score_id: str) -> None:
        check_score_id(score_id)
        if self._catalog is not None:
            await self._catalog.get_score(score_id)  # NotFound

    async def put_melody(
        self, score_id: str, lines: Sequence[MelodyLine], postings: Sequence[Posting]
    ) -> None:
        await self._known(score_id)
        self._drop_melody(score_id)
        self._lines[score_id] = list(lines)
        self._postings[score_id] = list(postings)
        for p in postings:
            self._by_key.setdefault(p.key, []).append((score_id, p.line, p.pos))

    async def find_melody(
        self,
        query: Sequence[tuple[int, int]],
        *,
        score_ids: Collection[str] | None = None,
        min_hits: int = 1,
        limit: int = 100,
    ) -> list[MelodyCandidate]:
        check_limit(limit)
        allowed = None if score_ids is None else set(score_ids)
        counts: Counter[tuple[str, int, int]] = Counter()
        for offset, key in query:
            for score_id, line, pos in self._by_key.get(key, ()):
                if allowed is None or score_id in allowed:
                    counts[(score_id, line, pos - offset)] += 1
        found = [
            MelodyCandidate(s, line, pos, n)
            for (s, line, pos), n in counts.items()
            if n >= min_hits
        ]
        found.sort(key=lambda c: (-c.hits, c.score_id, c.line, c.pos))
        return found[:limit]

    async def melody_lines(self, score_id: str, lines: Collection[int]) -> dict[int, MelodyLine]:
        stored = self._lines.get(score_id, [])
        return {i: stored[i] for i in lines if 0 <= i < len(stored)}

    async def put_text(self, score_id: str, entries: Sequence[TextEntry]) -> None:
        checked = check_entries(entries)
        await self._known(score_id)
        self._text[score_id] = checked

    async def search_text(
        self,
        query: str,
        *,
        score_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        limit: int = 50,
    ) -> list[TextHit]:
        check_limit(limit)
        wanted = set(words(query))
        if not wanted:
            return []
        hits = []
        for score_id, entries in self._text.items():
            if score_ids is not None and score_id not in score_ids:
                continue
            for entry in entries:
                if kinds is not None and entry.kind not in kinds:
                    continue
                have = Counter(words(entry.text))
                if wanted <= have.keys():
                    rank = sum(have[w] for w in wanted) / (1 + len(have))
                    hits.append(TextHit(score_id, entry.kind, entry.ref, entry.text, rank))
        hits.sort(key=lambda h: (-h.rank, h.score_id, h.kind, h.ref))
        return hits[:limit]

    async def stats(self) -> IndexStats:
        return IndexStats(
            len(self._lines.keys() | self._text.keys()),
            sum(map(len, self._lines.values())),
            sum(map(len, self._postings.values())),
            sum(map(len, self._text.values())),
        )

    def forget(self, score_id: str) -> None:
        """Drop everything of a deleted score."""
        self._drop_melody(score_id)
        self._text.pop(score_id, None)

    def _drop_melody(self, score_id: str) -> None:
        self._lines.pop(score_id, None)
        for key in {p.key for p in self._postings.pop(score_id, [])}:
            bucket = self._by_key.get(key)
            if bucket is not None:
                bucket[:] = [b for b in bucket if b[0] != score_id]
                if not bucket:
                    del self._by_key[key]
