"""Sentry reports (collab_server/observability/sentry.py) with the real SDK over real HTTP:
a small Sentry stand-in on loopback receives the envelopes (POST /api/<project>/envelope/,
gzip) and the tests assert what arrives (errors and slow transactions of the server, a
Dramatiq job and an agent task, tagged with instance, score and task) and what never does
(tokens, cookies, passwords, request bodies, notes, lyrics, chat)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import sentry_sdk
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.observability.sentry import init_sentry, scrub, task_scope
from collab_server.settings import Settings
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, settings_for

PROJECT = "42"
LYRIC = "Lacrimosa dies illa qua resurget"
PASSWORD = "hunter2-correct-horse"
COOKIE = "session-cookie-value-7731"


class Receiver:
    """Envelopes POSTed to /api/<project>/envelope/, raw (decompressed) and parsed."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.items: list[tuple[dict[str, Any], Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                with receiver.lock:
                    receiver.paths.append(self.path)
                    receiver.raw.append(body)
                    receiver.items.extend(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/{PROJECT}"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for header, payload in self.items if header.get("type") == kind]

    def everything(self) -> bytes:
        with self.lock:
            return b"\n".join(self.raw)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_envelope(body: bytes) -> list[tuple[dict[str, Any], Any]]:
    """Items of a Sentry envelope: a header line, then (item header, payload) pairs."""
    items = []
    _, _, rest = body.partition(b"\n")
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, json.loads(payload) if payload.startswith(b"{") else payload))
    return items


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    client = sentry_sdk.get_client()
    client.close()
    sentry_sdk.get_global_scope().set_client(None)
    server.close()


def sentry_settings(tmp_path: Path, receiver: Receiver, **overrides: Any) -> Settings:
    return settings_for(tmp_path, sentry_dsn=receiver.dsn, instance_id="inst-7", **overrides)


