"""Server CPU per delivery of the broadcast path alone, with real sockets.

One in-process uvicorn server (``ScoreWebSocketProtocol``, as ``orpheus serve``) with the
room endpoint over in-memory storage (tests/collab_server/harness.py); N WebSocket
clients in a child process that only read. The room broadcasts K frames of 200 bytes to
all of them; the figure is the event-loop thread's CPU time (``time.thread_time``) per
delivery until every send queue is empty, median of five rounds. No load client, no
durable log and no analysis share the measured thread, so it moves little with the
machine's load (unlike wall time).

    python -m bench.collab.send_cpu --clients 100 --frames 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from websockets.asyncio.client import connect

from collab_server.sync.protocol import encode_update
from collab_server.sync.rooms import RoomManager
from tests.collab_server.harness import make_app, make_backend, serve


async def sink(url: str, clients: int) -> None:
    """Hold ``clients`` connections that read and drop everything."""

    async def one() -> None:
        async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
            async for _ in ws:
                pass

    await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)


async def measure(clients: int, frames: int, rounds: int = 5) -> list[float]:
    backend = await make_backend()
    await backend.create_score()
    rooms = RoomManager(backend.hooks)
    results = []
    async with serve(make_app(rooms)) as base:
        readers = subprocess.Popen(
            [sys.executable, "-m", "bench.collab.send_cpu", "--sink", f"{base}/s1", str(clients)]
        )
        try:
            async with asyncio.timeout(60):
                while (room := rooms.loaded("s1")) is None or len(room.connections) < clients:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            frame = encode_update(b"\x00\x00") + b"x" * 200
            for _ in range(rounds):
                started = time.thread_time()
                for i in range(frames):
                    room._broadcast(frame)
                    if i % 10 == 9:
                        await asyncio.sleep(0)
                while any(c.queued_frames for c in room.connections):
                    await asyncio.sleep(0)
                results.append((time.thread_time() - started) / (frames * clients) * 1e6)
                await asyncio.sleep(0.2)
        finally:
            readers.kill()
            readers.wait()
    await rooms.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--sink", nargs=2, metavar=("URL", "CLIENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(sink(args.sink[0], int(args.sink[1])))
        return
    runs = asyncio.run(measure(args.clients, args.frames))
    print(
        f"event-loop CPU per delivery, {args.clients} clients, {args.frames} frames: "
        f"median {statistics.median(runs):.2f} us (rounds: "
        + ", ".join(f"{r:.2f}" for r in runs)
        + ")"
    )


if __name__ == "__main__":
    main()
