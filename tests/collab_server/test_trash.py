"""Deleted is not gone at once: a deleted score goes to its owner's trash, can be listed
and restored as it was, is purged from the trash at once on request, and for good once
its time is up (at start-up and periodically)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from collab_server.services.score_service import ScoreService
from tests.collab_server.clients import YClient
from tests.collab_server.security_helpers import bearer, live_server, settings_for


async def test_delete_moves_to_the_owners_trash_and_restore_brings_it_back(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        admin = await live.login("admin", "admin-password")
        score = await live.score(ann, "Keep me")
        note_client = YClient(live.ws(score, ann))
        await note_client.connect()
        await asyncio.wait_for(note_client.synced.wait(), 5)
        before = (
            await live.http.get(f"/api/scores/{score}/export?format=json", headers=bearer(ann))
        ).content

        assert (
            await live.http.delete(f"/api/scores/{score}", headers=bearer(bob))
        ).status_code == 403
        assert (
            await live.http.delete(f"/api/scores/{score}", headers=bearer(ann))
        ).status_code == 204
        assert await note_client.wait_closed() == 4404  # live sessions end
        assert (await live.http.get(f"/api/scores/{score}", headers=bearer(ann))).status_code == 404
        listed = (await live.http.get("/api/scores", headers=bearer(ann))).json()["scores"]
        assert score not in [s["id"] for s in listed]

        trash = (await live.http.get("/api/trash", headers=bearer(ann))).json()["scores"]
        assert [s["id"] for s in trash] == [score]
        assert trash[0]["title"] == "Keep me" and trash[0]["purge_at"] > trash[0]["deleted_at"]
        assert (await live.http.get("/api/trash", headers=bearer(bob))).json()["scores"] == []
        everyone = (await live.http.get("/api/trash", headers=bearer(admin))).json()
        assert [s["id"] for s in everyone["scores"]] == [score]
        # only its owner (or an admin) restores or purges it
        assert (
            await live.http.post(f"/api/trash/{score}/restore", headers=bearer(bob))
        ).status_code == 404
        assert (
            await live.http.delete(f"/api/trash/{score}", headers=bearer(bob))
        ).status_code == 404

        restored = await live.http.post(f"/api/trash/{score}/restore", headers=bearer(ann))
        assert restored.status_code == 200 and restored.json()["id"] == score
        after = (
            await live.http.get(f"/api/scores/{score}/export?format=json", headers=bearer(ann))
        ).content
        assert after == before
        assert (await live.http.get("/api/trash", headers=bearer(ann))).json()["scores"] == []
        again = YClient(live.ws(score, ann))  # editable again
        await again.connect()
        await asyncio.wait_for(again.synced.wait(), 5)
        await again.close()

        # deleting from the trash purges at once
        await live.http.delete(f"/api/scores/{score}", headers=bearer(ann))
        assert (
            await live.http.delete(f"/api/trash/{score}", headers=bearer(ann))
        ).status_code == 204
        assert (await live.http.get("/api/trash", headers=bearer(ann))).json()["scores"] == []
        assert (
            await live.http.post(f"/api/trash/{score}/restore", headers=bearer(ann))
        ).status_code == 404


async def test_scores_are_purged_once_their_time_is_up(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path, trash_days=1.0)) as live:
        ann = await live.user("ann")
        old, recent = await live.score(ann, "old"), await live.score(ann, "recent")
        for score in (old, recent):
            await live.http.delete(f"/api/scores/{score}", headers=bearer(ann))
        scores: ScoreService = live.app.state.scores
        assert scores.trash_seconds == 86_400
        assert await scores.purge_expired(now=time.time() + 3600) == []
        catalog = scores.storage.catalog
        [record] = [r for r in await catalog.list_trash() if r.id == old]
        purged = await scores.purge_expired(now=(record.deleted_at or 0) + 86_400 + 0.001)
        assert old in purged
        remaining = (await live.http.get("/api/trash", headers=bearer(ann))).json()["scores"]
        assert old not in [s["id"] for s in remaining]


async def test_with_the_trash_off_delete_is_immediate(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path, trash_days=0)) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        assert (
            await live.http.delete(f"/api/scores/{score}", headers=bearer(ann))
        ).status_code == 204
        assert (await live.http.get("/api/trash", headers=bearer(ann))).json()["scores"] == []


@pytest.mark.slow
async def test_the_server_purges_expired_scores_at_start_up(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, database_url="", trash_days=30.0)
    async with live_server(settings) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        await live.http.delete(f"/api/scores/{score}", headers=bearer(ann))
    # 31 days later (the catalog's deletion time moved back), a start-up purges it
    import sqlite3

    conn = sqlite3.connect(tmp_path / "orpheus.db")
    conn.execute("UPDATE scores SET deleted_at = deleted_at - 31 * 86400")
    conn.commit()
    conn.close()
    async with live_server(settings) as live:
        catalog = live.app.state.scores.storage.catalog
        for _ in range(100):
            if not await catalog.list_trash():
                break
            await asyncio.sleep(0.05)
        assert await catalog.list_trash() == []