def wait_for(receiver: Receiver, kind: str, count: int = 1) -> list[dict[str, Any]]:
    sentry_sdk.flush(timeout=5)
    deadline = time.monotonic() + 5
    while len(receiver.of_type(kind)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return receiver.of_type(kind)


def test_off_without_a_dsn(tmp_path: Path, receiver: Receiver) -> None:
    assert init_sentry(settings_for(tmp_path), component="server") is False
    assert not sentry_sdk.get_client().is_active()
    sentry_sdk.capture_message("nobody hears this")
    sentry_sdk.flush(timeout=1)
    assert receiver.raw == []


def test_server_errors_arrive_tagged_and_scrubbed(tmp_path: Path, receiver: Receiver) -> None:
    settings = sentry_settings(tmp_path, receiver, sentry_slow_ms=60_000)
    assert init_sentry(settings, component="server")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        assert jwt.get_unverified_header(token)  # a real JWT
        score_id = client.post("/api/scores", json={"title": "t"}, headers=bearer(token)).json()[
            "id"
        ]
        scores = client.app.state.scores  # type: ignore[attr-defined]

        async def broken(score_id: str, *args: Any, **kwargs: Any) -> Any:
            lyrics = {"text": LYRIC.upper()}  # a local: never collected
            raise RuntimeError(f"bug while reading {score_id} for {token} ({len(lyrics)})")

        scores.get = broken
        scores.rename = broken
        response = client.get(
            f"/api/scores/{score_id}?token={token}&view=full",
            headers={**bearer(token), "Cookie": f"session={COOKIE}"},
        )
        assert response.status_code == 500
        response = client.patch(
            f"/api/scores/{score_id}",
            headers=bearer(token),
            json={"title": LYRIC, "password": PASSWORD},
        )
        assert response.status_code == 500
        assert client.get("/healthz").status_code == 200  # fast: no transaction

    events = wait_for(receiver, "event", 2)
    errors = [e for e in events if e.get("exception")]
    assert len(errors) >= 2, events
    for event in errors:
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["tags"]["instance"] == "inst-7"
        assert event["tags"]["component"] == "server"
        assert event["tags"]["score_id"] == score_id
        assert event["server_name"] == "inst-7"
        assert "[Filtered]" in event["exception"]["values"][-1]["value"]
        frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
        assert frames and not any(
            "vars" in frame and frame["vars"] != "[Filtered]" for frame in frames
        )
        request = event["request"]
        assert "data" not in request and "cookies" not in request
        assert request["url"].endswith(f"/api/scores/{score_id}")
    get_event = next(e for e in errors if e["request"]["method"] == "GET")
    assert "view=full" in get_event["request"]["query_string"]
    assert receiver.paths and all(p == f"/api/{PROJECT}/envelope/" for p in receiver.paths)
    assert receiver.of_type("transaction") == []  # none slower than 60 s
    sent = receiver.everything()
    for secret in (token, token.split(".")[2], COOKIE, PASSWORD, LYRIC, LYRIC.upper()):
        assert secret.encode() not in sent, secret


def test_slow_transactions_arrive_with_the_route(tmp_path: Path, receiver: Receiver) -> None:
    settings = sentry_settings(tmp_path, receiver, sentry_slow_ms=0)
    init_sentry(settings, component="server")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        token = client.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        score_id = client.post("/api/scores", json={"title": LYRIC}, headers=bearer(token)).json()[
            "id"
        ]
        assert (
            client.get(f"/api/scores/{score_id}?token={token}", headers=bearer(token)).status_code
            == 200
        )
        with client.websocket_connect(f"/ws/scores/{score_id}?token={token}") as websocket:
            assert websocket.receive_bytes()  # sync step 1: connected
    transactions = wait_for(receiver, "transaction", 3)
    assert not [t for t in transactions if t["contexts"]["trace"]["op"] != "http.server"]
    by_name = {t["transaction"]: t for t in transactions}
    read = by_name["/api/scores/{score_id}"]
    assert read["tags"]["score_id"] == score_id
    assert read["tags"]["instance"] == "inst-7"
    assert read["contexts"]["trace"]["op"] == "http.server"
    assert read["release"].startswith("orpheus@")
    assert "/api/auth/login" in by_name
    sent = receiver.everything()
    for secret in (token, ADMIN_PASSWORD, LYRIC):
        assert secret.encode() not in sent, secret


def test_worker_jobs_report_their_score_without_their_arguments(
    tmp_path: Path, receiver: Receiver
) -> None:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from collab_server.observability.sentry import JobTags

    init_sentry(sentry_settings(tmp_path, receiver, sentry_slow_ms=0), component="worker")
    broker = StubBroker()  # built after init: the integration adds its middleware
    broker.add_middleware(JobTags())
    broker.emit_after("process_boot")

    @dramatiq.actor(broker=broker, actor_name="analyze_score", max_retries=0)
    def analyze_score(score_id: str, lyrics: str) -> None:
        raise ValueError("the analysis broke")

    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        analyze_score.send("s_job1", LYRIC)
        broker.join(analyze_score.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    events = [e for e in wait_for(receiver, "event") if e.get("exception")]
    assert events
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["tags"]["score_id"] == "s_job1"
    assert event["tags"]["component"] == "worker"
    assert event["contexts"]["dramatiq"]["data"] == "[Filtered]"
    assert "analyze_score" in event["transaction"]
    [job] = wait_for(receiver, "transaction")  # slower than 0 ms: a transaction
    assert job["transaction"] == "analyze_score"
    assert job["contexts"]["trace"]["op"] == "queue.task.dramatiq"
    assert job["tags"]["score_id"] == "s_job1"
    assert LYRIC.encode() not in receiver.everything()


async def test_agent_task_errors_carry_the_task_id(tmp_path: Path, receiver: Receiver) -> None:
    init_sentry(sentry_settings(tmp_path, receiver, sentry_slow_ms=0), component="agents")
    log = logging.getLogger("orpheus.agents.test")
    with task_scope("t_123", "s_abc", "aureon"):
        try:
            raise RuntimeError("brain failed on " + LYRIC)
        except RuntimeError:
            log.exception("agent task failed", extra={"instruction": LYRIC})
    sentry_sdk.capture_message("outside any task")
    events = wait_for(receiver, "event", 2)
    failed = next(e for e in events if e.get("exception"))
    assert failed["tags"]["task_id"] == "t_123"
    assert failed["tags"]["score_id"] == "s_abc"
    assert failed["tags"]["agent"] == "aureon"
    assert failed["tags"]["component"] == "agents"
    assert failed["extra"]["instruction"] == "[Filtered]"
    outside = next(e for e in events if not e.get("exception"))
    assert "task_id" not in outside["tags"]  # the scope ended with the task
    transaction = next(t for t in wait_for(receiver, "transaction"))
    assert transaction["contexts"]["trace"]["op"] == "agent.task"
    assert transaction["tags"]["task_id"] == "t_123"


def test_scrub_finds_secrets_anywhere() -> None:
    token = jwt.encode({"sub": "u"}, "k" * 32, algorithm="HS256")
    event = {
        "message": f"login with {token} failed",
        "request": {
            "url": "http://h/api/scores/s_1/export",
            "data": {"notes": ["C4"]},
            "query_string": f"token={token}&format=mxl",
            "headers": {"Authorization": f"Bearer {token}", "Accept": "*/*"},
            "cookies": {"session": "x"},
        },
        "breadcrumbs": {
            "values": [
                {
                    "message": "Bearer abc.def",
                    "data": {"url": "/x?password=p1&y=2", "chat": "hello"},
                }
            ]
        },
        "extra": {"settings": {"jwt_secret": "s", "sentry_dsn": "d", "port": 1}, "score": "s_1"},
    }
    out = scrub(event, {"instance": "i"})
    text = json.dumps(out)
    for secret in (token, "abc.def", "p1", "hello", '"C4"', '"x"'):
        assert secret not in text, secret
    assert out["request"]["query_string"] == "token=[Filtered]&format=mxl"
    assert out["request"]["headers"] == {"Authorization": "[Filtered]", "Accept": "*/*"}
    assert out["breadcrumbs"]["values"][0]["data"]["url"] == "/x?password=[Filtered]&y=2"
    assert out["extra"]["settings"]["port"] == 1
    assert out["tags"] == {"instance": "i", "score_id": "s_1"}


class BrokenBrain:
    """A brain with a bug: its error names the instruction (score content)."""

    async def run(self, ctx: Any) -> Any:
        raise RuntimeError(f"cannot do {ctx.request.instruction!r}")


async def test_a_failing_agent_task_is_reported_with_its_task(
    tmp_path: Path, receiver: Receiver
) -> None:
    from tests.collab_server.security_helpers import live_server

    settings = sentry_settings(tmp_path, receiver)
    init_sentry(settings, component="server")
    async with live_server(settings) as live:
        token = await live.login("admin", ADMIN_PASSWORD)
        score_id = await live.score(token)
        live.app.state.agents.brains = lambda persona, config, memory: BrokenBrain()
        url = f"/api/scores/{score_id}/agents/tasks"
        started = await live.http.post(
            url, headers=bearer(token), json={"agent": "aureon", "instruction": LYRIC}
        )
        assert started.status_code == 202, started.text
        task_id = started.json()["id"]
        deadline = time.monotonic() + 20
        record: dict[str, Any] = {}
        while time.monotonic() < deadline and record.get("status") != "failed":
            await asyncio.sleep(0.1)
            record = (await live.http.get(f"{url}/{task_id}", headers=bearer(token))).json()
        assert record["status"] == "failed"
    events = [e for e in await asyncio.to_thread(wait_for, receiver, "event") if e.get("exception")]
    assert events
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["task_id"] == task_id
    assert event["tags"]["score_id"] == score_id
    assert event["tags"]["agent"] == "aureon"
    assert event["tags"]["instance"] == "inst-7"
    sent = receiver.everything()
    assert token.encode() not in sent


def test_log_arguments_and_job_arguments_are_dropped() -> None:
    from collab_server.observability.sentry import job_ids

    event = {
        "logentry": {
            "message": "could not analyse %r",
            "params": [LYRIC],
            "formatted": f"could not analyse {LYRIC!r}",
        },
        "contexts": {
            "dramatiq": {
                "data": {
                    "actor_name": "agents.run_task",
                    "args": [{"id": "t_9", "score_id": "s_9", "instruction": LYRIC}, "editor"],
                }
            }
        },
    }
    out = scrub(event)
    assert LYRIC not in json.dumps(out)
    assert out["logentry"]["formatted"] == "could not analyse %r"
    assert out["contexts"]["dramatiq"]["data"] == "[Filtered]"
    assert out["tags"] == {"score_id": "s_9", "task_id": "t_9"}
    assert job_ids(("s_1", 3)) == {"score_id": "s_1"}
    assert job_ids([]) == {} and job_ids(None) == {}


def test_orpheus_serve_reports_when_sentry_dsn_is_set(tmp_path: Path, receiver: Receiver) -> None:
    """The start-up code: ``orpheus serve`` (a child process) reads SENTRY_DSN and sends
    its requests' transactions, tagged as the server and its instance."""
    import httpx

    from tests.collab_server.processes import Instance

    server = Instance(
        "serve-7",
        {
            "SENTRY_DSN": receiver.dsn,
            "ORPHEUS_SENTRY_SLOW_MS": "0",
            "ORPHEUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ORPHEUS_LOG_JSON": "0",
        },
        tmp_path,
    )
    server.start()
    try:
        server.wait_ready()
        login = httpx.post(
            server.base + "/api/auth/login",
            timeout=10,
            json={"username": "admin", "password": ADMIN_PASSWORD},
        )
        assert login.status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            t["transaction"] == "/api/auth/login" for t in receiver.of_type("transaction")
        ):
            time.sleep(0.1)
    finally:
        server.stop()
    [sent] = [t for t in receiver.of_type("transaction") if t["transaction"] == "/api/auth/login"]
    assert sent["tags"]["instance"] == "serve-7"
    assert sent["tags"]["component"] == "server"
    body = receiver.everything()
    assert ADMIN_PASSWORD.encode() not in body
    assert login.json()["access_token"].encode() not in body
