"""Semantic search: rank the texts of the scores a caller may read (descriptions,
analysis summaries, chat, comments) by meaning, and keep the vectors up to date.

Indexing is incremental: a re-index embeds only the texts that are new or changed since
the stored entries (a new chat message costs one sentence), re-uses the other vectors,
and replaces the score's entries in one write. A document change re-indexes the
document's texts (debounced by :class:`~collab_server.search.hooks.SearchHooks`); an
analysis announcement (from this instance or, through Redis, from a worker) re-indexes
the analysis text. Every instance may do both: the entries are derived from shared
state, so the last write is as good as any.

The model (~90 MB of weights) loads on first use, in a thread; without it installed
semantic search answers 503 and indexing is skipped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from analysis_engine.embeddings.base import Embedder
from analysis_engine.embeddings.minilm import MiniLmEmbedder
from collab_server.errors import BadRequest, Unavailable
from collab_server.security.authenticator import Identity
from collab_server.semantic.extract import Text, analysis_text, document_texts
from persistence.base import ScoreCatalog
from persistence.errors import NotFound
from persistence.keyed_lock import KeyedLock
from persistence.results.base import ResultStore
from persistence.vectors.base import VECTOR_KINDS, VectorEntry, VectorStore
from score_model.document import ScoreDoc

log = logging.getLogger("orpheus.semantic")

Scope = Callable[[Identity | None], Awaitable[list[str] | None]]
MAX_QUERY_CHARS = 500


class SemanticService:
    """``load_embedder`` builds the model (called once, in a thread); ``scope`` gives
    the ids of the scores an identity may read (``None``: all)."""

    def __init__(
        self,
        vectors: VectorStore,
        catalog: ScoreCatalog,
        results: ResultStore,
        load_embedder: Callable[[], Embedder],
        scope: Scope,
    ) -> None:
        self.vectors = vectors
        self.catalog = catalog
        self.results = results
        self.scope = scope
        self._load = load_embedder
        self._embedder: Embedder | None = None
        self._loading: asyncio.Task[Embedder] | None = None
        self._locks = KeyedLock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.embedded = 0  # texts embedded while indexing (not queries)

    async def embedder(self) -> Embedder:
        """The model, loaded once; :class:`Unavailable` if it cannot be loaded."""
        if self._embedder is None:
            if self._loading is None:
                self._loading = asyncio.create_task(asyncio.to_thread(self._load))
            try:
                self._embedder = await asyncio.shield(self._loading)
            except Exception as exc:
                self._loading = None
                raise Unavailable(f"semantic search is not available: {exc}") from exc
        return self._embedder

    async def search(
        self,
        query: str,
        *,
        identity: Identity | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Texts closest in meaning to ``query``, best first."""
        if not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query must be 1 to {MAX_QUERY_CHARS} characters")
        if kinds is not None and not set(kinds) <= VECTOR_KINDS:
            raise BadRequest(f"kinds are {', '.join(sorted(VECTOR_KINDS))}")
        model = await self.embedder()
        scope = await self.scope(identity)
        if scope is not None and not scope:
            return []
        vector = (await asyncio.to_thread(model.embed, [query]))[0]
        hits = await self.vectors.search(
            model.name, vector, score_ids=scope, kinds=kinds, limit=limit
        )
        titles: dict[str, str | None] = {}
        out = []
        for hit in hits:
            if hit.score_id not in titles:
                titles[hit.score_id] = await self._title(hit.score_id)
            title = titles[hit.score_id]
            if title is None:
                continue  # deleted or in the trash
            out.append(
                {
                    "score_id": hit.score_id,
                    "title": title,
                    "kind": hit.kind,
                    "ref": hit.ref,
                    "text": hit.text if len(hit.text) <= 300 else hit.text[:299] + "…",
                    "similarity": round(hit.similarity, 6),
                }
            )
        return out

    async def index_document(self, score_id: str, state: bytes) -> None:
        """Re-index the document's texts (and the latest analysis) of ``score_id``."""
        try:
            await self.embedder()
        except Unavailable:
            return
        texts = await asyncio.to_thread(_document_texts, state)
        await self._reindex(score_id, lambda stored: [*texts, self._analysis(stored)])

    async def index_analysis(self, score_id: str) -> None:
        """Re-index the analysis text of ``score_id`` (after a new result)."""
        latest = await self.results.get_latest(score_id)
        text = analysis_text(latest.result_json if latest is not None else None)
        await self._reindex(
            score_id,
            lambda stored: (
                [(e.kind, e.ref, e.text) for e in stored if e.kind != "analysis"]
                + [("analysis", "", text)]
            ),
        )

    def follow_analysis(
        self,
        listen: Callable[[Callable[[str], None]], None],
        *,
        quiet: float = 0.0,
        max_delay: float = 0.0,
    ) -> None:
        """Re-index a score's analysis text after new results are announced: ``quiet``
        seconds after the last one and at most ``max_delay`` after the first (0: at
        once; announcements that arrive before it starts are merged). While a score is
        edited a result comes about every second; each re-index reads and parses the
        whole result and embeds its summary, which names the note count and so changes
        every time."""
        pending: dict[str, list[float]] = {}  # score id -> [first, last] announcement

        async def when_quiet(score_id: str) -> None:
            loop = asyncio.get_running_loop()
            try:
                while True:
                    first, last = pending[score_id]
                    delay = min(last + quiet, first + max_delay) - loop.time()
                    if delay <= 0:
                        break
                    await asyncio.sleep(delay)
            finally:
                del pending[score_id]
            await self.index_analysis(score_id)

        def announced(score_id: str) -> None:
            now = asyncio.get_running_loop().time()
            if score_id in pending:
                pending[score_id][1] = now
                return
            pending[score_id] = [now, now]
            self._in_background(when_quiet(score_id), score_id)

        listen(announced)

    def index_later(self, score_id: str, state: bytes) -> None:
        """Index a new score's document in the background (the first call loads the
        model, which an upload should not wait for)."""
        self._in_background(self.index_document(score_id, state), score_id)

    async def close(self) -> None:
        """Cancel indexing still under way."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _in_background(self, work: Awaitable[None], score_id: str) -> None:
        async def quietly() -> None:
            try:
                await work
            except Exception:
                log.warning("could not index %r for semantic search", score_id, exc_info=True)

        task = asyncio.get_running_loop().create_task(quietly(), name=f"semantic-{score_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _analysis(self, stored: list[VectorEntry]) -> Text:
        return next(
            ((e.kind, e.ref, e.text) for e in stored if e.kind == "analysis"), ("analysis", "", "")
        )

    async def _reindex(
        self, score_id: str, texts_of: Callable[[list[VectorEntry]], list[Text]]
    ) -> None:
        try:
            model = await self.embedder()
        except Unavailable:
            log.debug("semantic index skipped: no model")
            return
        async with self._locks(score_id):
            stored = await self.vectors.entries(score_id, model.name)
            texts = list(
                {(t[0], t[1]): t for t in reversed(texts_of(stored)) if t[2].strip()}.values()
            )[::-1]  # one per (kind, ref)
            if not any(t[0] == "analysis" for t in texts):
                latest = await self.results.get_latest(score_id)
                text = analysis_text(latest.result_json if latest is not None else None)
                if text:
                    texts.append(("analysis", "", text))
            known = {(e.kind, e.ref, e.text): e.vector for e in stored}
            new = [t for t in texts if t not in known]
            if new:
                vectors = await asyncio.to_thread(model.embed, [t[2] for t in new])
                known.update(zip(new, vectors, strict=True))
                self.embedded += len(new)
            if not new and set(texts) == {(e.kind, e.ref, e.text) for e in stored}:
                return  # nothing changed
            try:
                await self.vectors.put(
                    score_id,
                    model.name,
                    [VectorEntry(k, r, t, known[(k, r, t)]) for k, r, t in texts],
                )
            except NotFound:
                log.debug("score %r deleted before it was indexed", score_id)

    async def _title(self, score_id: str) -> str | None:
        try:
            record = await self.catalog.get_score(score_id)
        except NotFound:
            return None
        return None if record.deleted_at is not None else record.title


def _document_texts(state: bytes) -> list[Text]:
    score = ScoreDoc.from_update(state)  # the texts name no note: leave the notes undecoded
    return document_texts(score.read(notes=False), score.raw_chat(), score.raw_comments())


def load_embedder(enabled: bool = True) -> Callable[[], Embedder]:
    """The model loader for :class:`SemanticService`; ``enabled=False``: one that fails."""

    def load() -> Embedder:
        if not enabled:
            raise RuntimeError("it is turned off (ORPHEUS_SEMANTIC_SEARCH=false)")
        return _shared_model()

    return load


@functools.cache
def _shared_model() -> MiniLmEmbedder:
    """One model per process (read-only weights; every app and the CLI share it)."""
    return MiniLmEmbedder()
