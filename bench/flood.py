"""Presence flood: one connection sends awareness updates as fast as it can while two
clients on another score time their edits, against ``orpheus serve`` on loopback.

The flooder is a separate process (a viewer, through a share link) so it floods at full
speed without sharing an event loop with the clients that measure. Each of its frames
carries a newer clock, so every one is news the server must take in (the worst case). An
edit's latency is the time from one client's change until the other client receives it.

Scenarios, each on a fresh server:

- ``idle``: no flooder (the baseline);
- ``limited``: default limits; the flooder is closed with 4429 past its burst and
  reconnects at once, again and again (the connection-attempt limit slows it);
- ``unlimited``: presence limit off (``ORPHEUS_WS_AWARENESS_RATE=0``): the flooder is
  never closed, so this shows what the receive loop's time slicing alone guarantees.

    python -m bench.flood                 # 20 s per scenario
    python -m bench.flood --seconds 5     # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from collab_server.sync.protocol import AwarenessEntry, encode_awareness, encode_sync_step1
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient
from tests.collab_server.processes import Instance

ADMIN_PASSWORD = "flood-admin-password"


@dataclass
class FloodResult:
    connections: int = 0
    frames: int = 0
    close_codes: tuple[int, ...] = ()
    seconds: float = 0.0


async def flood_once(url: str, deadline: float, client_id: int = 77_777) -> tuple[int, int]:
    """One connection flooding presence until it is closed or ``deadline`` passes:
    returns (frames sent, close code; 0 when still open at the deadline)."""
    frames = 0
    async with connect(
        url, compression=None, max_size=None, ping_interval=None, open_timeout=10
    ) as ws:
        await ws.send(encode_sync_step1(b"\x00"))
        state = json.dumps({"user": {"name": "flooder"}, "cursor": {"x": 0}})
        try:
            clock = 0
            while time.monotonic() < deadline:
                batch = []
                for _ in range(64):
                    clock += 1
                    batch.append(encode_awareness([AwarenessEntry(client_id, clock, state)]))
                for frame in batch:
                    await ws.send(frame)
                frames += len(batch)
        except ConnectionClosed:
            pass
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            async with asyncio.timeout(2):
                async for _ in ws:  # drain until the close frame
                    pass
        return frames, ws.close_code or 0


async def flood(url: str, seconds: float, *, reconnect: bool = True) -> FloodResult:
    """Flood ``url`` for ``seconds``, reconnecting after each close if ``reconnect``."""
    result = FloodResult()
    started = time.monotonic()
    deadline = started + seconds
    codes: list[int] = []
    while time.monotonic() < deadline:
        try:
            frames, code = await flood_once(url, deadline)
        except (InvalidStatus, OSError, ConnectionClosed):
            await asyncio.sleep(0.05)
            continue
        result.connections += 1
        result.frames += frames
        codes.append(code)
        if not reconnect or code == 0:
            break
        if code == 1013:  # refused for too many attempts: back off a little
            await asyncio.sleep(0.05)
    result.close_codes = tuple(codes)
    result.seconds = time.monotonic() - started
    return result


async def measure_edits(url: str, seconds: float, *, interval: float = 0.01) -> list[float]:
    """Edit latencies (seconds) between two clients of ``url`` for ``seconds``."""
    writer, reader = YClient(url), YClient(url)
    await writer.connect()
    await reader.connect()
    try:
        await asyncio.wait_for(writer.synced.wait(), 10)
        await asyncio.wait_for(reader.synced.wait(), 10)
        data = writer.score.read()
        editor = ScoreEditor(writer.score, Origin.client("bench"))
        measure, part = data.measures[0].id, data.parts[0].id
        arrived = asyncio.Event()
        reader.on_frame = lambda frame: arrived.set() if frame[:2] == b"\x00\x02" else None
        latencies: list[float] = []
        deadline = time.monotonic() + seconds
        index = 0
        while time.monotonic() < deadline and reader.close_code is None:
            arrived.clear()
            start = time.perf_counter()
            if index % 2:
                editor.set_metadata(title=f"edit {index}")
            else:
                editor.add_note(measure, part, 0, "1/4", "C4")
            await asyncio.wait_for(arrived.wait(), 10)
            latencies.append(time.perf_counter() - start)
            index += 1
            await asyncio.sleep(interval)
        return latencies
    finally:
        await writer.close()
        await reader.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Setup:
    """A fresh server with two scores: one flooded (through a viewer link), one edited."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.instance = Instance(
            "flood",
            {
                "DATABASE_URL": "memory://",
                "ORPHEUS_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "ORPHEUS_LOG_LEVEL": "warning",
                "ORPHEUS_LOGIN_RATE_PER_IP": "0",
                "ORPHEUS_REST_RATE_PER_IP": "0",
                **env,
            },
            data_dir,
        )

    def __enter__(self) -> Setup:
        self.instance.start()
        self.instance.wait_ready()
        with httpx.Client(base_url=self.instance.base, timeout=10) as http:
            token = http.post(
                "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            flooded = http.post("/api/scores", json={"title": "flooded"}, headers=auth)
            edited = http.post("/api/scores", json={"title": "edited"}, headers=auth)
            flooded_id, edited_id = flooded.json()["id"], edited.json()["id"]
            link = http.post(
                f"/api/scores/{flooded_id}/links", json={"role": "viewer"}, headers=auth
            ).json()["token"]
        self.flood_url = self.instance.ws(flooded_id) + f"?token={link}"
        self.edit_url = self.instance.ws(edited_id) + f"?token={token}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.instance.stop()


def start_flooder(url: str, seconds: float, *, reconnect: bool = True) -> subprocess.Popen[bytes]:
    """The flooder in its own process; it prints its :class:`FloodResult` as JSON."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.flood",
            "--flooder",
            url,
            "--seconds",
            str(seconds),
            *([] if reconnect else ["--once"]),
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )


def flooder_result(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=60)
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def scenario(name: str, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, Setup(Path(tmp), env) as setup:
        await measure_edits(setup.edit_url, 1.0)  # warm-up
        flooder = (
            None
            if name == "idle"
            else start_flooder(setup.flood_url, seconds + 1, reconnect=name == "limited")
        )
        await asyncio.sleep(0.5 if flooder else 0)  # let the flood start
        latencies = await measure_edits(setup.edit_url, seconds)
        flooded = flooder_result(flooder) if flooder else {}
    return {
        "scenario": name,
        "edits": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "flooder": flooded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--flooder", help="(internal) flood this URL and print the result")
    parser.add_argument("--once", action="store_true", help="(internal) do not reconnect")
    args = parser.parse_args()
    if args.flooder:
        result = asyncio.run(flood(args.flooder, args.seconds, reconnect=not args.once))
        codes = sorted(set(result.close_codes))
        print(
            json.dumps(
                {
                    "connections": result.connections,
                    "frames": result.frames,
                    "close_codes": codes,
                    "seconds": round(result.seconds, 2),
                    "frames_per_second": round(result.frames / result.seconds),
                }
            )
        )
        return
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.seconds:g} s per scenario"
    )
    for name, env in (
        ("idle", {}),
        ("limited", {}),
        ("unlimited", {"ORPHEUS_WS_AWARENESS_RATE": "0"}),
    ):
        print(json.dumps(asyncio.run(scenario(name, args.seconds, env))))


if __name__ == "__main__":
    main()
