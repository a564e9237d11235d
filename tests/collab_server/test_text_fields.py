"""Control characters over REST: titles and version names are cleaned, names people see
for accounts and tokens are refused (422), and nothing stored keeps them."""

from __future__ import annotations

from pathlib import Path

from tests.collab_server.security_helpers import bearer, live_server, settings_for


async def test_titles_and_names_lose_or_refuse_control_characters(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        admin = await live.login("admin", "admin-password")
        auth = bearer(admin)
        refused = await live.http.post("/api/scores", json={"title": "\u0000"}, headers=auth)
        assert refused.status_code == 422  # nothing is left of it
        created = await live.http.post(
            "/api/scores", json={"title": "\u0000Fugue\u001b[2J"}, headers=auth
        )
        assert created.status_code == 201 and created.json()["title"] == "Fugue[2J"
        score = created.json()["id"]
        exported = await live.http.get(f"/api/scores/{score}/export?format=json", headers=auth)
        assert exported.json()["meta"]["title"] == "Fugue[2J"  # the document's title too
        renamed = await live.http.patch(
            f"/api/scores/{score}", headers=auth, json={"title": "Fugue\u202e in C\n"}
        )
        assert renamed.json()["title"] == "Fugue in C"
        stored = await live.http.get(f"/api/scores/{score}", headers=auth)
        assert stored.json()["title"] == "Fugue in C"
        exported = await live.http.get(f"/api/scores/{score}/export?format=json", headers=auth)
        assert exported.json()["meta"]["title"] == "Fugue in C"
        version = await live.http.post(
            f"/api/scores/{score}/versions", headers=auth, json={"name": "draft\u0007 1"}
        )
        assert version.status_code == 201 and version.json()["name"] == "draft 1"

        for path, body in (
            (
                "/api/auth/register",
                {"username": "eve", "password": "pw-123456", "display_name": "Eve\u0000"},
            ),
            ("/api/auth/tokens", {"name": "ci\u001b[31m"}),
        ):
            response = await live.http.post(path, json=body, headers=auth)
            assert response.status_code == 422, response.text
            assert "control characters" in response.json()["message"]
        token = await live.http.post("/api/auth/tokens", json={"name": "ci"}, headers=auth)
        assert token.status_code == 201
