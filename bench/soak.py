"""Soak: three ``orpheus serve`` instances, an analysis worker, PostgreSQL, Redis and S3
(moto), many clients editing many scores for minutes while one instance is killed with
``kill -9`` and restarted, Redis is restarted and PostgreSQL is cut off for 10 s.

Everything runs on loopback and is bounded in time. PostgreSQL is the machine's server
(a fresh database, dropped at the end) reached through a cuttable TCP proxy; Redis is a
``redis-server`` of our own on a free port (the machine's is never restarted); S3 is a
moto server in this process. Clients are pycrdt y-websocket clients
(``tests/collab_server/clients.py``); each score lives on one instance (as behind the
balancer, which hashes on the score id), and a client whose connection drops reconnects to
the same address with the document it holds, as y-websocket does.

Checks at the end:

- every score, as stored, is exactly what its clients' edits make it: each client adds
  notes, re-pitches and deletes its own, so the expected notes and pitches are known (a
  client holds its edits until a server has them, so nothing may be missing or come
  back); every note a client saw arrive from a server (acknowledged) is there;
- every instance's resident memory grew by at most 10% from the end of the warm-up (the
  restarted instance: from its own warm-up after the restart);
- edit latency (a note's write until another client of the score receives it): p99 after
  the last fault (from 5 s after PostgreSQL is back) is within twice (or 20 ms of) p99
  between the warm-up and the first fault. Per window it is drawn; windows holding a
  fault show it (edits are broadcast only once stored, so a 10 s database outage delays
  those edits by up to 10 s).

Figures go to a JSON file and a PNG (latency p50/p99 per window and each instance's memory
over time, with the faults marked).

    python -m bench.soak                      # 200 clients, 20 scores, 5 minutes
    python -m bench.soak --profile short      # 30 clients, 6 scores, 85 s (the CI test)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pycrdt import MapEvent

from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import REMOTE, YClient
from tests.collab_server.processes import Instance, free_port
from tests.collab_server.test_fanout import PrivateRedis
from tests.collab_server.test_postgres_outage import CuttableProxy
from tests.services import (
    S3Server,
    _fetchval,
    postgres_admin_dsn,
    run_sync,
    s3_bucket,
    with_database,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Profile:
    clients: int
    scores: int
    seconds: float  # editing time, faults included
    warmup: float
    kill_at: float
    redis_at: float
    postgres_at: float
    window: float  # latency windows (s)
    edit_every: float  # mean pause between one client's edits (s)
    outage: float = 10.0  # PostgreSQL cut (s)
    restart_after: float = 3.0  # the killed instance comes back after (s)


PROFILES = {
    "full": Profile(
        clients=200,
        scores=20,
        seconds=300,
        warmup=60,
        kill_at=90,
        redis_at=150,
        postgres_at=195,
        window=60,
        edit_every=3.0,
    ),
    "short": Profile(
        clients=30,
        scores=6,
        seconds=85,
        warmup=15,
        kill_at=30,
        redis_at=42,
        postgres_at=52,
        window=15,
        edit_every=1.0,
    ),
}


@dataclass
class Faults:
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, started: float, what: str) -> None:
        self.events.append((round(time.monotonic() - started, 2), what))


class S3Moto:
    """A moto S3 server in its own process on a free loopback port (in this process its
    threads would compete with the clients for the GIL and inflate their latencies)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> S3Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        s3 = S3Server(f"http://127.0.0.1:{self.port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.client().list_buckets()
                return s3
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    admin = postgres_admin_dsn()
    name = f"orpheus_soak_{os.getpid()}_{int(time.time())}"
    run_sync(_fetchval, admin, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        run_sync(_fetchval, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class SoakClient:
    """One editor of one score that reconnects (with the document it holds) whenever its
    connection drops, like y-websocket."""

    def __init__(
        self,
        url: str,
        name: str,
        sent: dict[str, float],
        received: dict[str, float],
        rng: random.Random,
        edit_every: float,
    ) -> None:
        self.url, self.name, self.edit_every = url, name, edit_every
        self.score = ScoreDoc()
        self.sent, self.received, self.rng = sent, received, rng
        self.client: YClient | None = None
        self.authored: list[str] = []
        self.alive: dict[str, str] = {}  # this client's notes still there -> their pitch
        self.edits = 0
        self.reconnects = 0
        self.score.notes.observe(self._arrived)

    def _arrived(self, event: MapEvent) -> None:
        if event.transaction.origin != REMOTE:  # type: ignore[attr-defined]
            return
        now = time.monotonic()
        for key, change in event.keys.items():  # type: ignore[attr-defined]
            if change["action"] == "add" and key not in self.received:
                self.received[key] = now

    async def connect(self) -> None:
        while True:
            old = self.client
            if old is not None:
                with contextlib.suppress(Exception):
                    old.doc.unobserve(old._subscription)
            client = YClient(self.url, score=self.score, presence={"user": self.name})
            try:
                await client.connect()
                await asyncio.wait_for(client.synced.wait(), 10)
            except Exception:
                with contextlib.suppress(Exception):
                    client.doc.unobserve(client._subscription)
                    if client._ws is not None:
                        await client._ws.close()
                await asyncio.sleep(0.2 + self.rng.random() * 0.5)
                continue
            self.client = client
            return

    @property
    def connected(self) -> bool:
        return self.client is not None and not self.client.closed.is_set()

    async def run(self, until: float) -> None:
        """Edit until ``until``: add a note (half the time), re-pitch (30%) or delete (20%)
        one of this client's own notes, so the expected end state is exact."""
        await self.connect()
        editor = ScoreEditor(self.score, Origin.client(self.name))
        measures: list[str] = []
        parts: list[str] = []
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.expovariate(1 / self.edit_every))
            if not self.connected:
                self.reconnects += 1
                await self.connect()
                continue
            if not measures:  # read once: the structure does not change here
                data = self.score.read()
                measures = [m.id for m in data.measures]
                parts = [p.id for p in data.parts]
                if not measures or not parts:
                    continue
            choice = self.rng.random()
            pitch = self.rng.choice(["C4", "E4", "G4", "B3", "D5", "F3"])
            if choice < 0.5 or not self.alive:
                note = editor.add_note(
                    self.rng.choice(measures),
                    self.rng.choice(parts),
                    self.rng.randrange(4),
                    "1/4",
                    [pitch],
                    lyric=self.name,
                )
                self.sent[note] = time.monotonic()
                self.authored.append(note)
                self.alive[note] = pitch
            elif choice < 0.8:
                note = self.rng.choice(list(self.alive))
                editor.set_pitches(note, [pitch])
                self.alive[note] = pitch
            else:
                note = self.rng.choice(list(self.alive))
                editor.delete_note(note)
                del self.alive[note]
            self.edits += 1

    async def settle(self) -> None:
        """Stay connected until told otherwise (reconnect if dropped)."""
        if not self.connected:
            await self.connect()

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.close(), 5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def soak(profile: Profile, *, out_dir: Path, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    started_wall = time.time()
    with fresh_database() as dsn, S3Moto() as s3, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bucket = s3_bucket(s3)
        url = urlsplit(dsn)
        proxy = CuttableProxy(url.hostname or "127.0.0.1", url.port or 5432)
        proxy.start()
        proxied = dsn.replace(f"{url.hostname}:{url.port or 5432}", f"127.0.0.1:{proxy.port}")
        if f"127.0.0.1:{proxy.port}" not in proxied:
            raise RuntimeError(f"cannot route {dsn} through the proxy")
        redis = PrivateRedis()
        redis.start()
        blob_url = (
            f"s3://{bucket}/soak?endpoint_url={s3.endpoint_url}&region={s3.region}&path_style=true"
        )
        env = {
            "DATABASE_URL": proxied,
            "REDIS_URL": redis.url,
            "ORPHEUS_BLOB_URL": blob_url,
            "AWS_ACCESS_KEY_ID": s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
            "AWS_DEFAULT_REGION": s3.region,
            "ORPHEUS_LOG_LEVEL": "warning",
            "ORPHEUS_ROOM_IDLE_SECONDS": "600",
            "ORPHEUS_AUTH_ENABLED": "false",
            "ORPHEUS_REST_RATE_PER_IP": "0",
            "ORPHEUS_REST_RATE_PER_USER": "0",
        }
        instances = [Instance(f"soak{n}", env, root / f"i{n}") for n in range(3)]
        worker = Instance("soak-worker", env, root / "worker")
        try:
            instances[0].start()
            instances[0].wait_ready(60)  # migrates alone
            for instance in instances[1:]:
                instance.start()
            for instance in instances[1:]:
                instance.wait_ready(60)
            start_worker(worker)
            return await _run(
                profile,
                rng,
                instances,
                worker,
                redis,
                proxy,
                dsn,
                blob_url,
                s3,
                out_dir,
                started_wall,
            )
        finally:
            for process in (*instances, worker):
                process.stop()
            redis.kill()
            proxy.close()


def start_worker(worker: Instance) -> None:
    worker.process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from collab_server.cli.main import main; main()",
            "worker",
            "--threads",
            "1",
            "--no-warm",
        ],
        env={**os.environ, **worker.env, "ORPHEUS_INSTANCE_ID": worker.name},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _run(
    profile: Profile,
    rng: random.Random,
    instances: list[Instance],
    worker: Instance,
    redis: PrivateRedis,
    proxy: CuttableProxy,
    dsn: str,
    blob_url: str,
    s3: S3Server,
    out_dir: Path,
    started_wall: float,
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        score_ids = []
        for index in range(profile.scores):
            reply = await http.post(
                instances[index % 3].base + "/api/scores", json={"title": f"soak {index}"}
            )
            reply.raise_for_status()
            score_ids.append(reply.json()["id"])
    home = {score: instances[index % 3] for index, score in enumerate(score_ids)}
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    clients = [
        SoakClient(
            home[score_ids[n % profile.scores]].ws(score_ids[n % profile.scores]),
            f"c{n}",
            sent,
            received,
            random.Random(rng.random()),
            profile.edit_every,
        )
        for n in range(profile.clients)
    ]
    for batch in range(0, len(clients), 20):
        await asyncio.gather(*(c.connect() for c in clients[batch : batch + 20]))
    started = time.monotonic()
    until = started + profile.seconds
    faults = Faults()
    memory: list[dict[str, Any]] = []
    sampler = asyncio.get_running_loop().create_task(
        _sample_memory(instances, worker, started, memory, until + 5)
    )
    editors = [asyncio.get_running_loop().create_task(c.run(until)) for c in clients]
    victim = instances[2]

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))

    await at(profile.kill_at)
    victim.kill()
    faults.mark(started, "kill -9 instance 3")
    await asyncio.sleep(profile.restart_after)
    victim.start()
    await asyncio.to_thread(victim.wait_ready, 60)
    faults.mark(started, "instance 3 back")
    await at(profile.redis_at)
    redis.kill()
    faults.mark(started, "Redis down")
    await asyncio.sleep(2)
    await asyncio.to_thread(redis.start)
    faults.mark(started, "Redis back")
    await at(profile.postgres_at)
    proxy.cut()
    faults.mark(started, "PostgreSQL cut")
    await asyncio.sleep(profile.outage)
    proxy.restore()
    faults.mark(started, "PostgreSQL back")
    results = await asyncio.gather(*editors, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]

    # Settle: everyone connected, every score converged, then compare with storage.
    await asyncio.gather(*(c.settle() for c in clients))
    expected: dict[str, dict[str, str]] = {s: {} for s in score_ids}
    for n, client in enumerate(clients):
        expected[score_ids[n % profile.scores]].update(client.alive)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if all(
            _pitches(c.score) == expected[score_ids[n % profile.scores]]
            for n, c in enumerate(clients)
        ):
            break
        for client in clients:
            if not client.connected:
                await client.connect()
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # let the last broadcasts' stores land everywhere
    stored = await _stored_notes(dsn, blob_url, s3, score_ids)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    worker_alive = worker.process is not None and worker.process.poll() is None
    for client in clients:
        await client.close()

    report = _report(
        profile,
        score_ids,
        expected,
        stored,
        sent,
        received,
        memory,
        faults,
        errors,
        worker_alive,
        clients,
        started,
    )
    report["started"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started_wall))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "soak.json").write_text(json.dumps(report, indent=1))
    draw(report, out_dir / "soak.png")
    return report


