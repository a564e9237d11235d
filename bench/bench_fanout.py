"""Benchmark: latency and fan-out across two ``orpheus serve`` instances (PostgreSQL +
Redis) next to the single-instance figures, measured in the same run.

Configurations (each: one writer and R readers, pycrdt y-websocket clients from
``tests/collab_server/clients.py`` in this process; the servers are child processes):

- ``embedded``: one instance, SQLite, no Redis (the baseline);
- ``pg+redis, same instance``: writer and readers on instance A;
- ``pg+redis, across instances``: writer on A, readers on B (A stores, broadcasts,
  publishes to a Redis stream; B reads it and broadcasts).

Two measurements per configuration:

- latency: the writer adds one note, waits until every reader has it, repeats
  (``--latency-updates`` times); median and p99 to the first and to the last reader;
- fan-out: the writer adds ``--burst`` notes as fast as it can; deliveries/s =
  burst x R / time until every reader has every note (the server coalesces a burst
  into few broadcasts, so this is note deliveries, not frames).

Run from the repository root: ``python -m bench.bench_fanout [--readers R]``. Needs
PostgreSQL on 127.0.0.1:5432 (trust) and Redis on 127.0.0.1:6379; a scratch database is
created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        self.name, self.port = name, free_port()
        full = {
            **os.environ,
            **env,
            "ORPHEUS_INSTANCE_ID": name,
            "ORPHEUS_LOG_LEVEL": "error",
            "ORPHEUS_AUTH_ENABLED": "false",
            "ORPHEUS_REST_RATE_PER_IP": "0",
            "ORPHEUS_REST_RATE_PER_USER": "0",
            "ORPHEUS_WS_UPDATE_RATE": "0",
            "ORPHEUS_ROOM_IDLE_SECONDS": "600",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from collab_server.cli.main import main; main()",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server {self.name} exited")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"server {self.name} did not start")

    def ws(self, score_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/scores/{score_id}"

    def create_score(self) -> str:
        reply = httpx.post(f"http://127.0.0.1:{self.port}/api/scores", json={"title": "b"})
        reply.raise_for_status()
        return str(reply.json()["id"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Reader:
    def __init__(self, client: YClient) -> None:
        self.client = client
        self.arrived: dict[str, float] = {}
        client.score.notes.observe(self._on_change)

    def _on_change(self, event: object) -> None:
        now = time.perf_counter()
        for key in event.keys:  # type: ignore[attr-defined]
            self.arrived.setdefault(key, now)


async def wait_all(readers: list[Reader], note: str, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not all(note in r.arrived for r in readers):
            await asyncio.sleep(0.0002)


async def run(
    writer_server: Server,
    reader_server: Server,
    readers_count: int,
    latency_updates: int,
    burst: int,
) -> dict[str, float]:
    score_id = writer_server.create_score()
    writer = await YClient(writer_server.ws(score_id), presence={"name": "w"}).connect()
    clients = [
        await YClient(reader_server.ws(score_id), presence={"name": f"r{n}"}).connect()
        for n in range(readers_count)
    ]
    for client in (writer, *clients):
        await asyncio.wait_for(client.synced.wait(), 20)
    readers = [Reader(c) for c in clients]
    data = writer.score.read()
    editor = ScoreEditor(writer.score, Origin.client("bench"))
    measure, part = data.measures[0].id, data.parts[0].id
    await asyncio.sleep(0.5)  # let presence settle

    first, last = [], []
    for index in range(latency_updates):
        sent = time.perf_counter()
        note = editor.add_note(measure, part, index % 4, "1/4", ["C4"])
        await wait_all(readers, note)
        times = [r.arrived[note] - sent for r in readers]
        first.append(min(times))
        last.append(max(times))

    started = time.perf_counter()
    notes = [editor.add_note(measure, part, i % 4, "1/4", ["D4"]) for i in range(burst)]
    await asyncio.sleep(0)  # the client flushes its outbox on the next tick
    await wait_all(readers, notes[-1], timeout=120)
    for note in notes:
        await wait_all(readers, note, timeout=120)
    elapsed = time.perf_counter() - started

    for client in (writer, *clients):
        await client.close()
    return {
        "first_median_ms": statistics.median(first) * 1000,
        "last_median_ms": statistics.median(last) * 1000,
        "last_p99_ms": sorted(last)[int(len(last) * 0.99) - 1] * 1000,
        "deliveries_per_s": burst * readers_count / elapsed,
        "burst_s": elapsed,
    }


async def main_async(args: argparse.Namespace) -> None:
    database = f"orpheus_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
    servers: list[Server] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            embedded = Server("solo", {}, root / "solo")
            servers.append(embedded)
            shared = {
                "DATABASE_URL": dsn,
                "REDIS_URL": REDIS_URL,
                "ORPHEUS_BLOB_URL": f"file://{root / 'blobs'}",
            }
            a = Server("a", shared, root / "a")
            servers.append(a)
            embedded.wait_ready()
            a.wait_ready()  # migrates the database before B opens it
            b = Server("b", shared, root / "b")
            servers.append(b)
            b.wait_ready()
            rows = [
                ("embedded (sqlite), one instance", embedded, embedded),
                ("pg+redis, same instance", a, a),
                ("pg+redis, across instances", a, b),
            ]
            runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in rows}
            for _ in range(args.repeats):  # interleaved, so drift hits every row alike
                for name, writer_server, reader_server in rows:
                    runs[name].append(
                        await run(
                            writer_server,
                            reader_server,
                            args.readers,
                            args.latency_updates,
                            args.burst,
                        )
                    )
            results = [
                (
                    name,
                    {key: statistics.median(r[key] for r in runs[name]) for key in runs[name][0]},
                )
                for name, _, _ in rows
            ]
    finally:
        for server in servers:
            server.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()

    print(
        f"\n1 writer, {args.readers} readers (pycrdt clients), {args.latency_updates} "
        f"sequential updates for latency, bursts of {args.burst}; medians of "
        f"{args.repeats} interleaved runs"
    )
    header = (
        f"{'configuration':34} {'first ms':>9} {'all ms':>8} {'all p99':>8} "
        f"{'deliv/s':>9} {'burst s':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results:
        print(
            f"{name:34} {r['first_median_ms']:9.2f} {r['last_median_ms']:8.2f} "
            f"{r['last_p99_ms']:8.2f} {r['deliveries_per_s']:9.0f} {r['burst_s']:8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--latency-updates", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
