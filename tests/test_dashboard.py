"""The Grafana dashboard (deploy/grafana/dashboards/orpheus.json) against the real
/metrics: every metric its PromQL queries exists in a running app's scrape (with Redis,
so the fan-out metrics are there too), and the panels the issue asks for are present.
Also that the lag and agent metrics the dashboard charts are fed: an edit by a real
client yields an analysis-lag sample, an edit on one instance a fan-out-lag sample on
the other."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collab_server.app import create_app
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, settings_for
from tests.services import redis_service, redis_url  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "orpheus.json"
# PromQL words that are not metric names.
PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "by",
    "without",
    "histogram_quantile",
    "le",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "topk",
    "bottomk",
    "label_values",
    "clamp_min",
    "abs",
    "delta",
    "deriv",
    "time",
    "vector",
    "scalar",
    "instance",
    "agent",
    "status",
    "route",
    "outcome",
    "method",
}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def expressions(board: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else str(query))
    return exprs


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers, strings,
    ranges and Grafana variables that are neither functions nor keywords."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\$\w+", "", text)  # Grafana variables
    text = re.sub(r"\b(by|without)\s*\([^)]*\)", "", text)  # grouping labels
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", n)}


def test_metric_names_parser() -> None:
    assert metric_names(
        "histogram_quantile(0.99, sum by (le, route) (rate("
        'orpheus_http_request_seconds_bucket{instance=~"$instance"}'
        "[$__rate_interval])))"
    ) == {"orpheus_http_request_seconds_bucket"}
    assert metric_names(
        'sum(increase(a_total{outcome="applied"}[$__range])) / sum(increase(b_total[1h]))'
    ) == {"a_total", "b_total"}
    assert metric_names("label_values(orpheus_rooms, instance)") == {"orpheus_rooms"}


def scraped_names(text: str) -> set[str]:
    """Every sample name and family name of a /metrics scrape."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
def test_every_metric_the_dashboard_queries_exists(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, redis_url=redis_url(5))
    with TestClient(create_app(settings)) as client:
        scraped = scraped_names(client.get("/metrics").text)
    wanted = set().union(*(metric_names(expr) for expr in expressions(dashboard())))
    assert wanted, "no metric found in the dashboard"
    missing = wanted - scraped
    assert not missing, f"the dashboard queries metrics /metrics lacks: {sorted(missing)}"


def test_dashboard_covers_the_operations_view() -> None:
    board = dashboard()
    assert board["uid"] == "orpheus"
    wanted = set().union(*(metric_names(expr) for expr in expressions(board)))
    for metric in (
        "orpheus_rooms",
        "orpheus_connections",
        "orpheus_updates_in_total",
        "orpheus_update_bytes_in_total",
        "orpheus_bytes_out_total",
        "orpheus_store_seconds_bucket",
        "orpheus_pending_updates",
        "orpheus_fanout_lag_seconds_bucket",
        "orpheus_slow_client_disconnects_total",
        "orpheus_analysis_lag_seconds_bucket",
        "orpheus_agent_tasks_total",
        "orpheus_agent_suggestions_total",
        "orpheus_http_requests_total",
    ):
        assert metric in wanted, metric
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "prometheus"
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        # Every query is scoped by the instance variable the dashboard defines.
        assert all("$instance" in t["expr"] for t in panel["targets"]), panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
    assert [v["name"] for v in board["templating"]["list"]] == ["instance"]


