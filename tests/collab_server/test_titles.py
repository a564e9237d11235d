"""The score record's title and the document's meta.title agree: on upload, on rename,
and when a client edits meta.title (the document is the source of truth)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.settings import Settings
from score_model.origin import Origin

FIXTURES = Path(__file__).parents[1] / "score_model" / "fixtures"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, log_json=False, admin_password="admin-password")
    with TestClient(create_app(settings)) as test_client:
        login = test_client.post(
            "/api/auth/login", json={"username": "admin", "password": "admin-password"}
        )
        test_client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield test_client


def upload(client: TestClient, data: bytes, name: str) -> dict:
    response = client.post("/api/scores", files={"file": (name, data)})
    assert response.status_code == 201, response.text
    return response.json()


def exported_titles(client: TestClient, score_id: str) -> tuple[str, str | None]:
    meta = client.get(f"/api/scores/{score_id}/export?format=json").json()["meta"]
    xml = client.get(f"/api/scores/{score_id}/export?format=musicxml").content
    return meta["title"], SafeET.fromstring(xml).findtext("work/work-title")


def test_an_untitled_upload_carries_its_file_name_into_every_export(client: TestClient) -> None:
    xml = (FIXTURES / "features.musicxml").read_bytes()
    untitled = xml.replace(b"<work-title>", b"<work-number>").replace(
        b"</work-title>", b"</work-number>"
    )
    root = SafeET.fromstring(untitled)
    assert root.findtext("work/work-title") is None and root.findtext("movement-title") is None
    record = upload(client, untitled, "Sonata in G.musicxml")
    assert record["title"] == "Sonata in G"
    assert exported_titles(client, record["id"]) == ("Sonata in G", "Sonata in G")


def test_a_title_given_at_upload_wins_and_reaches_the_document(client: TestClient) -> None:
    xml = (FIXTURES / "roman_numerals.musicxml").read_bytes()
    response = client.post("/api/scores?title=Analysed", files={"file": ("rn.musicxml", xml)})
    assert response.status_code == 201
    assert exported_titles(client, response.json()["id"]) == ("Analysed", "Analysed")


def test_rename_and_a_client_edit_of_meta_title_keep_both_in_step(client: TestClient) -> None:
    score_id = client.post("/api/scores", json={"title": "Draft"}).json()["id"]
    client.patch(f"/api/scores/{score_id}", json={"title": "Fugue"})
    assert exported_titles(client, score_id) == ("Fugue", "Fugue")

    service = client.app.state.scores  # type: ignore[attr-defined]

    async def client_edit() -> None:
        await service.edit(
            score_id,
            lambda editor: editor.set_metadata(title="Canon\x07 "),
            origin=Origin.client("c1"),
        )

    client.portal.call(client_edit)  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while client.get(f"/api/scores/{score_id}").json()["title"] != "Canon":
        assert time.monotonic() < deadline, "the record kept its old title"
        time.sleep(0.05)
    listed = {s["id"]: s["title"] for s in client.get("/api/scores").json()["scores"]}
    assert listed[score_id] == "Canon"
