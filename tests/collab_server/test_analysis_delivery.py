"""Live analysis delivery: debounced jobs, REST reads and server-sent events, over a real
server (uvicorn, embedded SQLite, the embedded Dramatiq worker and its analysis process)
and real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from music21 import corpus

from analysis_engine.compute import LocalCompute
from analysis_engine.compute_process import ProcessCompute
from collab_server.analysis.hooks import QUEUE, AnalysisHooks
from collab_server.app import create_app
from collab_server.cli.analysis import run_worker
from collab_server.cli.main import main
from collab_server.settings import Settings
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import run_uvicorn
from tests.collab_server.processes import Instance, children_of, ended, gone, parent_of
from tests.services import redis_service, redis_url  # noqa: F401

# --- debounce ----------------------------------------------------------------------------


class Recorder:
    """Records when jobs are enqueued (the enqueuer is not under test here)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.versions: list[str] = []

    async def analyze_score(self, score_id: str, epoch: int) -> None:
        self.times.append(time.monotonic())

    async def analyze_version(self, score_id: str, version_id: str) -> None:
        self.versions.append(version_id)


async def test_debounce_waits_for_200ms_of_quiet() -> None:
    recorder = Recorder()
    hooks = AnalysisHooks(recorder)
    start = time.monotonic()
    for _ in range(3):  # a burst
        hooks.touch("s1", 1)
        last = time.monotonic()
        await asyncio.sleep(0.05)
    assert hooks.pending("s1")
    await wait_for(lambda: bool(recorder.times), timeout=2)
    assert 0.19 <= recorder.times[0] - last <= 0.40
    assert recorder.times[0] - start < 0.5
    await asyncio.sleep(0.3)
    assert len(recorder.times) == 1 and not hooks.pending("s1")
    await hooks.close()


async def test_debounce_sends_at_least_every_second_under_steady_edits() -> None:
    recorder = Recorder()
    hooks = AnalysisHooks(recorder)
    start = time.monotonic()
    while time.monotonic() - start < 2.4:  # an edit every 50 ms, never 200 ms of quiet
        hooks.touch("s1", 1)
        if time.monotonic() - start > 1.7:
            hooks.touch("s2", 1)
        await asyncio.sleep(0.05)
    first, second = recorder.times[0] - start, recorder.times[1] - start
    assert 0.98 <= first <= 1.25
    assert 1.98 <= second <= 2.35
    await hooks.close()  # pending timers go quietly
    assert len(recorder.times) == 2


async def test_changes_from_elsewhere_are_not_enqueued_twice() -> None:
    recorder = Recorder()
    hooks = AnalysisHooks(recorder, quiet=0.01, max_delay=0.02)

    class FakeRoom:
        score_id, epoch = "s1", 1

    await hooks.on_change(FakeRoom(), frozenset({Origin.remote("other")}))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert recorder.times == []
    await hooks.on_change(FakeRoom(), frozenset({Origin.remote("x"), Origin.server("y")}))  # type: ignore[arg-type]
    await wait_for(lambda: len(recorder.times) == 1, timeout=1)
    with pytest.raises(ValueError):
        AnalysisHooks(recorder, quiet=2, max_delay=1)


# --- end to end --------------------------------------------------------------------------


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """The app under uvicorn (with its lifespan) on a free port; yields ``host:port``."""
    async with run_uvicorn(app, lifespan="on", timeout_graceful_shutdown=1) as port:
        yield f"127.0.0.1:{port}"