async def _sample_memory(
    instances: list[Instance],
    worker: Instance,
    started: float,
    memory: list[dict[str, Any]],
    until: float,
) -> None:
    while time.monotonic() < until + 120:
        row: dict[str, Any] = {"t": round(time.monotonic() - started, 2)}
        for index, process in enumerate((*instances, worker)):
            pid = process.process.pid if process.process is not None else None
            alive = process.process is not None and process.process.poll() is None
            row[f"p{index}"] = rss_bytes(pid) if pid is not None and alive else None
            row[f"pid{index}"] = pid
        memory.append(row)
        await asyncio.sleep(2)


def _pitches(score: ScoreDoc) -> dict[str, str]:
    """Note id -> its (first) pitch."""
    out = {}
    for note_id, note in score.raw_notes().items():
        pitches = note.get("pitches") if isinstance(note, dict) else None
        out[note_id] = pitches[0] if isinstance(pitches, list) and pitches else ""
    return out


async def _stored_notes(
    dsn: str, blob_url: str, s3: S3Server, score_ids: list[str]
) -> dict[str, dict[str, str]]:
    backend = await open_backend(
        BackendConfig(
            dsn,
            blob_url,
            {"access_key_id": s3.access_key_id, "secret_access_key": s3.secret_access_key},
        )
    )
    try:
        documents = DocumentStore(backend.storage)
        return {
            score: _pitches(ScoreDoc.from_update((await documents.load(score)).state))
            for score in score_ids
        }
    finally:
        await backend.close()


