"""GET /api/search/semantic on a live server with access control, the real model:
edits and analysis results are embedded (incrementally), each caller finds only the
scores they may read, and hits are ranked by meaning rather than shared words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from analysis_engine.embeddings.minilm import MiniLmEmbedder
from collab_server.cli.search import reindex_all
from collab_server.semantic.service import SemanticService, load_embedder
from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for


async def _eventually(live: Live, path: str, token: str, want: int) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    for _ in range(150):  # the index follows edits after semantic_quiet_seconds
        response = await live.http.get(path, headers=bearer(token))
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        if len(hits) >= want:
            return hits
        await asyncio.sleep(0.1)
    return hits


def _chat(text: str) -> Any:
    def edit(editor: ScoreEditor) -> None:
        editor.post_chat("ann", text)

    return edit


async def test_semantic_search_follows_edits_analysis_and_access(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, semantic_quiet_seconds=0.2)
    async with live_server(settings) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        lament = await live.score(ann, "Lament")
        await live.score(ann, "Invoices")
        server = Origin.server("test")
        await live.app.state.scores.edit(
            lament, _chat("let us make the last verse sadder and much slower"), origin=server
        )
        path = "/api/search/semantic?q=a melancholy, slow ending&kinds=chat"
        hits = await _eventually(live, path, ann, 1)
        assert [(h["score_id"], h["kind"], h["title"]) for h in hits] == [
            (lament, "chat", "Lament")
        ]
        assert hits[0]["similarity"] > 0.3  # no word in common, close in meaning
        assert (await live.http.get(path, headers=bearer(bob))).json()["hits"] == []

        # The embedded analysis of the edits is announced, and its summary embedded.
        analysed = await _eventually(
            live, "/api/search/semantic?q=a piano piece in C&kinds=analysis", ann, 1
        )
        assert analysed[0]["score_id"] == lament and "C major" in analysed[0]["text"]

        # (after the analysis above, whose text a chat message does not change)
        semantic = live.app.state.semantic
        before = semantic.embedded
        await live.app.state.scores.edit(lament, _chat("the alto is too high"), origin=server)
        chats = await _eventually(live, "/api/search/semantic?q=alto&kinds=chat", ann, 2)
        assert len(chats) == 2 and semantic.embedded == before + 1  # only the new message

        for bad in ("/api/search/semantic?q=", "/api/search/semantic?q=x&kinds=email"):
            assert (await live.http.get(bad, headers=bearer(ann))).status_code == 400, bad
        assert (await live.http.get(path)).status_code == 401
        spec = (await live.http.get("/openapi.json")).json()
        assert "/api/search/semantic" in spec["paths"]


async def test_an_uploaded_score_is_found_without_being_opened(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann = await live.user("ann")
        upload = await live.http.post(
            "/api/scores",
            headers=bearer(ann),
            files={"file": ("chorale.mxl", Path("examples/chorale.mxl").read_bytes())},
        )
        assert upload.status_code == 201, upload.text
        hits = await _eventually(
            live, "/api/search/semantic?q=a Bach chorale&kinds=description", ann, 1
        )
        assert [(h["score_id"], h["kind"]) for h in hits] == [(upload.json()["id"], "description")]
        assert "Chorale BWV 66.6" in hits[0]["text"]


class RecordingService(SemanticService):
    """Records when the analysis of a score would be re-indexed."""

    def __init__(self) -> None:
        super().__init__(None, None, None, load_embedder(False), None)  # type: ignore[arg-type]
        self.indexed: list[str] = []

    async def index_analysis(self, score_id: str) -> None:
        self.indexed.append(score_id)


async def test_analysis_results_are_reindexed_once_a_burst_is_over() -> None:
    listeners: list[Any] = []
    debounced = RecordingService()
    debounced.follow_analysis(listeners.append, quiet=0.3, max_delay=1.5)
    at_once = RecordingService()
    at_once.follow_analysis(listeners.append)
    for _ in range(5):  # five results of one score, then one of another
        for listener in listeners:
            listener("s1")
    for listener in listeners:
        listener("s2")
    await asyncio.sleep(0.05)
    assert at_once.indexed == ["s1", "s2"]  # announcements not yet served are merged
    assert debounced.indexed == []  # still within the quiet period
    for _ in range(100):
        if len(debounced.indexed) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(debounced.indexed) == ["s1", "s2"]  # once each
    await debounced.close()
    await at_once.close()


async def test_turned_off_answers_503(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path, semantic_search=False)) as live:
        ann = await live.user("ann")
        response = await live.http.get("/api/search/semantic?q=chorale", headers=bearer(ann))
        assert response.status_code == 503, response.text


async def test_reindex_fills_the_semantic_index(tmp_path: Path) -> None:
    config = BackendConfig(f"sqlite:///{tmp_path / 'o.db'}")
    backend = await open_backend(config)
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.server("test"))
    editor.create_score(title="Ode to Joy", composer="Beethoven", measures=2)
    editor.post_chat("ann", "the violas should play the theme more gently")
    documents = DocumentStore(backend.storage)
    await documents.create("s1", "Ode to Joy", None, score.encode_state())
    await documents.close()
    await backend.close()
    assert await reindex_all(config) == 1
    backend = await open_backend(config)
    try:
        stored = await backend.vectors.entries("s1", MiniLmEmbedder.name)
        assert {(e.kind, e.text) for e in stored} >= {
            ("description", "Ode to Joy. by Beethoven. for Piano"),
            ("chat", "the violas should play the theme more gently"),
        }
    finally:
        await backend.close()
