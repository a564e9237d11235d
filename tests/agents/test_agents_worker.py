"""Production mode: the server records the task in Redis and enqueues it; an
``orpheus worker`` (its code, on a thread) runs it in its own headless rooms; a person
connected to the server sees the agent's presence and suggestions through the fan-out,
and the progress comes back through the shared board."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from agents.tasks import TaskRecord
from collab_server.app import create_app
from collab_server.cli.analysis import run_worker
from collab_server.settings import Settings
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.agents.chorale import fill_melody
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import run_uvicorn
from tests.services import redis_service, redis_url  # noqa: F401


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_a_task_runs_on_the_worker_and_reaches_the_servers_clients(tmp_path: Path) -> None:
    url = redis_url(13)
    redis.Redis.from_url(url).flushdb()
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False, redis_url=url)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(settings,), kwargs={"threads": 1, "warm": False, "stop": stop}
    )
    worker.start()
    try:
        app = create_app(settings)
        async with (
            run_uvicorn(app, lifespan="on", timeout_graceful_shutdown=1) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http,
        ):
            base = f"127.0.0.1:{port}"
            score_id = (await http.post("/api/scores", json={"title": "C"})).json()["id"]

            def build(editor: ScoreEditor) -> None:
                parts = [p["id"] for p in editor.score.raw_parts()]
                for name in ("Alto", "Tenor", "Bass"):
                    parts.append(editor.add_part(name))
                editor.update_part(parts[0], name="Soprano")
                measures = [m["id"] for m in editor.score.raw_measures()][:2]
                fill_melody(editor, {"parts": parts, "measures": measures}, 2)

            await app.state.scores.edit(score_id, build, origin=Origin.server("test"))
            person = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
            await asyncio.wait_for(person.synced.wait(), 10)
            seen_agent = []
            started = await http.post(
                f"/api/scores/{score_id}/agents/tasks",
                json={"agent": "aureon", "instruction": "harmonise"},
            )
            assert started.status_code == 202, started.text
            task = started.json()["id"]

            def watch() -> bool:
                seen_agent.extend(
                    s for s in person.presence.values() if s.get("user", {}).get("kind") == "agent"
                )
                return bool(person.score.raw_suggestions()) and all(
                    s["status"] == "pending" for s in person.score.raw_suggestions().values()
                )

            await wait_for(watch, timeout=60)
            assert seen_agent and seen_agent[0]["task"] == task
            for _ in range(200):
                record = (await http.get(f"/api/scores/{score_id}/agents/tasks/{task}")).json()
                if record["status"] == "done":
                    break
                await asyncio.sleep(0.1)
            assert record["status"] == "done" and record["notes_written"] > 0
            assert len(record["suggestions"]) == len(person.score.raw_suggestions())
            await person.close()
    finally:
        stop.set()
        await asyncio.to_thread(worker.join, 20)
        redis.Redis.from_url(url).flushdb()
    assert not worker.is_alive()


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_undo_of_a_task_run_on_the_worker(tmp_path: Path) -> None:
    """The worker that ran a task undoes it on a server's request: the agent's notes go
    on a client of the server, a person's later note in the same measure stays; an
    unknown, unfinished or already undone task is refused, and so is one whose worker
    has stopped."""
    url = redis_url(13)
    redis.Redis.from_url(url).flushdb()
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False, redis_url=url)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(settings,), kwargs={"threads": 1, "warm": False, "stop": stop}
    )
    worker.start()
    try:
        app = create_app(settings)
        async with (
            run_uvicorn(app, lifespan="on", timeout_graceful_shutdown=1) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
        ):
            score_id = (await http.post("/api/scores", json={"title": "C"})).json()["id"]

            def build(editor: ScoreEditor) -> dict[str, list[str]]:
                parts = [p["id"] for p in editor.score.raw_parts()]
                for name in ("Alto", "Tenor", "Bass"):
                    parts.append(editor.add_part(name))
                editor.update_part(parts[0], name="Soprano")
                measures = [m["id"] for m in editor.score.raw_measures()][:2]
                ids = {"parts": parts, "measures": measures}
                fill_melody(editor, ids, 2)
                return ids

            ids = await app.state.scores.edit(score_id, build, origin=Origin.server("test"))
            person = await YClient(f"ws://127.0.0.1:{port}/ws/scores/{score_id}").connect()
            await asyncio.wait_for(person.synced.wait(), 10)
            tasks = f"/api/scores/{score_id}/agents/tasks"

            async def finished(task: str) -> dict[str, Any]:
                for _ in range(300):
                    record: dict[str, Any] = (await http.get(f"{tasks}/{task}")).json()
                    if record["status"] not in ("queued", "running"):
                        return record
                    await asyncio.sleep(0.1)
                raise AssertionError(f"task {task} did not finish")

            def lower() -> list[str]:  # ids of the notes outside the melody's part
                return sorted(
                    nid
                    for nid, n in person.score.raw_notes().items()
                    if isinstance(n, dict) and n.get("part") != ids["parts"][0]
                )

            started = await http.post(
                tasks, json={"agent": "aureon", "instruction": "harmonise", "mode": "direct"}
            )
            assert started.status_code == 202, started.text
            task = started.json()["id"]
            record = await finished(task)
            assert record["status"] == "done" and record["notes_written"] > 0, record
            await wait_for(lambda: len(lower()) == record["notes_written"], timeout=20)
            agent_notes = lower()

            # A person adds a note to one of the agent's measures and parts afterwards.
            mine = ScoreEditor(person.score, Origin.client("person")).add_note(
                ids["measures"][0], ids["parts"][1], 0, 1, ["D4"], voice=2
            )

            async def server_has_it() -> bool:
                score = await app.state.scores.document(score_id)
                return mine in score.raw_notes()

            for _ in range(100):
                if await server_has_it():
                    break
                await asyncio.sleep(0.05)
            assert await server_has_it()

            undone = await http.post(f"{tasks}/{task}/undo")
            assert undone.status_code == 200, undone.text
            assert undone.json()["status"] == "undone"
            await wait_for(lambda: lower() == [mine], timeout=20)
            assert not set(agent_notes) & set(lower())
            server_score = await app.state.scores.document(score_id)
            assert sorted(
                nid
                for nid, n in server_score.raw_notes().items()
                if isinstance(n, dict) and n.get("part") != ids["parts"][0]
            ) == [mine]

            again = await http.post(f"{tasks}/{task}/undo")
            assert again.status_code == 409, again.text
            unknown = await http.post(f"{tasks}/t_nope/undo")
            assert unknown.status_code == 404
            running = TaskRecord(score_id, "aureon", "harmonise", status="running")
            await app.state.agents.board.save(running)
            unfinished = await http.post(f"{tasks}/{running.id}/undo")
            assert unfinished.status_code == 409
            assert "running" in unfinished.json()["message"]

            # A task whose worker has stopped cannot be undone: its undo was in that
            # worker's memory.
            second = (
                await http.post(tasks, json={"agent": "aureon", "instruction": "harmonise"})
            ).json()["id"]
            assert (await finished(second))["status"] == "done"
            stop.set()
            await asyncio.to_thread(worker.join, 20)
            orphan = await http.post(f"{tasks}/{second}/undo")
            assert orphan.status_code == 409, orphan.text
            assert "worker" in orphan.json()["message"]
            assert (await http.get(f"{tasks}/{second}")).json()["status"] == "done"
            await person.close()
    finally:
        stop.set()
        await asyncio.to_thread(worker.join, 20)
        redis.Redis.from_url(url).flushdb()
    assert not worker.is_alive()
