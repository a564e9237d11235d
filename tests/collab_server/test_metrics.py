"""/metrics: HTTP requests counted and timed by route template (never the raw path) and
status, including requests the gate refuses before routing."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collab_server.app import create_app
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, settings_for


def _samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_http_requests_by_route_template_and_status(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        score = client.post("/api/scores", json={"title": "m"}, headers=bearer(token))
        score_id = score.json()["id"]
        for _ in range(2):
            assert client.get(f"/api/scores/{score_id}", headers=bearer(token)).status_code == 200
        assert client.get("/api/scores/s_nope", headers=bearer(token)).status_code == 404
        assert client.get(f"/api/scores/{score_id}").status_code == 401  # refused by the gate
        assert client.get("/no/such/page/at/all").status_code in (200, 404)

        counts = _samples(client, "orpheus_http_requests_total")
        template = "/api/scores/{score_id}"
        assert counts[(("method", "GET"), ("route", template), ("status", "200"))] == 2
        assert counts[(("method", "GET"), ("route", template), ("status", "404"))] == 1
        assert counts[(("method", "GET"), ("route", template), ("status", "401"))] == 1
        assert counts[(("method", "POST"), ("route", "/api/scores"), ("status", "201"))] == 1
        assert not [labels for labels in counts if score_id in str(labels)]  # no raw paths

        latency = _samples(client, "orpheus_http_request_seconds_count")
        assert latency[(("method", "GET"), ("route", template))] == 4
        buckets = _samples(client, "orpheus_http_request_seconds_bucket")
        assert buckets[(("le", "+Inf"), ("method", "GET"), ("route", template))] == 4
