"""``kill -9`` the server while clients edit: nothing any client saw broadcast is lost,
and clients reconnect and converge with no duplicated notes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pycrdt import MapEvent

from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import REMOTE, YClient, wait_for
from tests.collab_server.processes import Instance

pytestmark = pytest.mark.slow


ADMIN_PASSWORD = "crash-test-password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Instance]:
    env = {
        "ORPHEUS_LOG_LEVEL": "warning",
        "ORPHEUS_ROOM_IDLE_SECONDS": "60",
        "ORPHEUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ORPHEUS_WS_UPDATE_RATE": "0",
    }
    process = Instance("crash", env, tmp_path / "data")
    process.start()
    process.wait_ready()
    yield process
    process.stop()


async def test_kill_9_mid_edit_loses_nothing_seen(server: Instance) -> None:
    token = httpx.post(
        server.base + "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    score_id = httpx.post(
        server.base + "/api/scores",
        json={"title": "crash"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["id"]
    url = f"ws://127.0.0.1:{server.port}/ws/scores/{score_id}?token={token}"
    clients = [await YClient(url).connect() for _ in range(3)]
    for client in clients:
        await asyncio.wait_for(client.synced.wait(), 10)
    seen: set[str] = set()

    def record(event: MapEvent) -> None:  # notes a client received from the server
        if event.transaction.origin == REMOTE:
            seen.update(k for k, change in event.keys.items() if change["action"] == "add")

    for client in clients:
        client.score.notes.observe(record)
    data = clients[0].score.read()
    measure, part = data.measures[0].id, data.parts[0].id
    authored: list[str] = []

    async def write(client: YClient, count: int) -> None:
        editor = ScoreEditor(client.score, Origin.client(str(client.client_id)))
        for index in range(count):
            authored.append(editor.add_note(measure, part, index % 4, 1, "C4"))
            await asyncio.sleep(0.002)

    writers = [asyncio.create_task(write(client, 10_000)) for client in clients]
    await wait_for(lambda: len(seen) > 300, timeout=20)
    server.kill()  # mid-edit: writers are still writing
    await asyncio.sleep(0.2)
    for task in writers:
        task.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    seen_before_crash = set(seen)
    assert len(seen_before_crash) > 300

    server.start()
    server.wait_ready()
    fresh = await YClient(url).connect()
    await asyncio.wait_for(fresh.synced.wait(), 10)
    restored = set(fresh.score.read().notes)
    missing = seen_before_crash - restored
    assert not missing, f"{len(missing)} notes seen broadcast were lost"

    # The old clients reconnect with what they hold (including edits the server never
    # stored) and everyone converges on every authored note, each exactly once.
    reconnected = [await YClient(url, score=client.score).connect() for client in clients]
    for client in reconnected:
        await asyncio.wait_for(client.synced.wait(), 10)
    everyone = [fresh, *reconnected]
    await wait_for(
        lambda: all(set(c.score.read().notes) == set(authored) for c in everyone), timeout=20
    )
    assert len(authored) == len(set(authored))
    states = [c.score.read() for c in everyone]
    assert all(s.notes == states[0].notes for s in states)
    for client in everyone:
        await client.close()