def _samples(text: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_an_edit_feeds_the_analysis_lag(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        score_id = client.post("/api/scores", json={"title": "t"}, headers=bearer(token)).json()[
            "id"
        ]
        count = "orpheus_analysis_lag_seconds_count"
        before = _samples(client.get("/metrics").text, count)
        rooms = client.app.state.rooms  # type: ignore[attr-defined]

        async def edit() -> None:
            room = await rooms.get_room(score_id)
            ScoreEditor(room.score, Origin.client("c1")).set_metadata(title="edited")

        client.portal.call(edit)  # type: ignore[union-attr]
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline and _samples(client.get("/metrics").text, count) == before
        ):
            time.sleep(0.1)
        text = client.get("/metrics").text
        assert _samples(text, count) == before + 1
        assert 0.2 <= _samples(text, "orpheus_analysis_lag_seconds_sum") < 20  # >= debounce


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_an_edit_on_one_instance_feeds_the_fanout_lag_of_the_other() -> None:
    from collab_server import redis_client
    from collab_server.fanout.hooks import FanoutHooks
    from collab_server.fanout.redis import RedisFanOut
    from collab_server.sync.hooks import HookChain
    from collab_server.sync.rooms import RoomManager
    from collab_server.sync.store_hooks import StoreHooks
    from persistence.documents.store import DocumentStore
    from tests.collab_server.harness import make_backend

    backend = await make_backend()
    await backend.create_score()
    client = redis_client.connect(redis_url(6))
    prefix = f"orpheus:test:dashboard:{time.time_ns()}:"
    lags: list[list[float]] = [[], []]
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.aclose)
        rooms = []
        for index in range(2):
            documents = DocumentStore(backend.storage)
            store = StoreHooks(documents)
            fanout = RedisFanOut(client, f"i{index}", prefix=prefix, block_ms=500)
            hooks = FanoutHooks(fanout, store, observe_lag=lags[index].append)
            manager = RoomManager(HookChain(hooks, store), idle_timeout=60)
            stack.push_async_callback(documents.close)
            stack.push_async_callback(fanout.close)
            stack.push_async_callback(hooks.close)
            stack.push_async_callback(manager.close)
            rooms.append(await manager.get_room("s1"))
        ScoreEditor(rooms[0].score, Origin.client("c1")).set_metadata(title="across")
        for _ in range(100):
            if rooms[1].score.raw_meta().get("title") == "across":
                break
            await asyncio.sleep(0.05)
        assert rooms[1].score.raw_meta().get("title") == "across"
    assert lags[1] and all(0 <= lag < 5 for lag in lags[1])


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_the_worker_serves_agent_task_metrics(tmp_path: Path) -> None:
    """With a worker tier, agent tasks finish on the worker: ``--metrics-port`` serves
    their counters for Prometheus (deploy/prometheus.yml scrapes it)."""
    import threading

    import httpx
    import redis

    from collab_server.cli.analysis import run_worker
    from collab_server.settings import Settings
    from tests.collab_server.harness import run_uvicorn

    url = redis_url(14)
    redis.Redis.from_url(url).flushdb()
    settings = Settings(data_dir=tmp_path, log_json=False, auth_enabled=False, redis_url=url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(settings,),
        kwargs={"threads": 1, "warm": False, "stop": stop, "metrics_port": metrics_port},
    )
    worker.start()
    try:
        async with (
            run_uvicorn(create_app(settings), lifespan="on", timeout_graceful_shutdown=1) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as http,
        ):
            score_id = (await http.post("/api/scores", json={"title": "C"})).json()["id"]
            started = await http.post(
                f"/api/scores/{score_id}/agents/tasks",
                json={"agent": "mia", "instruction": "describe it"},
            )
            assert started.status_code == 202, started.text
            task = f"/api/scores/{score_id}/agents/tasks/{started.json()['id']}"
            record: dict[str, Any] = {}
            for _ in range(300):
                record = (await http.get(task)).json()
                if record["finished"] is not None:
                    break
                await asyncio.sleep(0.1)
            assert record["status"] == "done", record
            agent = record["agent"]
            name = f'orpheus_agent_tasks_total{{agent="{agent}",status="done"}}'
            text = ""
            for _ in range(50):  # the counter follows the board's last save
                text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                if name in text:
                    break
                await asyncio.sleep(0.1)
            assert f"{name} 1.0" in text
            served = (await http.get("/metrics")).text  # the server ran no task itself
            assert "orpheus_agent_tasks_total{" not in served
    finally:
        stop.set()
        await asyncio.to_thread(worker.join, 20)


async def test_agent_tasks_and_reviewed_suggestions_are_counted(tmp_path: Path) -> None:
    from tests.agents.test_agents_server import _chorale
    from tests.collab_server.security_helpers import live_server

    async with live_server(settings_for(tmp_path)) as live:
        token = await live.login("admin", ADMIN_PASSWORD)
        score_id, _ = await _chorale(live, token)
        url = f"/api/scores/{score_id}/agents/tasks"
        started = await live.http.post(
            url,
            headers=bearer(token),
            json={"agent": "aureon", "instruction": "harmonise", "measures": "1-2"},
        )
        assert started.status_code == 202, started.text
        task = f"{url}/{started.json()['id']}"
        record: dict[str, Any] = {}
        for _ in range(300):
            record = (await live.http.get(task, headers=bearer(token))).json()
            if record["finished"] is not None:  # status, then the rest, are set at the end
                break
            await asyncio.sleep(0.1)
        assert record["status"] == "done" and record["suggestions"], record
        accepted = await live.http.post(f"{task}/accept", headers=bearer(token), json={})
        assert accepted.status_code == 200, accepted.text
        applied = accepted.json()
        text = (await live.http.get("/metrics")).text

    def value(name: str, **labels: str) -> float:
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert value("orpheus_agent_tasks_total", agent=record["agent"], status="done") == 1
    suggestions = "orpheus_agent_suggestions_total"
    assert value(suggestions, outcome="offered") == len(record["suggestions"])
    assert value(suggestions, outcome="applied") == len(applied.get("applied", [])) > 0
    assert value(suggestions, outcome="rejected") == 0
