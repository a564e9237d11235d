"""GET /api/search/melody and /api/search/text on a live server with access control:
edits are re-indexed (debounced), and each caller finds only the scores they may read."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for

ODE = ["E4", "E4", "F4", "G4", "G4", "F4", "E4", "D4"]


def _write_ode(editor: ScoreEditor) -> list[str]:
    data = editor.score.read()
    part, measures = data.parts[0].id, [m.id for m in data.measures]
    for i, pitch in enumerate(ODE):
        editor.add_note(measures[i // 4], part, i % 4, 1, pitch)
    editor.post_chat("ann", "the theme enters in the violas")
    return measures


async def _eventually(live: Live, path: str, token: str, want: int) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    for _ in range(100):  # the index follows edits within ~1 s (debounced)
        response = await live.http.get(path, headers=bearer(token))
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        if len(hits) >= want:
            return hits
        await asyncio.sleep(0.1)
    return hits


async def test_melody_and_text_search_follow_edits_and_access(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        score = await live.score(ann, "Ode to Joy")
        measures = await live.app.state.scores.edit(score, _write_ode, origin=Origin.server("test"))
        up_a_fourth = "A4,A4,Bb4,C5,C5"  # transposed, 5 notes
        path = f"/api/search/melody?notes={up_a_fourth}&min_similarity=1"
        hits = await _eventually(live, path, ann, 1)
        assert [(h["score_id"], h["note_index"], h["similarity"]) for h in hits] == [
            (score, 0, 1.0)
        ]
        assert hits[0]["measure_ids"] == measures[:2] and hits[0]["title"] == "Ode to Joy"
        assert hits[0]["measure_numbers"] == [1, 2] and hits[0]["part_name"]
        async with live.app.state.rooms.hold(score) as room:
            notes = room.score.read().notes
        pitches = [notes[n].pitches[0] for n in hits[0]["note_ids"]]
        assert pitches == ODE[:5]  # the notes the match covers, in order
        assert (await live.http.get(path, headers=bearer(bob))).json()["hits"] == []

        rhythm = f"{path}&durations=2,2,2,2,2"  # same rhythm, another tempo
        assert len((await live.http.get(rhythm, headers=bearer(ann))).json()["hits"]) == 1
        dotted = f"{path}&durations=1.5,0.5,1,1,1"
        assert (await live.http.get(dotted, headers=bearer(ann))).json()["hits"] == []

        text = await _eventually(live, "/api/search/text?q=violas", ann, 1)
        assert [(h["score_id"], h["kind"]) for h in text] == [(score, "chat")]
        title = (await live.http.get("/api/search/text?q=joy ode", headers=bearer(ann))).json()
        assert [h["kind"] for h in title["hits"]] == ["title"]
        hidden = await live.http.get("/api/search/text?q=joy", headers=bearer(bob))
        assert hidden.json()["hits"] == []

        granted = await live.http.put(
            f"/api/scores/{score}/access/bob", json={"role": "viewer"}, headers=bearer(ann)
        )
        assert granted.status_code in (200, 204), granted.text
        assert len((await live.http.get(path, headers=bearer(bob))).json()["hits"]) == 1

        for bad in (
            "/api/search/melody?notes=C4,D4,E4",
            "/api/search/melody?notes=C4,H4,E4,F4",
            "/api/search/text?q=",
            "/api/search/text?q=x&kinds=email",
        ):
            assert (await live.http.get(bad, headers=bearer(ann))).status_code == 400, bad
        assert (await live.http.get(path)).status_code == 401
        spec = (await live.http.get("/openapi.json")).json()
        assert {"/api/search/melody", "/api/search/text"} <= set(spec["paths"])