def _report(
    profile: Profile,
    score_ids: list[str],
    expected: dict[str, dict[str, str]],
    stored: dict[str, dict[str, str]],
    sent: dict[str, float],
    received: dict[str, float],
    memory: list[dict[str, Any]],
    faults: Faults,
    errors: list[str],
    worker_alive: bool,
    clients: list[SoakClient],
    started: float,
) -> dict[str, Any]:
    acked = set(received)
    missing = {
        s: sorted(set(expected[s]) - set(stored[s]))[:5]
        for s in score_ids
        if set(expected[s]) - set(stored[s])
    }
    phantom = {
        s: sorted(set(stored[s]) - set(expected[s]))[:5]
        for s in score_ids
        if set(stored[s]) - set(expected[s])
    }  # deleted notes back, or unknown
    wrong = {
        s: sorted(n for n in expected[s] if n in stored[s] and stored[s][n] != expected[s][n])[:5]
        for s in score_ids
    }
    wrong = {s: notes for s, notes in wrong.items() if notes}
    alive = set().union(*(set(e) for e in expected.values()))
    acked_missing = sorted((acked & alive) - set().union(*(set(v) for v in stored.values())))[:5]
    windows = []
    edge = profile.warmup
    while edge < profile.seconds - 1e-9:
        end = min(edge + profile.window, profile.seconds)
        lat = [
            (received[n] - t) * 1000
            for n, t in sent.items()
            if n in received and edge <= t - started < end
        ]
        windows.append(
            {
                "from": round(edge),
                "to": round(end),
                "edits": len(lat),
                "p50_ms": round(percentile(lat, 0.5), 2),
                "p99_ms": round(percentile(lat, 0.99), 2),
            }
        )
        edge = end
    all_lat = [(received[n] - t) * 1000 for n, t in sent.items() if n in received]
    step = 5.0  # the plotted series
    buckets: dict[int, list[float]] = {}
    for n, t in sent.items():
        if n in received:
            buckets.setdefault(int((t - started) // step), []).append((received[n] - t) * 1000)
    series = [
        {
            "t": round(k * step + step / 2, 1),
            "p50_ms": round(percentile(v, 0.5), 2),
            "p99_ms": round(percentile(v, 0.99), 2),
        }
        for k, v in sorted(buckets.items())
    ]
    growth = _memory_growth(memory, profile, faults)

    def p99_between(low: float, high: float) -> float:
        return round(
            percentile(
                [
                    (received[n] - t) * 1000
                    for n, t in sent.items()
                    if n in received and low <= t - started < high
                ],
                0.99,
            ),
            2,
        )

    # Flat: after every fault, p99 is back where it was before the first one.
    before = p99_between(profile.warmup, profile.kill_at)
    after = p99_between(profile.postgres_at + profile.outage + 5, profile.seconds)
    flat = after <= max(2 * before, before + 20)
    return {
        "profile": asdict(profile),
        "scores": len(score_ids),
        "clients": len(clients),
        "edits": sum(c.edits for c in clients),
        "notes_added": len(sent),
        "notes_at_end": sum(len(e) for e in expected.values()),
        "acknowledged": len(acked),
        "reconnects": sum(c.reconnects for c in clients),
        "missing": missing,
        "phantom": phantom,
        "wrong_pitch": wrong,
        "acknowledged_missing": acked_missing,
        "every_score_complete": not (missing or phantom or wrong or acked_missing),
        "latency_ms": {
            "p50": round(percentile(all_lat, 0.5), 2),
            "p99": round(percentile(all_lat, 0.99), 2),
            "max": round(max(all_lat), 2) if all_lat else None,
        },
        "windows": windows,
        "series": series,
        "p99_before_faults_ms": before,
        "p99_after_faults_ms": after,
        "p99_flat": flat,
        "memory_growth": growth,
        "memory_ok": all(g["growth"] <= 0.10 for g in growth.values()),
        "faults": faults.events,
        "errors": errors[:5],
        "worker_alive": worker_alive,
        "memory": memory,
    }


def _memory_growth(
    memory: list[dict[str, Any]], profile: Profile, faults: Faults
) -> dict[str, dict[str, float]]:
    """Per instance: resident memory at the end of its warm-up and at the end of the
    run (medians of a few samples); the restarted instance's warm-up starts again when it
    comes back."""
    back = next((t for t, what in faults.events if what == "instance 3 back"), None)
    out = {}
    for index in range(3):
        key = f"p{index}"
        samples = [(row["t"], row[key]) for row in memory if row.get(key)]
        end_t = profile.seconds
        start_t = profile.warmup
        if index == 2 and back is not None:
            start_t = max(start_t, back + profile.warmup)
            if start_t > end_t - profile.window / 2:  # not enough time after the restart
                start_t = back + (end_t - back) / 3
        near = [v for t, v in samples if start_t - 6 <= t <= start_t + 6]
        final = [v for t, v in samples if end_t - 12 <= t <= end_t]
        if not near or not final:
            continue
        base, last = statistics.median(near), statistics.median(final)
        out[f"instance {index + 1}"] = {
            "after_warmup_mb": round(base / 2**20, 1),
            "end_mb": round(last / 2**20, 1),
            "growth": round(last / base - 1, 4),
        }
    return out


def draw(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    series = report["series"]
    times = [point["t"] for point in series]
    top.plot(times, [point["p99_ms"] for point in series], label="p99")
    top.plot(times, [point["p50_ms"] for point in series], label="p50")
    for window in report["windows"]:
        top.hlines(
            window["p99_ms"],
            window["from"],
            window["to"],
            colors="black",
            linewidth=2,
            label="p99 per window" if window is report["windows"][0] else None,
        )
    top.set_yscale("log")
    top.set_ylabel("edit latency (ms), 5 s buckets")
    top.legend(loc="upper left")
    memory = report["memory"]
    for index in range(3):
        points = [(row["t"], row[f"p{index}"] / 2**20) for row in memory if row.get(f"p{index}")]
        if points:
            bottom.plot(*zip(*points, strict=True), label=f"instance {index + 1}")
    bottom.set_ylabel("resident memory (MiB)")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left")
    for t, what in report["faults"]:
        for axis in (top, bottom):
            axis.axvline(t, color="grey", linestyle=":", linewidth=1)
        top.annotate(what, (t, top.get_ylim()[1]), rotation=90, fontsize=7, va="top", ha="right")
    profile = report["profile"]
    fig.suptitle(
        f"Soak: {report['clients']} clients, {report['scores']} scores, "
        f"{profile['seconds']:g} s, {report['edits']} edits "
        f"({report['notes_added']} notes added)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs",
        help="where soak.json and soak.png go (default: docs/)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = asyncio.run(soak(PROFILES[args.profile], out_dir=args.out, seed=args.seed))
    summary = {k: v for k, v in report.items() if k != "memory"}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