class EventReader:
    """Reads a server-sent event stream into a list of (event, id, data)."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.task = asyncio.get_running_loop().create_task(self._read(client, url))

    async def _read(self, client: httpx.AsyncClient, url: str) -> None:
        event, event_id = "", ""
        async with client.stream(
            "GET", url, timeout=None, headers={"accept": "text/event-stream"}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    self.events.append((event, event_id, json.loads(line[6:])))

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False)
    async with (
        serve(create_app(settings)) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=10) as client,
    ):
        yield base, client


async def latest(client: httpx.AsyncClient, score_id: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            response = await client.get(f"/api/scores/{score_id}/analysis")
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            assert response.status_code == 202, response.text
            assert response.headers["retry-after"] == "1"
            await asyncio.sleep(0.05)


async def test_edit_over_websocket_reaches_an_event_stream(
    server: tuple[str, httpx.AsyncClient],
) -> None:
    base, client = server
    score_id = (await client.post("/api/scores", json={"title": "Live"})).json()["id"]
    first = await latest(client, score_id)  # 202 first, then computed
    assert first["version"] == "e1.0" and first["pending"] is False
    assert first["result"]["analyses"]["summary"]["result"]["notes"] == 0

    events = EventReader(client, f"/api/scores/{score_id}/analysis/events")
    await wait_for(lambda: len(events.events) == 1)  # the current result at once
    assert events.events[0][:2] == ("analysis", "e1.0")

    peer = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
    try:
        await asyncio.wait_for(peer.synced.wait(), 5)
        editor = ScoreEditor(peer.score, Origin.client("peer"))
        measure = peer.score.raw_measures()[0]["id"]
        part = peer.score.raw_parts()[0]["id"]
        editor.add_note(measure, part, 0, 1, "C4")
        sent = time.monotonic()
        await wait_for(lambda: len(events.events) >= 2, timeout=5)
        lag = time.monotonic() - sent
        event, version, data = events.events[-1]
        assert event == "analysis" and version == data["version"] != "e1.0"
        assert data["result"]["analyses"]["summary"]["result"]["notes"] == 1
        assert data["result"]["analyses"]["key"]["version"] == version
        assert 0.2 <= lag < 2.0  # the debounce, then the job

        # REST agrees, and that live version can be asked for by name until superseded
        now = await latest(client, score_id)
        assert now["version"] == version
        same = await client.get(f"/api/scores/{score_id}/analysis?version={version}")
        assert same.status_code == 200 and same.json()["version"] == version
        old = await client.get(f"/api/scores/{score_id}/analysis?version=e1.0")
        assert old.status_code == 404
    finally:
        await peer.close()
        await events.close()


async def test_named_version_is_computed_on_demand(server: tuple[str, httpx.AsyncClient]) -> None:
    _, client = server
    score_id = (await client.post("/api/scores", json={"title": "V"})).json()["id"]
    version = (
        await client.post(f"/api/scores/{score_id}/versions", json={"name": "first"})
    ).json()["id"]
    url = f"/api/scores/{score_id}/versions/{version}/analysis"
    first = await client.get(url)
    assert first.status_code == 202
    async with asyncio.timeout(10):
        while (response := await client.get(url)).status_code == 202:
            await asyncio.sleep(0.05)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version_id"] == version and "summary" in body["result"]["analyses"]
    by_query = await client.get(f"/api/scores/{score_id}/analysis?version={version}")
    assert by_query.status_code == 200 and by_query.json()["version_id"] == version


async def test_errors(server: tuple[str, httpx.AsyncClient]) -> None:
    _, client = server
    assert (await client.get("/api/scores/nope/analysis")).status_code == 404
    assert (await client.get("/api/scores/nope/analysis/events")).status_code == 404
    score_id = (await client.post("/api/scores", json={"title": "E"})).json()["id"]
    not_asked = await client.get(f"/api/scores/{score_id}/analysis/events")
    assert not_asked.status_code == 406 and not_asked.json()["error"] == "not_acceptable"
    bad = await client.get(f"/api/scores/{score_id}/analysis?version=e1.x")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
    missing = await client.get(f"/api/scores/{score_id}/versions/v_nothing/analysis")
    assert missing.status_code == 404


async def test_a_result_behind_the_document_is_reported_and_refreshed(tmp_path: Path) -> None:
    """An edit stored while no job followed (as after a restart that dropped the
    debounce): GET says ``pending`` and enqueues the job itself."""
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False)
    app = create_app(settings)
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=10) as client,
    ):
        score_id = (await client.post("/api/scores", json={"title": "R"})).json()["id"]
        assert (await latest(client, score_id))["version"] == "e1.0"
        # each 202 above enqueued a job: let them all finish before the edit
        queue = app.state.analysis.enqueuer.broker.queues[QUEUE]
        await wait_for(lambda: queue.unfinished_tasks == 0, timeout=10)
        dropped = Recorder()
        app.state.analysis.hooks.enqueuer = dropped  # debounced jobs now go nowhere
        peer = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
        await asyncio.wait_for(peer.synced.wait(), 5)
        ScoreEditor(peer.score, Origin.client("p")).add_note(
            peer.score.raw_measures()[0]["id"], peer.score.raw_parts()[0]["id"], 0, 1, "E4"
        )
        await wait_for(lambda: len(dropped.times) == 1, timeout=5)
        await peer.close()
        stale = (await client.get(f"/api/scores/{score_id}/analysis")).json()
        assert stale["version"] == "e1.0" and stale["pending"] is True
        async with asyncio.timeout(10):
            while (body := (await client.get(f"/api/scores/{score_id}/analysis")).json())[
                "version"
            ] == "e1.0":
                await asyncio.sleep(0.02)
        assert body["pending"] is False
        assert body["result"]["analyses"]["summary"]["result"]["notes"] == 1


async def test_two_embedded_apps_in_one_process_keep_their_own_workers(tmp_path: Path) -> None:
    apps = [
        create_app(Settings(data_dir=tmp_path / name, log_json=False, auth_enabled=False))
        for name in ("a", "b")
    ]
    async with (
        serve(apps[0]) as base_a,
        serve(apps[1]) as base_b,
        httpx.AsyncClient(base_url=f"http://{base_a}") as a,
        httpx.AsyncClient(base_url=f"http://{base_b}") as b,
    ):
        ids = [
            (await client.post("/api/scores", json={"title": "X"})).json()["id"]
            for client in (a, b)
        ]
        results = await asyncio.gather(latest(a, ids[0]), latest(b, ids[1]))
        assert [r["score_id"] for r in results] == ids
        assert all(r["result"]["analyses"]["summary"]["result"]["notes"] == 0 for r in results)


async def test_embedded_analysis_runs_in_a_child_process_replaced_when_it_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same events as in-process analysis, from a child of the server process; a
    child killed is replaced for the next job; stopping the server stops it."""
    caplog.set_level(logging.INFO, logger="orpheus.analysis")
    app = create_app(Settings(data_dir=tmp_path, log_json=False, auth_enabled=False))
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=10) as client,
    ):
        score_id = (await client.post("/api/scores", json={"title": "C"})).json()["id"]
        assert (await latest(client, score_id))["version"] == "e1.0"
        compute = app.state.analysis.compute
        assert isinstance(compute, ProcessCompute)
        first = compute.pid
        assert first is not None and parent_of(first) == os.getpid()
        os.kill(first, signal.SIGKILL)
        # collected; the current child is none, or a new one if a job was in flight (its
        # retry starts one at once: seen on a slow machine)
        await wait_for(lambda: compute.pid != first and gone(first), timeout=10)

        events = EventReader(client, f"/api/scores/{score_id}/analysis/events")
        await wait_for(lambda: len(events.events) == 1)
        peer = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
        try:
            await asyncio.wait_for(peer.synced.wait(), 5)
            measure = peer.score.raw_measures()[0]["id"]
            part = peer.score.raw_parts()[0]["id"]
            ScoreEditor(peer.score, Origin.client("p")).add_note(measure, part, 0, 1, "A4")
            await wait_for(lambda: len(events.events) >= 2, timeout=60)
            event, version, data = events.events[-1]
            assert event == "analysis" and version == data["version"] != "e1.0"
            assert data["result"]["analyses"]["summary"]["result"]["notes"] == 1
        finally:
            await peer.close()
            await events.close()
        second = compute.pid
        assert second is not None and second != first and compute.starts == 2
    assert gone(second)  # the server's shutdown stopped it and collected its status
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"(pid {first}) was killed by SIGKILL" in m for m in messages), messages


