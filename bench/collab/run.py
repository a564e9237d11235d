"""Collaboration server benchmark: Orpheus beside its peers, in one run.

Real Node ``yjs`` clients (bench/collab/load.mjs) drive each server on loopback: Orpheus as
``orpheus serve`` on a temporary data dir (embedded SQLite and files, durable logging
before broadcast); ``@y/websocket-server`` 0.1.1 and ``@hocuspocus/server`` 4.7.0 (Node,
installed by ``npm ci`` in bench/collab/peers, in-memory documents, nothing stored;
Hocuspocus driven by ``@hocuspocus/provider``, the others by ``y-websocket``); and stock
pycrdt-websocket 0.16.5 (bench/collab/stock_server.py, in-memory rooms). Each scenario starts a
fresh server; server CPU comes from /proc/<pid>/stat (utime + stime), RSS from
/proc/<pid>/status. Every load is bounded in count and time; child processes are ended
on exit, failure included.

    python -m bench.collab.run --quick     # about 1 minute
    python -m bench.collab.run             # the full run, about 4 minutes
    python -m bench.collab.run --only analysis --servers orpheus
        # latency while analysis runs: embedded analysis in a thread, then in a child process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOAD = ROOT / "bench" / "collab" / "load.mjs"
PEERS = ROOT / "bench" / "collab" / "peers"
# Every server measured, in table order; "orpheus-memory" only where the log's cost shows.
SERVERS = ("orpheus", "orpheus-memory", "y-websocket", "hocuspocus", "stock")
NODE_SERVERS = {
    "y-websocket": PEERS / "node_modules" / "@y" / "websocket-server" / "src" / "server.js",
    "hocuspocus": PEERS / "hocuspocus.mjs",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Variants of orpheus for the analysis scenario: where embedded analysis runs.
ANALYSIS_VARIANTS = {
    "orpheus-thread": {"ORPHEUS_ANALYSIS_PROCESS": "false"},  # before: a server thread
    "orpheus": {"ORPHEUS_ANALYSIS_PROCESS": "true"},  # after: a child process
}
# The server's own cost is measured, as for the stock server: no accounts (anonymous
# clients) and no per-connection or per-IP rate and connection limits, which would
# otherwise cap a burst writer at its configured rate. Unknown settings are ignored.
NO_LIMITS = {
    "ORPHEUS_AUTH_ENABLED": "false",
    "ORPHEUS_WS_UPDATE_RATE": "0",
    "ORPHEUS_REST_RATE_PER_IP": "0",
    "ORPHEUS_REST_RATE_PER_USER": "0",
    "ORPHEUS_MAX_CONNECTIONS_PER_USER": "100000",
    "ORPHEUS_MAX_CONNECTIONS_PER_ROOM": "100000",
}


@dataclass(frozen=True)
class Plan:
    """Sizes and repeats of one run."""

    latency_edits: int
    latency_repeats: int
    fanout_updates: int
    fanout_repeats: int
    fanout_small: int
    fanout_large: int
    large_timeout: float
    paced_rate: float  # edits/s of the paced fan-out to fanout_large listeners
    paced_updates: int
    join_clients: int
    join_notes: int
    join_repeats: int
    idle_rooms: int
    idle_per_room: int
    analysis_measures: int  # of the 4-part score edited while analysis runs
    analysis_edits: int
    analysis_pace_ms: float  # between one edit's arrival and the next edit
    analysis_repeats: int  # fresh servers per variant, alternating
    client_processes: int = 1  # Node processes sharing the x100 fan-outs' listeners and the joiners


FULL = Plan(
    latency_edits=500,
    latency_repeats=3,
    fanout_updates=2000,
    fanout_repeats=3,
    fanout_small=20,
    fanout_large=100,
    large_timeout=60,
    paced_rate=200,
    paced_updates=1000,
    join_clients=100,
    join_notes=5000,
    join_repeats=3,
    idle_rooms=100,
    idle_per_room=10,
    analysis_measures=200,
    analysis_edits=1000,
    analysis_pace_ms=5,
    analysis_repeats=3,
)
QUICK = Plan(
    latency_edits=200,
    latency_repeats=1,
    fanout_updates=500,
    fanout_repeats=1,
    fanout_small=20,
    fanout_large=100,
    large_timeout=20,
    paced_rate=200,
    paced_updates=400,
    join_clients=50,
    join_notes=2000,
    join_repeats=1,
    idle_rooms=30,
    idle_per_room=10,
    analysis_measures=200,
    analysis_edits=400,
    analysis_pace_ms=5,
    analysis_repeats=1,
)


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def stop_process(proc: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> None:
    """End a child we started (by its pid): SIGTERM, then SIGKILL after 5 s."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    if isinstance(proc, subprocess.Popen):
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Server:
    """One running server under test."""

    kind: str  # one of SERVERS
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def client(self) -> dict[str, str]:
        """The load client's ``url`` and ``protocol`` options for this server."""
        if self.kind == "hocuspocus":  # the document name travels in each message
            return {"url": f"ws://127.0.0.1:{self.port}", "protocol": "hocuspocus"}
        return {"url": f"ws://127.0.0.1:{self.port}/ws/scores", "protocol": "y-websocket"}

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def children_cpu(self) -> float:
        """CPU seconds of the server's running child processes (the analysis process)."""
        total = 0.0
        for child in children_of(self.pid):
            with contextlib.suppress(OSError):
                total += cpu_seconds(child)
        return total

    def get_json(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def upload(self, content: bytes, filename: str) -> str:
        """Create a score from a file; its id."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/scores?filename={filename}",
            data=content,
            headers={"content-type": "application/octet-stream"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["id"])

    def analysis_results(self) -> int:
        """Analysis results announced so far (``orpheus_analysis_lag_seconds_count``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("orpheus_analysis_lag_seconds_count"):
                    return int(float(line.split()[-1]))
        return 0

    def rss(self) -> int:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the {self.kind} server exited with code {self.proc.returncode}")
        return rss_bytes(self.pid)

    def new_room(self, title: str) -> str:
        """A room to use: a score created by REST on Orpheus, any fresh name on stock."""
        if not self.kind.startswith("orpheus"):
            return f"{title}-{time.monotonic_ns()}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/scores",
            data=json.dumps({"title": title}).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["id"])


@contextlib.contextmanager
def server(kind: str, workdir: Path) -> Any:
    """Start a fresh server of ``kind``, wait until it answers, and end it afterwards."""
    port = free_port()
    log = workdir / f"{kind}-{port}.log"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    data_dir = None
    if kind.startswith("orpheus"):
        data_dir = workdir / f"data-{port}"
        env.update(ORPHEUS_LOG_LEVEL="warning", **NO_LIMITS)
        if kind == "orpheus-memory":  # the same server without durable storage
            env.update(ORPHEUS_DATABASE_URL="memory://")
        env.update(ANALYSIS_VARIANTS.get(kind, {}))
        command = [
            sys.executable,
            "-c",
            "from collab_server.cli.main import main; main()",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ]
    elif kind in NODE_SERVERS:
        env.update(HOST="127.0.0.1", PORT=str(port), NODE_ENV="production")
        command = ["node", str(NODE_SERVERS[kind])]
    else:
        command = [sys.executable, "-m", "bench.collab.stock_server", "--port", str(port)]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    running = Server(kind, port, proc, data_dir, log)
    try:
        wait_until_up(running)
        yield running
    except BaseException:
        code = proc.poll()
        tail = log.read_text(errors="replace").splitlines()[-30:]
        print(f"{kind} server (exit code {code}) log tail:", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        stop_process(proc)


def wait_until_up(running: Server, timeout: float = 30) -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if running.proc.poll() is not None:
            raise RuntimeError(f"{running.kind} server exited; see {running.log}")
        try:
            if running.kind.startswith("orpheus"):
                with urllib.request.urlopen(f"http://127.0.0.1:{running.port}/healthz", timeout=1):
                    return
            else:
                with socket.create_connection(("127.0.0.1", running.port), timeout=1):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{running.kind} server did not start in {timeout} s; see {running.log}")


class Load:
    """One Node load process: JSON options in, JSON event lines out."""

    presence = True  # set once from the command line

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = {**options, "presence": self.presence}
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Load:
        self.proc = await asyncio.create_subprocess_exec(
            "node",
            str(LOAD),
            json.dumps(self.options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def event(self, name: str, timeout: float) -> dict[str, Any]:
        """The next event line called ``name`` (an ``error`` event raises)."""
        assert self.proc is not None and self.proc.stdout is not None
        limit = time.monotonic() + timeout
        while True:
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name!r} event from the load client in {timeout} s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), remaining)
            if not line:
                raise RuntimeError(f"the load client exited before {name!r}")
            message = json.loads(line)
            if message.get("event") == "error":
                raise RuntimeError(f"load client failed: {message['message']}")
            if message.get("event") == name:
                return message

    async def send_line(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.close()


@contextlib.asynccontextmanager
async def load(options: dict[str, Any]) -> AsyncIterator[Load]:
    async with Load(options) as running:
        yield running


# --- scenarios --------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


async def scenario_latency(kind: str, plan: Plan, workdir: Path) -> dict[str, Any]:
    runs = []
    with server(kind, workdir) as srv:
        for _ in range(plan.latency_repeats):
            room = srv.new_room("latency")
            options = {
                "mode": "latency",
                **srv.client,
                "room": room,
                "edits": plan.latency_edits,
                "warmup": 20,
                "timeout": 60,
            }
            async with load(options) as client:
                runs.append(await client.event("result", 70))
    return {
        "runs": runs,
        "p50": statistics.median(r["p50"] for r in runs),
        "p99_runs": [r["p99"] for r in runs],
        "p99": statistics.median(r["p99"] for r in runs),
        "max": max(r["max"] for r in runs),
    }


async def quiet(srv: Server, limit: float = 60, seconds: int = 1) -> None:
    """Wait until the server (and its children) used under 2% of a core in each of
    ``seconds`` seconds in a row."""
    deadline = time.monotonic() + limit
    calm = 0
    while time.monotonic() < deadline and calm < seconds:
        before = srv.cpu() + srv.children_cpu()
        await asyncio.sleep(1)
        calm = calm + 1 if srv.cpu() + srv.children_cpu() - before < 0.02 else 0


# Orpheus re-indexes a score for search 1 s after its last edit, re-embeds its texts 2 s
# after, and analyses it: three quiet seconds in a row mean all of that is done.
SETTLED_SECONDS = 3


def analysis_score(measures: int) -> bytes:
    """The JSON file of a generated 4-part score (quarter notes, C major), as
    ``bench/bench_analysis_lag.py`` edits."""
    from bench.bench_analysis_lag import generated_score
    from score_model.exporter import export_score

    return export_score(generated_score(measures), "json").data


async def scenario_analysis(kind: str, plan: Plan, workdir: Path, upload: bytes) -> dict[str, Any]:
    """Latency while analysis runs on the edits: one writer, one reader, paced edits on a
    large score, so that a debounced analysis job (every second under steady edits)
    overlaps them."""
    with server(kind, workdir) as srv:
        room = srv.upload(upload, "analysis.json")
        limit = time.monotonic() + 120
        while srv.get_json(f"/api/scores/{room}/analysis")[0] != 200:  # the cold job
            if time.monotonic() > limit:
                raise RuntimeError("the first analysis did not arrive in 120 s")
            await asyncio.sleep(0.1)
        await quiet(srv)  # what follows the first result (the semantic model loading) ends
        options = {
            "mode": "latency",
            **srv.client,
            "room": room,
            "edits": plan.analysis_edits,
            "warmup": 20,
            "pace": plan.analysis_pace_ms,
            "timeout": 300,
        }
        async with load(options) as client:
            await client.event("ready", 60)
            cpu0, child0, jobs0 = srv.cpu(), srv.children_cpu(), srv.analysis_results()
            started = time.monotonic()
            result = await client.event("result", 310)
            seconds = time.monotonic() - started
            result.update(
                seconds=round(seconds, 2),
                server_cpu_s=round(srv.cpu() - cpu0, 2),
                child_cpu_s=round(srv.children_cpu() - child0, 2),
                analyses=srv.analysis_results() - jobs0,
            )
    return result


def fanout_options(
    srv: Server, listeners: int, updates: int, rate: float | None, timeout: float
) -> dict[str, Any]:
    """The load client's options for one fan-out run, in a new room."""
    return {
        "mode": "fanout",
        **srv.client,
        "room": srv.new_room("fanout"),
        "listeners": listeners,
        "updates": updates,
        "rate": rate,
        "timeout": 90,
        "runTimeout": timeout,
    }


async def scenario_fanout(
    kind: str,
    plan: Plan,
    workdir: Path,
    listeners: int,
    repeats: int,
    timeout: float,
    rate: float | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Fan-out runs on one fresh server; with ``processes`` > 1 the listeners are shared
    by that many Node processes and the writer has one of its own."""
    updates = plan.paced_updates if rate else plan.fanout_updates
    runs: list[dict[str, Any]] = []
    with server(kind, workdir) as srv:
        for _ in range(repeats):
            await quiet(srv, seconds=SETTLED_SECONDS)  # the last run's deferred work is done
            options = fanout_options(srv, listeners, updates, rate, timeout)
            measured = Measured(srv)
            if processes > 1:
                result = await split_fanout(srv, options, processes, measured)
            else:
                result = await one_process_fanout(options, measured)
            if srv.proc.poll() is not None:  # it died under the load: DNF, not measured
                runs.append(
                    {
                        "completed": False,
                        "crashed": True,
                        "server_cpu_s": None,
                        "rss_mb": round(measured.rss0 / 2**20, 1),
                    }
                )
                break
            after = srv.cpu() + srv.children_cpu()
            if result.get("completed"):  # what the burst leaves to do once it is over
                await quiet(srv, seconds=SETTLED_SECONDS)
            deliveries = updates * listeners
            result.update(
                deferred_cpu_s=round(srv.cpu() + srv.children_cpu() - after, 3),
                server_cpu_s=round(measured.cpu, 3),
                rss_mb=round(measured.peak / 2**20, 1),
                rss_growth_mb=round((measured.peak - measured.rss0) / 2**20, 1),
                us_per_delivery=round(measured.cpu / deliveries * 1e6, 2),
            )
            runs.append(result)
            if not result["completed"]:
                break  # a swamped server is not measured again
    done = [r for r in runs if r["completed"]]

    def median(key: str) -> float | None:
        return statistics.median(r[key] for r in done) if done else None

    return {
        "runs": runs,
        "processes": processes,
        "completed": len(done) == len(runs),
        "updates_per_s": median("updates_per_s"),
        "us_per_delivery": median("us_per_delivery"),
        "server_cpu_s": median("server_cpu_s"),
        "deferred_cpu_s": median("deferred_cpu_s"),
        "client_cpu_s": median("client_cpu_s"),
        "seconds": median("seconds"),
        "delivery_p50": statistics.median(r["delivery_ms"]["p50"] for r in done) if done else None,
        "delivery_p99": statistics.median(r["delivery_ms"]["p99"] for r in done) if done else None,
        "rss_mb": max(r["rss_mb"] for r in runs),
    }


class Measured:
    """Server CPU and RSS over a run's measured phase: ``start()`` at its beginning,
    ``stop()`` at its end."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.cpu0, self.rss0 = srv.cpu(), srv.rss()
        self.cpu, self.peak = 0.0, self.rss0

    def start(self) -> None:
        self.cpu0, self.rss0 = self.srv.cpu(), self.srv.rss()

    def stop(self) -> None:
        if self.srv.proc.poll() is not None:  # it died under the load: the run reports it
            return
        self.cpu, self.peak = self.srv.cpu() - self.cpu0, self.srv.rss()


async def one_process_fanout(options: dict[str, Any], measured: Measured) -> dict[str, Any]:
    """The writer and every listener in one Node process."""
    timeout = options["runTimeout"]
    async with load(options) as client:
        try:  # a server swamped by the listeners' joins never gets to "ready"
            await client.event("ready", 60)
            measured.start()
            result = await client.event("result", timeout + 10)
        except TimeoutError:
            result = {"completed": False, "listeners_done": None, "seconds": timeout}
        measured.stop()
    return result


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts (the larger first)."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def quantiles(values: list[float]) -> dict[str, Any]:
    """As the load client's: nearest rank."""
    ordered = sorted(values)

    def q(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)], 3)

    return {"n": len(ordered), "p50": q(0.5), "p99": q(0.99), "max": q(1)}


async def split_fanout(
    srv: Server, options: dict[str, Any], processes: int, measured: Measured
) -> dict[str, Any]:
    """The writer in one Node process, the listeners shared by ``processes`` others; the
    delivery delays come from the writer's clock stamps (one machine, one clock)."""
    timeout = options["runTimeout"]
    async with contextlib.AsyncExitStack() as stack:
        writer = await stack.enter_async_context(load({**options, "mode": "write"}))
        groups = []
        try:
            await writer.event("connected", 60)
            first = 0
            for count in shares(options["listeners"], processes):
                group = await stack.enter_async_context(
                    load({**options, "mode": "listen", "listeners": count, "first": first})
                )
                groups.append(group)
                first += count
            for group in groups:
                await group.event("ready", 60)
            await asyncio.sleep(0.5)  # presence exchange settles, as in one process
            await writer.send_line()
            await writer.event("ready", 10)
        except TimeoutError:  # a server swamped by the listeners' joins
            return {"completed": False, "listeners_done": None, "seconds": timeout}
        measured.start()
        wrote = await writer.event("result", timeout + 10)
        heard: list[dict[str, Any]] = []
        for group in groups:
            try:
                heard.append(await group.event("result", timeout + 10))
            except TimeoutError:
                heard.append({"completed": False, "listeners_done": None, "client_cpu_s": 0})
        measured.stop()
    client_cpu = round(wrote["client_cpu_s"] + sum(h["client_cpu_s"] for h in heard), 3)
    if not all(h["completed"] for h in heard):
        done = sum(h["listeners_done"] or 0 for h in heard)
        return {"completed": False, "listeners_done": done, "seconds": timeout}
    seconds = (max(h["last_done"] for h in heard) - wrote["started_at"]) / 1000
    return {
        "completed": True,
        "listeners_done": sum(h["listeners_done"] for h in heard),
        "seconds": round(seconds, 3),
        "send_seconds": wrote["send_seconds"],
        "updates_per_s": round(options["updates"] / seconds, 1),
        "client_cpu_s": client_cpu,
        "delivery_ms": quantiles([d for h in heard for d in h["delays"]]),
    }


async def scenario_join(kind: str, plan: Plan, workdir: Path, processes: int = 1) -> dict[str, Any]:
    """Joiners connect at once to a filled room; with ``processes`` > 1 they are shared by
    that many Node processes, started together (a line on each one's stdin)."""
    runs = []
    with server(kind, workdir) as srv:
        for _ in range(plan.join_repeats):
            room = srv.new_room("join")
            fill = {
                "mode": "fill",
                **srv.client,
                "room": room,
                "notes": plan.join_notes,
                "timeout": 120,
            }
            # The filler stays connected: a stock room without clients is dropped.
            async with load(fill) as filler:
                filled = await filler.event("result", 120)
                options = {
                    "mode": "join",
                    **srv.client,
                    "room": room,
                    "clients": plan.join_clients,
                    "notes": plan.join_notes,
                    "timeout": 60,
                }
                if processes > 1:
                    result = await split_join(srv, options, processes)
                else:
                    cpu0 = srv.cpu()
                    async with load(options) as client:
                        result = await client.event("result", 70)
                    result["server_cpu_s"] = round(srv.cpu() - cpu0, 3)
                result["state_kb"] = round(filled["state_bytes"] / 1024, 1)
                runs.append(result)
                await filler.close_stdin()
            if not result["completed"]:
                break  # a swamped server is not measured again
    done = [r for r in runs if r["completed"]]
    return {
        "runs": runs,
        "processes": processes,
        "completed": len(done) == len(runs),
        "all_ms": statistics.median(r["all_ms"] for r in done) if done else None,
        "p50": statistics.median(r["p50"] for r in done) if done else None,
        "state_kb": runs[0]["state_kb"],
        "server_cpu_s": statistics.median(r["server_cpu_s"] for r in runs),
        "client_cpu_s": statistics.median(r["client_cpu_s"] for r in runs),
    }


async def split_join(srv: Server, options: dict[str, Any], processes: int) -> dict[str, Any]:
    """The joiners shared by ``processes`` Node processes that connect at the same moment;
    each client's time runs from the earliest start (epoch ms, one machine's clock)."""
    async with contextlib.AsyncExitStack() as stack:
        groups = [
            await stack.enter_async_context(load({**options, "clients": count, "go": True}))
            for count in shares(options["clients"], processes)
        ]
        for group in groups:
            await group.event("ready", 30)
        cpu0 = srv.cpu()
        for group in groups:
            await group.send_line()
        results = [await group.event("result", 70) for group in groups]
        server_cpu = round(srv.cpu() - cpu0, 3)
    client_cpu = round(sum(r["client_cpu_s"] for r in results), 3)
    if not all(r["completed"] for r in results):
        synced = sum(r["synced"] for r in results)
        return {
            "completed": False,
            "synced": synced,
            "client_cpu_s": client_cpu,
            "server_cpu_s": server_cpu,
        }
    start = min(r["started_at"] for r in results)
    times = [t - start for r in results for t in r["synced_at"]]
    return {
        "completed": True,
        "synced": len(times),
        "all_ms": round(max(times), 1),
        **quantiles(times),
        "client_cpu_s": client_cpu,
        "server_cpu_s": server_cpu,
    }


async def scenario_idle(kind: str, plan: Plan, workdir: Path) -> dict[str, Any]:
    with server(kind, workdir) as srv:
        rooms = [srv.new_room(f"idle-{i}") for i in range(plan.idle_rooms)]
        await asyncio.sleep(1)
        base = srv.rss()
        options = {
            "mode": "idle",
            **srv.client,
            "rooms": rooms,
            "perRoom": plan.idle_per_room,
            "timeout": 120,
        }
        async with load(options) as client:
            opened = await client.event("rooms-open", 120)
            await asyncio.sleep(2)
            with_rooms = srv.rss()
            await client.send_line()
            connected = await client.event("connected", 120)
            await asyncio.sleep(3)
            full = srv.rss()
            await client.close_stdin()
    total = connected["connections"]
    rest = total - opened["connections"]
    return {
        "connections": total,
        "open": connected["open"],
        "base_mb": round(base / 2**20, 1),
        "full_mb": round(full / 2**20, 1),
        "kb_per_connection": round((full - base) / total / 1024, 1),
        "kb_per_extra_connection": round((full - with_rooms) / rest / 1024, 1),
    }


# --- report -----------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def completed_runs(result: dict[str, Any], clients: int) -> str:
    runs = result["runs"]
    text = f"{sum(r['completed'] for r in runs)} of {len(runs)}"
    failed = [r for r in runs if not r["completed"]]
    if failed:
        text += f" (then {failed[0]['synced']} of {clients} synced in 60 s; not repeated)"
    return text


def clients_in(processes: int, who: str = "listeners") -> str:
    if processes == 1:
        return "clients in one Node process"
    if who == "listeners":
        return f"the writer in one Node process, the listeners shared by {processes} more"
    return f"the {who} shared by {processes} Node processes"


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "DNF"
    return f"{value:,.{digits}f}"


async def run(
    plan: Plan, only: set[str], servers: tuple[str, ...], workdir: Path, out: Path | None
) -> None:
    with_memory = servers  # where the durable log's cost shows
    kinds = tuple(k for k in servers if k != "orpheus-memory")
    load_before = os.getloadavg()
    started = time.monotonic()
    quick = replace(plan, client_processes=QUICK.client_processes) == QUICK
    print(f"# Collaboration server benchmark ({'quick' if quick else 'full'})")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"code: {git_state()}")
    print(
        f"host: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"node {node}, "
        f"load average at start {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}\n",
        flush=True,
    )
    raw: dict[str, Any] = {"plan": plan.__dict__, "load_before": load_before}

    if "latency" in only:
        results = {k: await scenario_latency(k, plan, workdir) for k in with_memory}
        raw["latency"] = results
        print(
            f"## 1. Latency: 1 writer, 1 reader, {plan.latency_edits} sequential edits "
            f"(+20 warm-up), median of {plan.latency_repeats} runs, ms"
        )
        print(
            table(
                ["server", "p50", "p99", "p99 of each run", "max (all runs)"],
                [
                    [
                        k,
                        ms(r["p50"]),
                        ms(r["p99"]),
                        " / ".join(ms(v) for v in r["p99_runs"]),
                        ms(r["max"]),
                    ]
                    for k, r in results.items()
                ],
            )
        )
        print(flush=True)

    if "analysis" in only and "orpheus" in servers:
        upload = analysis_score(plan.analysis_measures)
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ANALYSIS_VARIANTS}
        for _ in range(plan.analysis_repeats):  # alternating, a fresh server each time
            for k in ANALYSIS_VARIANTS:
                runs[k].append(await scenario_analysis(k, plan, workdir, upload))
        raw["analysis"] = runs
        print(
            f"## 1b. Latency while analysis runs: 1 writer, 1 reader, "
            f"{plan.analysis_edits} edits (+20 warm-up) {plan.analysis_pace_ms:g} ms apart "
            f"on a {plan.analysis_measures}-measure, 4-part score "
            f"({plan.analysis_measures * 16:,} notes); embedded analysis in a server thread "
            f"(orpheus-thread) or in a child process (orpheus); "
            f"median of {plan.analysis_repeats} run(s), ms"
        )

        def med(k: str, key: str) -> float:
            return float(statistics.median(r[key] for r in runs[k]))

        print(
            table(
                [
                    "server",
                    "p50",
                    "p99",
                    "p99 of each run",
                    "max (all runs)",
                    "analysis results per run",
                    "server CPU s",
                    "analysis process CPU s",
                ],
                [
                    [
                        k,
                        ms(med(k, "p50")),
                        ms(med(k, "p99")),
                        " / ".join(ms(r["p99"]) for r in runs[k]),
                        ms(max(r["max"] for r in runs[k])),
                        " / ".join(str(r["analyses"]) for r in runs[k]),
                        fmt(med(k, "server_cpu_s"), 2),
                        fmt(med(k, "child_cpu_s"), 2),
                    ]
                    for k in ANALYSIS_VARIANTS
                ],
            )
        )
        print(flush=True)

    if "fanout" in only:
        many = plan.client_processes
        for listeners, repeats, timeout, servers, rate, processes in (
            (plan.fanout_small, plan.fanout_repeats, 60.0, with_memory, None, 1),
            (plan.fanout_large, 1, plan.large_timeout, with_memory, None, many),
            (plan.fanout_large, 1, plan.large_timeout, kinds, plan.paced_rate, many),
        ):
            results = {
                k: await scenario_fanout(
                    k, plan, workdir, listeners, repeats, timeout, rate, processes
                )
                for k in servers
            }
            raw[f"fanout_{listeners}" + (f"_paced_{rate:g}" if rate else "")] = results
            edits = (
                f"{plan.paced_updates} edits at {rate:g}/s"
                if rate
                else (f"{plan.fanout_updates} edits at once")
            )
            print(
                f"## 2. Fan-out: 1 writer, {listeners} listeners, {edits}, "
                f"presence {'on' if Load.presence else 'off'}; {clients_in(processes)}; "
                f"median of {len(next(iter(results.values()))['runs'])} run(s); "
                f"timeout {timeout:.0f} s"
            )
            rows = []
            for k, r in results.items():
                last = r["runs"][-1]
                cpu = r["server_cpu_s"] if r["completed"] else last["server_cpu_s"]
                rows.append(
                    [
                        k,
                        fmt(r["updates_per_s"]),
                        f"{fmt(r['delivery_p50'])} / {fmt(r['delivery_p99'])}",
                        fmt(r["us_per_delivery"], 1),
                        fmt(r["seconds"], 2),
                        fmt(cpu, 2),
                        fmt(r.get("deferred_cpu_s"), 2),
                        fmt(r["client_cpu_s"], 2),
                        "yes"
                        if r["completed"]
                        else "no (the server exited)"
                        if last.get("crashed")
                        else f"no ({last.get('listeners_done')} of {listeners} done)",
                        f"{r['rss_mb']}",
                    ]
                )
            print(
                table(
                    [
                        "server",
                        "updates/s (all listeners have all)",
                        "delivery p50 / p99 (ms)",
                        "server CPU per delivery (us)",
                        "wall s",
                        "server CPU s",
                        "CPU s after it (search, semantic index, analysis)",
                        "Node clients CPU s",
                        "completed",
                        "peak RSS (MB)",
                    ],
                    rows,
                )
            )
            print(flush=True)

    if "join" in only:
        results = {k: await scenario_join(k, plan, workdir, plan.client_processes) for k in kinds}
        raw["join"] = results
        print(
            f"## 3. Join: {plan.join_clients} clients connect at once to a "
            f"{plan.join_notes:,}-note score "
            f"({next(iter(results.values()))['state_kb']} KB state); "
            f"{clients_in(plan.client_processes, 'joiners')}; "
            f"median of {plan.join_repeats} run(s), ms"
        )
        print(
            table(
                [
                    "server",
                    "all synced",
                    "median client synced",
                    "server CPU s",
                    "Node clients CPU s",
                    "runs completed",
                ],
                [
                    [
                        k,
                        fmt(r["all_ms"]),
                        fmt(r["p50"]),
                        fmt(r["server_cpu_s"], 2),
                        fmt(r["client_cpu_s"], 2),
                        completed_runs(r, plan.join_clients),
                    ]
                    for k, r in results.items()
                ],
            )
        )
        print(flush=True)

    if "idle" in only:
        results = {k: await scenario_idle(k, plan, workdir) for k in kinds}
        raw["idle"] = results
        print(
            f"## 4. Idle memory: {plan.idle_rooms * plan.idle_per_room} connections over "
            f"{plan.idle_rooms} rooms, presence {'on' if Load.presence else 'off'}"
        )
        print(
            table(
                [
                    "server",
                    "RSS before (MB)",
                    "RSS after (MB)",
                    "KB per connection (rooms included)",
                    "KB per connection after the first per room",
                ],
                [
                    [
                        k,
                        r["base_mb"],
                        r["full_mb"],
                        r["kb_per_connection"],
                        r["kb_per_extra_connection"],
                    ]
                    for k, r in results.items()
                ],
            )
        )
        print(flush=True)

    load_after = os.getloadavg()
    raw["load_after"] = load_after
    print(
        f"load average at end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    if out is not None:
        out.write_text(json.dumps(raw, indent=1))
        print(f"raw figures: {out}")


def git_state() -> str:
    """The commit measured, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    dirty = git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        "collab_server",
        "persistence",
        "score_model",
        "analysis_engine",
    )
    return f"commit {git('rev-parse', '--short', 'HEAD') or 'unknown'}" + (
        " with uncommitted changes in the server's packages" if dirty else ""
    )


def install_peers() -> None:
    """``npm ci`` the peer servers and the Hocuspocus client once (not committed)."""
    if (PEERS / "node_modules" / ".package-lock.json").exists():
        return
    print("installing the peer servers: npm ci in bench/collab/peers", file=sys.stderr)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=PEERS, check=True
    )


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 65536):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads, one repeat")
    parser.add_argument(
        "--only",
        default="latency,fanout,join,idle",
        help="comma-separated scenarios: latency, fanout, join, idle, analysis (latency "
        "while analysis runs, embedded analysis in a thread and in a child process; not "
        "in the default set)",
    )
    parser.add_argument(
        "--no-presence",
        action="store_true",
        help="clients leave their awareness state empty (for comparison)",
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated servers, in table order: " + ", ".join(SERVERS),
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="Node processes sharing the 100-listener fan-outs' listeners and the joiners "
        "(default 1: every client in one process; the x20 fan-out always uses one)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write raw figures here")
    args = parser.parse_args(argv)
    if shutil.which("node") is None:
        raise SystemExit("node is not on PATH")
    Load.presence = not args.no_presence
    raise_file_limit()  # inherited by the servers and the Node clients
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    servers = tuple(name.strip() for name in args.servers.split(",") if name.strip())
    if unknown := set(servers) - set(SERVERS):
        raise SystemExit(f"unknown servers: {', '.join(sorted(unknown))}")
    if set(servers) & set(NODE_SERVERS):
        install_peers()
    workdir = Path(tempfile.mkdtemp(prefix="orpheus-bench-"))
    try:
        plan = replace(QUICK if args.quick else FULL, client_processes=args.client_processes)
        asyncio.run(run(plan, only, servers, workdir, args.json))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
