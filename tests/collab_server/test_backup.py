"""``orpheus backup`` / ``orpheus restore``: taken from a running server (SQLite and
files, the embedded default; and PostgreSQL + S3), restored into a fresh data directory
or database, every score and version exports byte-identical JSON."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from collab_server.cli.backup import BackupError, restore_backup, take_backup
from collab_server.settings import Settings
from persistence.backend import open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.json_codec import export_json
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient
from tests.collab_server.processes import Instance
from tests.services import (  # noqa: F401
    S3Server,
    _fetchval,
    postgres_admin_dsn,
    run_sync,
    s3_server,
    s3_test_bucket,
    with_database,
)

PASSWORD = "backup-admin-password"


def orpheus(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from collab_server.cli.main import main; main()",
            *args,
            "--data-dir",
            str(data_dir),
        ],
        env={**os.environ, "ORPHEUS_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def exports(base: str, token: str) -> dict[str, bytes]:
    """Every score's and version's JSON export, by path."""
    out: dict[str, bytes] = {}
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as http:
        scores = (await http.get("/api/scores")).json()["scores"]
        for score in scores:
            path = f"/api/scores/{score['id']}/export?format=json"
            out[path] = (await http.get(path)).content
            versions = (await http.get(f"/api/scores/{score['id']}/versions")).json()
            for version in versions["versions"]:
                path = f"/api/scores/{score['id']}/versions/{version['id']}/export?format=json"
                out[path] = (await http.get(path)).content
    return out


def login(base: str) -> str:
    reply = httpx.post(
        base + "/api/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=10
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


@pytest.mark.slow
async def test_backup_of_a_running_server_restores_byte_identical(tmp_path: Path) -> None:
    env = {
        "ORPHEUS_ADMIN_PASSWORD": PASSWORD,
        "ORPHEUS_LOG_LEVEL": "warning",
        "ORPHEUS_COMPACT_EVERY": "50",
        "ORPHEUS_WS_UPDATE_RATE": "0",
    }
    original = Instance("original", env, tmp_path / "data")
    original.start()
    try:
        original.wait_ready()
        token = login(original.base)
        auth = {"Authorization": f"Bearer {token}"}
        ids = []
        for title in ("Chorale", "Fugue\u00e9", "Trio"):
            reply = httpx.post(
                original.base + "/api/scores", json={"title": title}, headers=auth, timeout=10
            )
            ids.append(reply.json()["id"])
        clients = [await YClient(original.ws(i) + f"?token={token}").connect() for i in ids]
        for client in clients:
            await asyncio.wait_for(client.synced.wait(), 10)

        async def write(client: YClient, count: int) -> None:
            data = client.score.read()
            editor = ScoreEditor(client.score, Origin.client("writer"))
            for index in range(count):  # enough to compact (snapshots in the blob store)
                editor.add_note(
                    data.measures[index % 4].id,
                    data.parts[0].id,
                    index % 4,
                    "1/4",
                    "C4",
                    lyric=f"n{index}",
                )
                await asyncio.sleep(0.002)

        await asyncio.gather(*(write(c, 120) for c in clients))
        httpx.post(
            f"{original.base}/api/scores/{ids[0]}/versions",
            json={"name": "v1"},
            headers=auth,
            timeout=10,
        ).raise_for_status()

        # 1. a backup taken while clients keep editing is consistent and restorable
        writers = [asyncio.create_task(write(c, 150)) for c in clients]
        busy = await asyncio.to_thread(
            orpheus, "backup", str(tmp_path / "busy"), data_dir=tmp_path / "data"
        )
        await asyncio.gather(*writers)
        assert busy.returncode == 0, busy.stderr
        assert "blobs" in busy.stdout
        for client in clients:
            await client.close()
        await asyncio.sleep(0.5)  # the last edits stored

        # 2. a backup of the quiet (still running) server restores byte-identical
        done = await asyncio.to_thread(
            orpheus, "backup", str(tmp_path / "quiet"), data_dir=tmp_path / "data"
        )
        assert done.returncode == 0, done.stderr
        before = await exports(original.base, token)
        assert len(before) == 4  # three scores and a version
    finally:
        original.stop()

    restored = orpheus("restore", str(tmp_path / "quiet"), data_dir=tmp_path / "fresh")
    assert restored.returncode == 0, restored.stderr
    again = orpheus("restore", str(tmp_path / "quiet"), data_dir=tmp_path / "fresh")
    assert again.returncode != 0 and "exists" in again.stderr  # never over live data
    copy = Instance("restored", env, tmp_path / "fresh")
    copy.start()
    try:
        copy.wait_ready()
        # the same token works: accounts and the generated secret came back too
        after = await exports(copy.base, token)
    finally:
        copy.stop()
    assert after == before

    busy_copy = orpheus("restore", str(tmp_path / "busy"), data_dir=tmp_path / "busy-data")
    assert busy_copy.returncode == 0, busy_copy.stderr
    server = Instance("busy", env, tmp_path / "busy-data")
    server.start()
    try:
        server.wait_ready()
        during = await exports(server.base, login(server.base))
    finally:
        server.stop()
    assert set(during) == set(before)
    for path, body in during.items():  # every score loads and holds a prefix of the edits
        assert body.startswith(b"{") and len(body) <= len(before[path]) + 1024


async def make_scores(settings: Settings, count: int = 3) -> None:
    """Scores with notes, a compacted snapshot (a blob) and a version (another blob)."""
    backend = await open_backend(settings.backend_config())
    try:
        documents = DocumentStore(backend.storage)
        for index in range(count):
            score = ScoreDoc()
            editor = ScoreEditor(score, Origin.server("test"))
            ids = editor.create_score(title=f"score {index}", parts=["A"], measures=2)
            await documents.create(f"s_{index}", f"score {index}", None, score.encode_state())
            loaded = await documents.load(f"s_{index}")
            for note in range(5):
                before = score.doc.get_state()
                editor.add_note(ids["measures"][0], ids["parts"][0], note % 4, "1/4", "D4")
                await documents.append(f"s_{index}", loaded.epoch, [score.doc.get_update(before)])
            await documents.compact(f"s_{index}")
            await backend.storage.versions.create_version(
                f"s_{index}", name="v", author=None, epoch=loaded.epoch, state=score.encode_state()
            )
        await documents.close()
    finally:
        await backend.close()


async def test_a_backup_goes_to_a_new_folder_and_checks_what_it_restores(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", log_json=False)
    await make_scores(settings, 1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        await take_backup(settings, tmp_path / "full")
    manifest = await take_backup(settings, tmp_path / "b")
    assert manifest.database == "sqlite" and manifest.blobs >= 2  # snapshots, a version
    assert not (tmp_path / "b.partial").exists()
    fresh = Settings(data_dir=tmp_path / "fresh", log_json=False)
    database = tmp_path / "b" / "orpheus.db"
    good = database.read_bytes()
    database.write_bytes(good + b"tampered")
    with pytest.raises(BackupError, match="damaged"):
        await restore_backup(tmp_path / "b", fresh)
    database.write_bytes(good)
    await restore_backup(tmp_path / "b", fresh)
    assert await all_exports(fresh) == await all_exports(settings)


@pytest.mark.services
async def test_postgres_and_s3_backups_restore_into_an_empty_database(
    tmp_path: Path,
    s3_server: S3Server,
    s3_test_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", s3_server.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key),
        ("AWS_DEFAULT_REGION", s3_server.region),
    ):
        monkeypatch.setenv(name, value)
    admin = postgres_admin_dsn()

    def blob_url(prefix: str) -> str:
        return (
            f"s3://{s3_test_bucket}/{prefix}?endpoint_url={s3_server.endpoint_url}"
            f"&region={s3_server.region}&path_style=true"
        )

    names = [f"orpheus_backup_{secrets.token_hex(4)}" for _ in range(2)]
    for name in names:
        run_sync(_fetchval, admin, f'CREATE DATABASE "{name}"')
    try:
        source = Settings(
            data_dir=tmp_path / "a",
            database_url=with_database(admin, names[0]),
            blob_url=blob_url(f"a-{names[0]}"),
            log_json=False,
        )
        target = Settings(
            data_dir=tmp_path / "b",
            database_url=with_database(admin, names[1]),
            blob_url=blob_url(f"b-{names[1]}"),
            log_json=False,
        )
        await make_scores(source)
        manifest = await take_backup(source, tmp_path / "pg")
        assert manifest.database == "postgresql" and manifest.blobs >= 6
        assert (tmp_path / "pg" / "database.pgdump").stat().st_size > 1000
        await restore_backup(tmp_path / "pg", target)
        assert await all_exports(target) == await all_exports(source)
        with pytest.raises(BackupError, match="empty database"):
            await restore_backup(tmp_path / "pg", target)
    finally:
        for name in names:
            run_sync(_fetchval, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def all_exports(settings: Settings) -> dict[str, bytes]:
    """Every score's and version's JSON export, read straight from storage."""
    backend = await open_backend(settings.backend_config())
    try:
        documents = DocumentStore(backend.storage)
        out = {}
        for record in await backend.storage.catalog.list_scores(limit=1000):
            state = (await documents.load(record.id)).state
            out[record.id] = export_json(ScoreDoc.from_update(state))
            for version in await backend.storage.versions.list_versions(record.id):
                _, data = await backend.storage.versions.get_version(record.id, version.id)
                out[f"{record.id}/{version.id}"] = export_json(ScoreDoc.from_update(data))
        assert out
        return out
    finally:
        await backend.close()