async def test_embedded_analysis_in_a_thread_when_asked(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, log_json=False, auth_enabled=False, analysis_process=False
    )
    app = create_app(settings)
    async with (
        serve(app) as base,
        httpx.AsyncClient(base_url=f"http://{base}", timeout=10) as client,
    ):
        score_id = (await client.post("/api/scores", json={"title": "T"})).json()["id"]
        assert (await latest(client, score_id))["version"] == "e1.0"
        assert isinstance(app.state.analysis.compute, LocalCompute)


def test_stopping_or_killing_orpheus_serve_leaves_no_analysis_process(tmp_path: Path) -> None:
    env = {"ORPHEUS_AUTH_ENABLED": "false", "ORPHEUS_LOG_LEVEL": "warning"}
    for ending in ("stop", "kill"):
        server = Instance(ending, env, tmp_path / ending)
        server.start()
        try:
            server.wait_ready()
            created = httpx.post(f"{server.base}/api/scores", json={"title": "S"}, timeout=10)
            score_id = created.json()["id"]
            deadline = time.monotonic() + 60
            while httpx.get(f"{server.base}/api/scores/{score_id}/analysis").status_code != 200:
                assert time.monotonic() < deadline, "no analysis result in 60 s"
                time.sleep(0.1)
            assert server.process is not None
            (child,) = children_of(server.process.pid)
            server.stop() if ending == "stop" else server.kill()
            deadline = time.monotonic() + 30
            # stopped: ended and collected by the server; killed: the child sees its
            # input end and exits (an orphan, collected by whoever adopts it)
            while not (gone(child) if ending == "stop" else ended(child)):
                assert time.monotonic() < deadline, f"analysis process left after {ending}"
                time.sleep(0.05)
        finally:
            server.stop()


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_production_mode_with_redis_and_an_orpheus_worker(tmp_path: Path) -> None:
    """The server enqueues on Redis; a separate worker (``orpheus worker``'s code, on a
    thread here) analyses; its announcement comes back over Redis to the event stream."""
    import redis

    url = redis_url(12)
    redis.Redis.from_url(url).flushdb()
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False, redis_url=url)
    stop = threading.Event()
    worker_thread = threading.Thread(
        target=run_worker, args=(settings,), kwargs={"threads": 1, "warm": False, "stop": stop}
    )
    worker_thread.start()
    try:
        async with (
            serve(create_app(settings)) as base,
            httpx.AsyncClient(base_url=f"http://{base}", timeout=10) as client,
        ):
            score_id = (await client.post("/api/scores", json={"title": "P"})).json()["id"]
            events = EventReader(client, f"/api/scores/{score_id}/analysis/events")
            peer = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
            try:
                await asyncio.wait_for(peer.synced.wait(), 5)
                measure = peer.score.raw_measures()[0]["id"]
                part = peer.score.raw_parts()[0]["id"]
                ScoreEditor(peer.score, Origin.client("p")).add_note(measure, part, 0, 1, "G4")
                await wait_for(
                    lambda: any(
                        e[2]["result"]["analyses"]["summary"]["result"]["notes"] == 1
                        for e in events.events
                    ),
                    timeout=15,
                )
            finally:
                await peer.close()
                await events.close()
    finally:
        stop.set()
        await asyncio.to_thread(worker_thread.join, 15)
        redis.Redis.from_url(url).flushdb()
    assert not worker_thread.is_alive()


# --- the command line --------------------------------------------------------------------


def test_cli_analyze_prints_a_summary_or_json(tmp_path: Path) -> None:
    chorale = str(corpus.getWork("bach/bwv66.6"))
    runner = CliRunner()
    summary = runner.invoke(main, ["analyze", chorale])
    assert summary.exit_code == 0, summary.output
    assert "10 measures, 4 parts, 165 notes" in summary.output
    assert "key: F♯ minor" in summary.output and "authentic cadence in" in summary.output
    as_json = runner.invoke(main, ["analyze", "--json", "--only", "key", "--progress", chorale])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["key"]["result"]["key"] == "f# minor"
    bad = tmp_path / "bad.xml"
    bad.write_text("not a score")
    failed = runner.invoke(main, ["analyze", str(bad)])
    assert failed.exit_code == 1 and "cannot import bad.xml" in failed.output
    unknown = runner.invoke(main, ["analyze", "--only", "astrology", chorale])
    assert unknown.exit_code == 2 and "unknown analyses" in unknown.output


def test_cli_worker_needs_redis() -> None:
    result = CliRunner().invoke(main, ["worker"], env={"REDIS_URL": ""})
    assert result.exit_code == 2 and "REDIS_URL" in result.output
