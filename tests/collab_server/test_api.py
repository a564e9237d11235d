"""The REST API over a real embedded backend (SQLite + files in a temporary folder)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from music21 import corpus
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.settings import Settings
from score_model.document import ScoreDoc
from score_model.importer import import_score

CHORALE = Path(str(corpus.getWork("bach/bwv66.6")))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, max_upload_bytes=200_000, log_json=False, admin_password="admin-password"
    )
    with TestClient(create_app(settings)) as test_client:
        login = test_client.post(
            "/api/auth/login", json={"username": "admin", "password": "admin-password"}
        )
        assert login.status_code == 200, login.text
        test_client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield test_client


def create(client: TestClient, title: str = "Étude") -> dict:
    response = client.post("/api/scores", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()


def notes_of(data: bytes, filename: str) -> list[tuple]:
    score = import_score(data, filename=filename).read()
    order = {p.id: i for i, p in enumerate(score.parts)}
    index = {m.id: i for i, m in enumerate(score.measures)}
    return sorted(
        (order[n.part], index[n.measure], n.onset, n.duration, n.pitches)
        for n in score.notes.values()
    )


def test_create_list_get_rename_delete(client: TestClient) -> None:
    record = create(client)
    assert record["title"] == "Étude" and record["epoch"] == 1
    assert record["websocket"] == f"/ws/scores/{record['id']}"
    listed = client.get("/api/scores").json()["scores"]
    assert [s["id"] for s in listed] == [record["id"]]
    assert client.get(f"/api/scores/{record['id']}").json()["title"] == "Étude"

    renamed = client.patch(f"/api/scores/{record['id']}", json={"title": "Fugue"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Fugue"
    exported = client.get(f"/api/scores/{record['id']}/export?format=json").json()
    assert exported["meta"]["title"] == "Fugue"  # the document itself was edited

    assert client.delete(f"/api/scores/{record['id']}").status_code == 204
    missing = client.get(f"/api/scores/{record['id']}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/api/scores").json()["scores"] == []


def test_invalid_requests_get_json_errors(client: TestClient) -> None:
    record = create(client)
    bad_title = client.patch(f"/api/scores/{record['id']}", json={"title": ""})
    assert bad_title.status_code == 422 and bad_title.json()["error"] == "unprocessable"
    not_json = client.post(
        "/api/scores", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    bad_format = client.get(f"/api/scores/{record['id']}/export?format=png")
    assert bad_format.status_code == 400
    assert client.get("/api/scores?limit=0").status_code == 400
    unknown_route = client.get("/api/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json()["error"] == "http_error"


def test_upload_raw_and_multipart_then_export_every_format(client: TestClient) -> None:
    data = CHORALE.read_bytes()
    raw = client.post(
        f"/api/scores?filename={CHORALE.name}&title=Chorale",
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert raw.status_code == 201, raw.text
    assert raw.json()["title"] == "Chorale"
    form = client.post("/api/scores", files={"file": (CHORALE.name, data, "application/zip")})
    assert form.status_code == 201, form.text
    assert form.json()["title"] == "bwv66.6"  # the file has no title: its name stands in
    expected = notes_of(data, CHORALE.name)
    assert len(expected) > 100

    score_id = raw.json()["id"]
    cases = {
        "musicxml": ("application/vnd.recordare.musicxml+xml", ".musicxml"),
        "mxl": ("application/vnd.recordare.musicxml", ".mxl"),
        "midi": ("audio/midi", ".mid"),
        "json": ("application/json", ".json"),
    }
    for fmt, (content_type, extension) in cases.items():
        response = client.get(f"/api/scores/{score_id}/export?format={fmt}")
        assert response.status_code == 200, (fmt, response.text)
        assert response.headers["content-type"].startswith(content_type)
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="Chorale') and extension in disposition
        if fmt in ("musicxml", "mxl", "json"):
            assert notes_of(response.content, "x" + extension) == expected, fmt
    assert zipfile.is_zipfile(
        io.BytesIO(client.get(f"/api/scores/{score_id}/export?format=mxl").content)
    )


def test_a_json_export_posted_as_json_is_imported(client: TestClient) -> None:
    data = CHORALE.read_bytes()
    source = client.post(f"/api/scores?filename={CHORALE.name}", content=data).json()["id"]
    exported = client.get(f"/api/scores/{source}/export?format=json")
    copy = client.post(
        "/api/scores?title=Copy",
        content=exported.content,
        headers={"content-type": "application/json"},
    )
    assert copy.status_code == 201 and copy.json()["title"] == "Copy"
    again = client.get(f"/api/scores/{copy.json()['id']}/export?format=json").json()
    assert again["notes"] == exported.json()["notes"]


def test_uploads_that_must_be_refused(client: TestClient) -> None:
    too_big = client.post(
        "/api/scores?filename=big.musicxml",
        content=b"<" * 300_000,
        headers={"content-type": "application/octet-stream"},
    )
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(100):
            yield b"x" * 10_000

    streamed = client.post(
        "/api/scores?filename=big.abc",
        content=chunks(),
        headers={"content-type": "application/octet-stream"},
    )
    assert streamed.status_code == 413

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 50
    not_music = client.post(
        "/api/scores?filename=cat.png", content=png, headers={"content-type": "image/png"}
    )
    assert not_music.status_code == 415, not_music.text
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><score-partwise>&lol2;</score-partwise>'
    )
    refused = client.post(
        "/api/scores?filename=bomb.musicxml",
        content=bomb,
        headers={"content-type": "application/xml"},
    )
    assert refused.status_code == 422 and "entity" in refused.json()["message"]
    assert client.get("/api/scores").json()["scores"] == []  # nothing was created


def test_versions_create_list_export_restore(client: TestClient) -> None:
    score_id = create(client, "Song")["id"]
    first = client.post(f"/api/scores/{score_id}/versions", json={"name": "draft"})
    assert first.status_code == 201
    version = first.json()
    assert version["name"] == "draft" and version["epoch"] == 1 and version["size"] > 0

    client.patch(f"/api/scores/{score_id}", json={"title": "Song, revised"})
    listed = client.get(f"/api/scores/{score_id}/versions").json()["versions"]
    assert [v["name"] for v in listed] == ["draft"]
    assert client.get(f"/api/scores/{score_id}/versions/{version['id']}").json() == version
    old = client.get(f"/api/scores/{score_id}/versions/{version['id']}/export?format=json")
    assert old.status_code == 200 and old.json()["meta"]["title"] == "Song"
    assert f"-{version['id']}.json" in old.headers["content-disposition"]

    restored = client.post(f"/api/scores/{score_id}/versions/{version['id']}/restore")
    assert restored.status_code == 201
    assert restored.json()["epoch"] == 2 and "draft" in restored.json()["name"]
    names = [v["name"] for v in client.get(f"/api/scores/{score_id}/versions").json()["versions"]]
    assert names == ["Restored 'draft'", "Before restoring 'draft'", "draft"]
    current = client.get(f"/api/scores/{score_id}/export?format=json").json()
    assert current["meta"]["title"] == "Song"
    assert client.get(f"/api/scores/{score_id}").json()["epoch"] == 2
    before = next(
        v
        for v in client.get(f"/api/scores/{score_id}/versions").json()["versions"]
        if v["name"].startswith("Before")
    )
    kept = client.get(f"/api/scores/{score_id}/versions/{before['id']}/export?format=json")
    assert kept.json()["meta"]["title"] == "Song, revised"  # nothing was destroyed
    assert client.get(f"/api/scores/{score_id}/versions/v_nope").status_code == 404


def test_validation_reports_problems(client: TestClient) -> None:
    data = CHORALE.read_bytes()
    score_id = client.post(f"/api/scores?filename={CHORALE.name}", content=data).json()["id"]
    problems = client.get(f"/api/scores/{score_id}/validation").json()["problems"]
    assert all({"code", "message", "severity"} <= set(p) for p in problems)
    assert {p["code"] for p in problems} <= {"underfull"}  # the last bar completes the pickup
    rooms = client.app.state.rooms  # type: ignore[attr-defined]

    async def misbehave() -> None:  # what a broken client could write
        async with rooms.hold(score_id) as room:
            room.score.notes["n_bad"] = {
                "measure": "m_gone",
                "part": "p_gone",
                "onset": "0",
                "duration": "1",
                "pitches": ["C4"],
            }
            room.score.notes["n_worse"] = {"pitches": "not a list"}
            await room.flushed()

    client.portal.call(misbehave)  # type: ignore[union-attr]
    problems = client.get(f"/api/scores/{score_id}/validation").json()["problems"]
    located = {(p["code"], p.get("note")) for p in problems}
    assert ("orphan_note", "n_bad") in located
    assert any(code.startswith("bad_") and note == "n_worse" for code, note in located)
    for fmt in ("musicxml", "midi", "json"):  # export survives the bad content
        assert client.get(f"/api/scores/{score_id}/export?format={fmt}").status_code == 200


def test_system_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["storage"]["ok"]
    create(client)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "orpheus_store_seconds_bucket" in metrics.text
    assert "orpheus_connections " in metrics.text
    assert "orpheus_slow_client_disconnects_total" in metrics.text
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    restore = "/api/scores/{score_id}/versions/{version_id}/restore"
    assert {"/api/scores", restore} <= set(spec["paths"])
    assert "post" in spec["paths"]["/api/scores"]
    declared = spec["paths"][restore]["post"]["parameters"]
    assert {(p["name"], p["in"]) for p in declared} == {
        ("score_id", "path"),
        ("version_id", "path"),
    }
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_export_of_a_live_document_sees_unsaved_edits(client: TestClient) -> None:
    """Exports read the live room when it is loaded."""
    score_id = create(client)["id"]
    rooms = client.app.state.rooms  # type: ignore[attr-defined]
    scores = client.app.state.scores  # type: ignore[attr-defined]

    async def edit() -> None:
        async with rooms.hold(score_id) as room:
            from score_model.ops import ScoreEditor

            editor = ScoreEditor(room.score)
            data = room.score.read()
            editor.add_note(data.measures[0].id, data.parts[0].id, 0, 1, "C#5")
            await room.flushed()

    client.portal.call(edit)  # type: ignore[union-attr]
    exported = client.get(f"/api/scores/{score_id}/export?format=json").json()
    assert [n["pitches"] for n in exported["notes"].values()] == [["C#5"]]
    assert ScoreDoc.from_update(client.portal.call(scores.state, score_id)).read().notes  # type: ignore[union-attr]
