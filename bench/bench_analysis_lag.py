"""Edit-to-analysis lag: a WebSocket client edits a 200-measure score; how long until the
updated analysis reaches a client through the server-sent event stream?

Runs the real embedded server (uvicorn, SQLite in a temporary folder, the embedded
Dramatiq worker and its analysis process) in this process, uploads a generated 4-part,
200-measure score (3,200 notes), subscribes to ``/api/scores/{id}/analysis/events``,
then makes one-note edits (a pitch change) from a real WebSocket client, one at a time,
and times each from the edit until an ``analysis`` event naming a newer version arrives.

Baselines measured in the same run: the debounce (200 ms of quiet: the floor), the job
duration the worker reports (catch-up from the log + incremental analysis), the
WebSocket round trip of the same edit to a second client, and a from-scratch analysis of
the same score (what every job would cost without the warm, incremental worker).

Usage: ``python bench/bench_analysis_lag.py [--edits N] [--measures N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn

from analysis_engine.jobs import analyse_document
from collab_server.app import create_app
from collab_server.settings import Settings
from collab_server.sync.ws_protocol import WS_PROTOCOL
from score_model.document import ScoreDoc
from score_model.exporter import export_score
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient

SCALE = ["C", "D", "E", "F", "G", "A", "B"]


def generated_score(measures: int, seed: int = 1) -> ScoreDoc:
    """Four voices of quarter notes wandering over C major."""
    rng = random.Random(seed)
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.server("bench"))
    ids = editor.create_score(
        title="Lag", parts=("Soprano", "Alto", "Tenor", "Bass"), measures=measures
    )
    octaves = (5, 4, 3, 2)
    with editor.batch():
        for measure in ids["measures"]:
            for part, octave in zip(ids["parts"], octaves, strict=True):
                for beat in range(4):
                    editor.add_note(measure, part, beat, 1, f"{rng.choice(SCALE)}{octave}")
    return score


async def read_events(
    client: httpx.AsyncClient, url: str, events: list[tuple[float, str, float | None]]
) -> None:
    async with client.stream(
        "GET", url, timeout=None, headers={"accept": "text/event-stream"}
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = json.loads(line[6:])
                events.append((time.perf_counter(), data["version"], data["duration_ms"]))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(edits: int, measures: int) -> None:
    score = generated_score(measures)
    upload = export_score(score, "json").data
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), log_json=False, auth_enabled=False)
        app = create_app(settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, ws=WS_PROTOCOL, log_level="warning", ws_per_message_deflate=False)
        )
        serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        base = f"127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=f"http://{base}", timeout=30) as client:
            created = await client.post(
                "/api/scores?filename=lag.json&title=Lag",
                content=upload,
                headers={"content-type": "application/octet-stream"},
            )
            created.raise_for_status()
            score_id = created.json()["id"]
            events: list[tuple[float, str, float | None]] = []
            reader = asyncio.get_running_loop().create_task(
                read_events(client, f"/api/scores/{score_id}/analysis/events", events)
            )
            await client.get(f"/api/scores/{score_id}/analysis")  # first (cold) job
            while not events:
                await asyncio.sleep(0.01)
            cold_ms = events[-1][2]

            writer = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
            watcher = await YClient(f"ws://{base}/ws/scores/{score_id}").connect()
            await writer.synced.wait()
            await watcher.synced.wait()
            rng = random.Random(7)
            note_ids = sorted(writer.score.raw_notes())
            editor = ScoreEditor(writer.score, Origin.client("bench"))
            lags, jobs, round_trips = [], [], []
            for i in range(edits + 3):  # the first 3 warm the worker up
                seen = len(events)
                received = watcher.received_updates
                note = rng.choice(note_ids)
                octave = writer.score.raw_notes()[note]["pitches"][0][-1]
                sent = time.perf_counter()
                editor.set_pitches(note, f"{rng.choice(SCALE)}{octave}")
                while watcher.received_updates == received:
                    await asyncio.sleep(0.0005)
                round_trip = time.perf_counter() - sent
                while len(events) == seen:
                    await asyncio.sleep(0.001)
                arrived, _, job_ms = events[-1]
                if i >= 3:
                    lags.append((arrived - sent) * 1000)
                    jobs.append(job_ms or 0.0)
                    round_trips.append(round_trip * 1000)
                await asyncio.sleep(0.05)
            await writer.close()
            await watcher.close()
            reader.cancel()
        server.should_exit = True
        await serving

    full = []
    data = score.read()
    for _ in range(3):
        started = time.perf_counter()
        analyse_document(data)
        full.append((time.perf_counter() - started) * 1000)

    notes = len(score.raw_notes())
    print(
        f"edit-to-analysis lag, {measures} measures x 4 parts ({notes} notes), "
        f"{edits} one-note edits over WebSocket, result pushed over SSE:"
    )
    print(
        f"  lag            p50 {pct(lags, 0.5):7.1f} ms   p90 {pct(lags, 0.9):7.1f} ms   "
        f"max {max(lags):7.1f} ms"
    )
    print("  of which: debounce (quiet period)  200.0 ms")
    print(
        f"            worker job (catch-up + incremental analysis)  median "
        f"{statistics.median(jobs):6.1f} ms, p90 {pct(jobs, 0.9):6.1f} ms"
    )
    print("baselines, same run:")
    print(
        f"  WebSocket round trip of the edit to another client  median "
        f"{statistics.median(round_trips):6.2f} ms"
    )
    print(f"  first (cold) job on the server: {cold_ms:.1f} ms")
    print(
        f"  from-scratch analysis of the same score (warm caches): median "
        f"{statistics.median(full):.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--measures", type=int, default=200)
    options = parser.parse_args()
    asyncio.run(main(options.edits, options.measures))
