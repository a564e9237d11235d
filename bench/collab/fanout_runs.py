"""Server CPU per delivery of the 20-listener burst, many runs on one server start.

The same fan-out as ``python -m bench.collab.run --only fanout`` (one writer, 2,000 edits
at once, 20 listeners, the same Node clients and server settings, each run on a settled
server), repeated ``--runs`` times on one server so that a before/after comparison gets
enough runs to take medians; ``--profile PREFIX`` records each run with py-spy (raw
format, 1 kHz, ``PREFIX.N``), started a second before the clients. Compare two commits by
running this from a git worktree of each, alternately.

    python -m bench.collab.fanout_runs --server orpheus --runs 5
    python -m bench.collab.fanout_runs --server orpheus-memory --runs 5 --profile /tmp/x20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.collab.run import SETTLED_SECONDS, fanout_options, load, quiet, server


async def runs(kind: str, count: int, updates: int, listeners: int, profile: str | None) -> None:
    figures = []
    with tempfile.TemporaryDirectory() as workdir, server(kind, Path(workdir)) as srv:
        for number in range(count):
            await quiet(srv, seconds=SETTLED_SECONDS)
            options = fanout_options(srv, listeners, updates, None, 60.0)
            spy = None
            if profile:
                output = f"{profile}.{number}"
                command = ["py-spy", "record", "-p", str(srv.pid), "-o", output, "-f", "raw"]
                spy = subprocess.Popen(
                    [*command, "-r", "1000", "--nonblocking"], stderr=subprocess.DEVNULL
                )
                await asyncio.sleep(1)
            async with load(options) as client:
                await client.event("ready", 60)
                cpu = srv.cpu()
                result = await client.event("result", 70)
                cpu = srv.cpu() - cpu
            if spy is not None:
                spy.send_signal(2)
                spy.wait()
            us = cpu / (updates * listeners) * 1e6
            figures.append(us)
            delivery = result.get("delivery_ms", {})
            print(
                f"run {number + 1}: {us:.2f} us per delivery, {cpu:.2f} s server CPU, "
                f"{result.get('updates_per_s')} updates/s, delivery p50 {delivery.get('p50')} ms",
                flush=True,
            )
    print(f"{kind}: median {statistics.median(figures):.2f} us per delivery over {count} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="orpheus", help="orpheus, orpheus-memory or a peer")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--profile", help="py-spy raw output prefix (one file per run)")
    args = parser.parse_args()
    asyncio.run(runs(args.server, args.runs, args.updates, args.listeners, args.profile))


if __name__ == "__main__":
    main()
