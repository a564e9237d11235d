"""Server CPU per received edit, the whole path from the socket to the listeners.

One in-process uvicorn server (``ScoreWebSocketProtocol``, as ``orpheus serve``) with the
room endpoint over in-memory storage (tests/collab_server/harness.py); in a child
process, N listening clients and one writer that sends K note edits (a note object set in
the score's ``notes`` map, as the web client and the Node bench write them), one frame
per write, paced so that each edit arrives alone, as in the 20-listener burst
(docs/benchmarks.md). The figure is the event-loop thread's CPU time (``time.thread_time``)
per edit, from the first edit until every listener has been sent the last one: frame
parsing, the update check, applying, the log hand-off and the fan-out. Median of five
rounds. No durable log or analysis shares the measured thread and the clients run
elsewhere, so it moves far less with the machine's load than the full bench.

    python -m bench.collab.recv_cpu --listeners 20 --edits 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from pycrdt import Doc, Map
from websockets.asyncio.client import connect

from collab_server.sync.protocol import encode_update
from collab_server.sync.rooms import RoomManager
from tests.collab_server.harness import make_app, make_backend, serve


def note_updates(count: int, rounds: int) -> list[list[bytes]]:
    """``rounds`` lists of ``count`` updates, each one note set in ``notes``."""
    doc: Doc = Doc()
    notes = doc.get("notes", type=Map)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(count * rounds):
        notes[f"n_{i:012x}"] = {
            "measure": "m_kj9ff87gra6c",
            "part": "p_i2vatbpv2fmq",
            "onset": f"{i % 4}",
            "duration": "1",
            "pitches": [["C4", "E4", "G4", "B-3"][i % 4]],
        }
    return [updates[r * count : (r + 1) * count] for r in range(rounds)]


async def clients(url: str, listeners: int, count: int, rounds: int, rate: float) -> None:
    """The child: ``listeners`` readers, then a writer sending a round per line on stdin."""

    async def listen() -> None:
        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            async for _ in ws:
                pass

    tasks = [asyncio.ensure_future(listen()) for _ in range(listeners)]
    batches = note_updates(count, rounds)
    loop = asyncio.get_running_loop()
    async with connect(url, compression=None, max_size=None, ping_interval=None) as writer:
        for batch in batches:
            await loop.run_in_executor(None, sys.stdin.readline)  # the server is ready
            started = time.perf_counter()
            for i, update in enumerate(batch):
                while time.perf_counter() < started + i / rate:
                    await asyncio.sleep(0)
                await writer.send(encode_update(update))
    for task in tasks:
        task.cancel()


async def measure(listeners: int, count: int, rounds: int, rate: float) -> list[float]:
    backend = await make_backend()
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    results = []
    async with serve(make_app(rooms)) as base:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.collab.recv_cpu",
                "--child",
                f"{base}/s1",
                str(listeners),
                str(count),
                str(rounds),
                str(rate),
            ],
            stdin=subprocess.PIPE,
        )
        assert child.stdin is not None
        try:
            async with asyncio.timeout(60):
                while (room := rooms.loaded("s1")) is None or len(room.connections) < listeners + 1:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            for _ in range(rounds):
                received = room.metrics.updates_in
                frames = room.metrics.frames_out
                child.stdin.write(b"go\n")
                child.stdin.flush()
                async with asyncio.timeout(60):  # the first edit starts the clock
                    while room.metrics.updates_in == received:
                        await asyncio.sleep(0)
                started = time.thread_time()
                async with asyncio.timeout(60):
                    while room.metrics.updates_in < received + count or any(
                        conn.queued_frames for conn in room.connections
                    ):
                        await asyncio.sleep(0.001)
                    await asyncio.sleep(0.01)  # the last broadcast
                results.append((time.thread_time() - started) / count * 1e6)
                print(
                    f"  {results[-1]:.1f} us per edit "
                    f"({(room.metrics.frames_out - frames) / count:.2f} frames out per edit)",
                    flush=True,
                )
        finally:
            child.kill()
            child.wait()
    await rooms.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=2000.0, help="edits per second")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, listeners, count, rounds, rate = args.child
        asyncio.run(clients(url, int(listeners), int(count), int(rounds), float(rate)))
        return
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    figures = runner(measure(args.listeners, args.edits, args.rounds, args.rate))
    print(
        f"event-loop CPU per received edit, {args.listeners} listeners: "
        f"median {statistics.median(figures):.1f} us over {len(figures)} rounds"
    )


if __name__ == "__main__":
    main()
