"""Engraved export over REST: SVG pages and PDF of the current state and of a version,
page size and scale as parameters, absurd values refused with 400."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.settings import Settings

FEATURES = Path(__file__).parents[1] / "score_model" / "fixtures" / "features.musicxml"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, log_json=False, admin_password="admin-password")
    with TestClient(create_app(settings)) as test_client:
        login = test_client.post(
            "/api/auth/login", json={"username": "admin", "password": "admin-password"}
        )
        test_client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield test_client


@pytest.fixture
def score_id(client: TestClient) -> str:
    response = client.post(
        "/api/scores", files={"file": ("features.musicxml", FEATURES.read_bytes())}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def test_svg_of_the_current_state_shows_its_notes_by_id(client: TestClient, score_id: str) -> None:
    response = client.get(f"/api/scores/{score_id}/export?format=svg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["X-Page-Count"] == "1"
    assert 'filename="Test-Piece-p1.svg"' in response.headers["content-disposition"]
    root = SafeET.fromstring(response.content)
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    notes = client.get(f"/api/scores/{score_id}/export?format=json").json()["notes"]
    pitched = {i for i, n in notes.items() if n["pitches"] and len(n["pitches"]) == 1}
    drawn = set(re.findall(r'<g id="([^"]+)" class="note"', response.text))
    assert pitched and pitched <= drawn


def test_pdf_has_every_page_and_svg_pages_follow_the_parameters(
    client: TestClient, score_id: str
) -> None:
    query = "page_width=100&page_height=80&scale=150"
    pdf = client.get(f"/api/scores/{score_id}/export?format=pdf&{query}")
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    pages = int(pdf.headers["X-Page-Count"])
    assert pages >= 2 and pdf_pages(pdf.content) == pages
    last = client.get(f"/api/scores/{score_id}/export?format=svg&{query}&page={pages}")
    assert last.status_code == 200
    assert SafeET.fromstring(last.content).get("width") == "100mm"
    beyond = client.get(f"/api/scores/{score_id}/export?format=svg&{query}&page={pages + 1}")
    assert beyond.status_code == 422 and "does not exist" in beyond.text


def test_a_version_exports_as_it_was(client: TestClient, score_id: str) -> None:
    version = client.post(f"/api/scores/{score_id}/versions", json={"name": "v1"}).json()
    client.patch(f"/api/scores/{score_id}", json={"title": "Renamed"})
    response = client.get(
        f"/api/scores/{score_id}/versions/{version['id']}/export?format=pdf&link=true"
    )  # no presigned links on files: the file
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"%PDF")
    assert pdf_pages(response.content) == int(response.headers["X-Page-Count"])
    assert f"-{version['id']}.pdf" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    "query",
    [
        "scale=5000",
        "scale=0",
        "scale=abc",
        "page_width=10",
        "page_height=100000",
        "page_width=nan",
        "page=0",
        "page=-1",
    ],
)
def test_absurd_engraving_parameters_are_refused(
    client: TestClient, score_id: str, query: str
) -> None:
    response = client.get(f"/api/scores/{score_id}/export?format=svg&{query}")
    assert response.status_code == 400, (query, response.text)


def test_unknown_formats_still_name_the_engraved_ones(client: TestClient, score_id: str) -> None:
    response = client.get(f"/api/scores/{score_id}/export?format=png")
    assert response.status_code == 400 and "svg" in response.text and "pdf" in response.text
