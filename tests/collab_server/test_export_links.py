"""Presigned export links: with S3 blobs (a real moto server over HTTP) ``?link=true``
answers ``{url, expires_in}`` for an export stored once under an immutable key; other
blob stores send the file as usual."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.settings import Settings
from persistence.backend import Backend, BackendConfig, open_backend
from tests.services import S3Server, s3_server, s3_test_bucket  # noqa: F401

pytestmark = pytest.mark.services


def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        log_json=False,
        auth_enabled=False,
        rest_rate_per_ip=0,
        rest_rate_per_user=0,
    )


@pytest.fixture
def s3_storage(
    s3_server: S3Server,
    s3_test_bucket: str,
) -> Iterator[tuple[Backend, str]]:
    prefix = f"links-{secrets.token_hex(4)}"
    url = (
        f"s3://{s3_test_bucket}/{prefix}?endpoint_url={s3_server.endpoint_url}"
        f"&region={s3_server.region}&path_style=true"
    )
    backend = asyncio.run(
        open_backend(
            BackendConfig(
                "memory://",
                url,
                {
                    "access_key_id": s3_server.access_key_id,
                    "secret_access_key": s3_server.secret_access_key,
                },
            )
        )
    )
    yield backend, prefix
    asyncio.run(backend.close())


def exported_keys(s3: S3Server, bucket: str, prefix: str, score_id: str) -> list[str]:
    folder = f"{prefix}/scores/{score_id}/exports/"
    listing = s3.client().list_objects_v2(Bucket=bucket, Prefix=folder)
    return sorted(item["Key"][len(folder) :] for item in listing.get("Contents", []))


def disposition(url: str) -> str:
    return parse_qs(urlsplit(url).query)["response-content-disposition"][0]


def test_export_links_are_presigned_s3_urls(
    tmp_path: Path,
    s3_storage: tuple[Backend, str],
    s3_server: S3Server,
    s3_test_bucket: str,
) -> None:
    backend, prefix = s3_storage
    with TestClient(create_app(settings(tmp_path), backend=backend)) as client:
        score = client.post("/api/scores", json={"title": "Étude in C"}).json()
        base = f"/api/scores/{score['id']}"
        direct = client.get(f"{base}/export?format=musicxml")
        assert direct.status_code == 200

        link = client.get(f"{base}/export?format=musicxml&link=true")
        assert link.status_code == 200, link.text
        body = link.json()
        assert body["expires_in"] == 3600 and body["url"].startswith(s3_server.endpoint_url)
        download = httpx.get(body["url"])  # a plain HTTP client, no token: the URL is signed
        assert download.status_code == 200
        assert download.content == direct.content
        assert download.headers["content-type"] == direct.headers["content-type"]
        # S3 sets Content-Disposition from the signed response-content-disposition
        # parameter (moto ignores it, so read it from the signed URL).
        assert disposition(body["url"]) == (
            "attachment; filename=\"tude-in-C.musicxml\"; filename*=UTF-8''tude-in-C.musicxml"
        )

        keys = exported_keys(s3_server, s3_test_bucket, prefix, score["id"])
        assert len(keys) == 1 and keys[0].startswith("current-") and keys[0].endswith(".musicxml")
        again = client.get(f"{base}/export?format=musicxml&link=true").json()
        assert exported_keys(s3_server, s3_test_bucket, prefix, score["id"]) == keys
        assert httpx.get(again["url"]).content == direct.content

        midi = client.get(f"{base}/export?format=midi&link=1").json()
        assert httpx.get(midi["url"]).content[:4] == b"MThd"

        # A named version: its own immutable key, its file name.
        version = client.post(f"{base}/versions", json={"name": "v1"}).json()
        client.patch(base, json={"title": "Renamed"})
        versioned = client.get(f"{base}/versions/{version['id']}/export?format=json&link=true")
        assert versioned.status_code == 200, versioned.text
        got = httpx.get(versioned.json()["url"])
        plain = client.get(f"{base}/versions/{version['id']}/export?format=json")
        assert got.json() == plain.json()  # (map order may differ between renders)
        assert f"Renamed-{version['id']}.json" in disposition(versioned.json()["url"])
        assert f"version-{version['id']}.json" in exported_keys(
            s3_server, s3_test_bucket, prefix, score["id"]
        )

        # The current state changed (renamed): a new key beside the old file.
        renamed = client.get(f"{base}/export?format=musicxml&link=true").json()
        assert b"Renamed" in httpx.get(renamed["url"]).content
        assert len(exported_keys(s3_server, s3_test_bucket, prefix, score["id"])) == 4

        # Deleting the score moves it to the trash (its objects stay until it is purged);
        # purging it deletes its exports.
        assert client.delete(base).status_code == 204
        assert client.get(f"{base}/export?link=true").status_code == 404
        assert len(exported_keys(s3_server, s3_test_bucket, prefix, score["id"])) == 4
        trash = base.replace(f"/scores/{score['id']}", f"/trash/{score['id']}")
        assert client.delete(trash).status_code == 204
        assert exported_keys(s3_server, s3_test_bucket, prefix, score["id"]) == []


def test_without_urls_the_file_is_sent(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as client:  # files on disk
        score = client.post("/api/scores", json={"title": "Plain"}).json()
        reply = client.get(f"/api/scores/{score['id']}/export?format=musicxml&link=true")
        assert reply.status_code == 200
        assert reply.headers["content-disposition"] == 'attachment; filename="Plain.musicxml"'
        assert b"<score-partwise" in reply.content
        bad = client.get(f"/api/scores/{score['id']}/export?format=png&link=true")
        assert bad.status_code == 400
