"""How long a full garbage collection pauses ``orpheus serve``, with what start-up built
scanned every time and with it frozen out of the collector (what ``orpheus serve`` does
once the app has started).

The app is built and started as ``orpheus serve`` does (embedded default: SQLite and
files in a temporary folder), then a full collection (``gc.collect()``) is timed
``--repeats`` times with the start-up heap in the collector, then as many times after
``gc.freeze()``. A full collection runs on the event loop's thread, so every connection
waits for it; Python starts one on its own once enough objects have survived younger
collections.

``python -m bench.bench_gc_pause [--repeats N]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import time


def full_collections(repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` full collections."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - started)
    return times


async def measure(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(ORPHEUS_DATA_DIR=folder, ORPHEUS_AUTH_ENABLED="false")
        from collab_server.app import create_app
        from collab_server.settings import Settings

        app = create_app(Settings(), announce=lambda text: None)
        async with app.router.lifespan_context(app):
            tracked = len(gc.get_objects())
            scanned = full_collections(repeats)
            gc.freeze()
            frozen = gc.get_freeze_count()
            after = full_collections(repeats)
            gc.unfreeze()
    load = os.getloadavg()[0]
    print(f"full collection in a started app, median of {repeats}, load average {load:.2f}:")
    print("| start-up heap | objects scanned | median ms | max ms |")
    print("|---|---:|---:|---:|")
    for name, objects, times in (
        ("in the collector (before)", tracked, scanned),
        ("frozen (orpheus serve)", tracked - frozen, after),
    ):
        print(
            f"| {name} | {objects:,} | {statistics.median(times) * 1000:.2f} | "
            f"{max(times) * 1000:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(measure(args.repeats))


if __name__ == "__main__":
    main()
