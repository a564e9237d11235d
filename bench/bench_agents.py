"""Benchmark: agent latency with the offline brain, as people see it.

One embedded server (in-memory storage, authentication off) under uvicorn in this
process; per run a fresh 8-bar chorale melody (G major, 4/4) in four parts. A person's
client (pycrdt y-websocket, ``tests/collab_server/clients.py``) posts
``@aureon harmonise bars 1-8`` to the chat; a second, listening client records when it
sees

- the agent's presence (its awareness entry, ``kind: "agent"``),
- its first note (the first suggestion of the task reaching the client),
- the whole harmonisation offered (every suggestion ``pending``: written, checked by the
  quality gate, offered: eight bars end to end),

each measured from the moment the chat message was posted. Prints p50, p95 and max.

Run from the repository root: ``python -m bench.bench_agents [--runs 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from collab_server.app import create_app
from collab_server.settings import Settings
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.agents.chorale import fill_melody
from tests.collab_server.clients import YClient
from tests.collab_server.harness import run_uvicorn

BARS = 8


async def one_run(app: Any, port: int, index: int) -> dict[str, float]:
    scores = app.state.scores
    record = await scores.create(title=f"bench {index}")

    def build(editor: ScoreEditor) -> None:
        parts = [p["id"] for p in editor.score.raw_parts()]
        editor.update_part(parts[0], name="Soprano")
        parts += [editor.add_part(name) for name in ("Alto", "Tenor", "Bass")]
        measures = [m["id"] for m in editor.score.raw_measures()]
        measures += editor.append_measures(BARS - len(measures))
        fill_melody(editor, {"parts": parts, "measures": measures[:BARS]}, BARS)

    await scores.edit(record.id, build, origin=Origin.server("bench"))
    url = f"ws://127.0.0.1:{port}/ws/scores/{record.id}"
    person = await YClient(url, presence={"user": {"name": "ada"}}).connect()
    listener = await YClient(url, presence={"user": {"name": "bob"}}).connect()
    await asyncio.wait_for(asyncio.gather(person.synced.wait(), listener.synced.wait()), 10)
    seen: dict[str, float] = {}
    posted = time.perf_counter()
    ScoreEditor(person.score, Origin.client("ada")).post_chat(
        "ada", f"@aureon harmonise bars 1-{BARS}"
    )
    deadline = posted + 30
    while "offered" not in seen:
        now = time.perf_counter()
        if now > deadline:
            raise TimeoutError(f"run {index}: saw only {sorted(seen)}")
        if "presence" not in seen and any(
            s.get("user", {}).get("kind") == "agent" for s in listener.presence.values()
        ):
            seen["presence"] = now
        suggestions = listener.score.raw_suggestions()
        if "first_note" not in seen and suggestions:
            seen["first_note"] = now
        if (
            suggestions
            and len(suggestions) == 3 * BARS
            and all(s.get("status") == "pending" for s in suggestions.values())
        ):
            seen["offered"] = now
        await asyncio.sleep(0.001)
    await person.close()
    await listener.close()
    return {name: (at - posted) * 1000 for name, at in seen.items()}


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms"
    )


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url="memory://",
            auth_enabled=False,
            log_json=False,
            log_level="error",
            agent_tasks_per_minute=0,
        )
        app = create_app(settings)
        async with run_uvicorn(app, lifespan="on", ws_ping_interval=None) as port:
            await one_run(app, port, -1)  # warm-up: loads the statistics, imports music21
            results = [await one_run(app, port, i) for i in range(runs)]
    print(f"offline brain, {BARS} bars, {runs} runs (after one warm-up)")
    for name, label in (
        ("presence", "@mention -> agent presence"),
        ("first_note", "@mention -> first note"),
        ("offered", f"@mention -> {BARS} bars offered"),
    ):
        print(f"  {label:<32} {summary([r[name] for r in results])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
