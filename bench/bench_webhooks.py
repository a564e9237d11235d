"""Benchmark: webhook delivery through the outbox.

Enqueues ``--events`` deliveries into a fresh backend's outbox (``--database sqlite``,
the default, or ``postgres``: a new database on ``ORPHEUS_TEST_POSTGRES`` or
``postgresql://postgres@127.0.0.1:5432/test``'s server, dropped afterwards) and sends
them with ``--senders`` :class:`WebhookSender` instances (each on its own backend, as
separate servers) to a receiver on loopback in the same process. Reports deliveries per
second and the time from enqueue to receipt (p50, p95), beside the baseline: the same
number of signed POSTs sent straight from a loop, without the outbox.

Run from the repository root: ``python -m bench.bench_webhooks [--database postgres]``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from collab_server.webhooks.sender import SenderConfig, WebhookSender
from collab_server.webhooks.signing import sign
from persistence.backend import BackendConfig, open_backend
from persistence.base import ScoreRecord
from persistence.webhooks.base import Subscription
from tests.collab_server.webhook_receiver import receiver


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="orpheus-bench-webhooks-"))
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    name = f"orpheus_bench_{secrets.token_hex(4)}"
    if args.database == "postgres":
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        config = BackendConfig(admin.rsplit("/", 1)[0] + f"/{name}", f"file://{tmp / 'b'}")
    else:
        config = BackendConfig(f"sqlite:///{tmp / 'o.db'}", f"file://{tmp / 'b'}")
    backends = [await open_backend(config) for _ in range(args.senders)]
    try:
        await backends[0].storage.catalog.create_score(ScoreRecord("s1", owner="ada"))
        stores = [b.webhooks for b in backends]
        async with receiver() as got:
            await stores[0].add_subscription(
                Subscription("wh1", "ada", got.url(), ("version.created",), "whsec_b", "s1")
            )
            # baseline: signed POSTs straight from a loop
            async with httpx.AsyncClient() as http:
                started = time.perf_counter()
                for i in range(args.events):
                    body = b'{"i":%d}' % i
                    await http.post(
                        got.url("/baseline"),
                        content=body,
                        headers={"X-Orpheus-Signature": sign("s", body, int(time.time()))},
                    )
                baseline = args.events / (time.perf_counter() - started)
            got.got.clear()
            senders = [
                WebhookSender(s, SenderConfig(allow_private=True, batch=args.batch)) for s in stores
            ]
            enqueued: dict[int, float] = {}
            started = time.perf_counter()
            for i in range(args.events):
                [row] = await stores[0].enqueue(["wh1"], "version.created", {"i": i}, now=0.0)
                enqueued[row] = time.perf_counter()
            enqueue_seconds = time.perf_counter() - started
            arrival: dict[int, float] = {}

            async def drain(sender: WebhookSender) -> None:
                while await sender.run_once():
                    for r in got.got:
                        arrival.setdefault(r.json["id"], time.perf_counter())

            started = time.perf_counter()
            await asyncio.gather(*(drain(s) for s in senders))
            send_seconds = time.perf_counter() - started
            for r in got.got:
                arrival.setdefault(r.json["id"], time.perf_counter())
            ids = [r.json["id"] for r in got.got]
            assert len(ids) == len(set(ids)) == args.events, "lost or duplicated deliveries"
            waits = [arrival[i] - enqueued[i] for i in ids]
            for s in senders:
                await s.close()
        print(f"database={args.database} senders={args.senders} events={args.events}")
        print(f"enqueue: {args.events / enqueue_seconds:,.0f} rows/s")
        print(f"outbox delivery: {args.events / send_seconds:,.0f} deliveries/s")
        p50, p95 = statistics.median(waits) * 1000, _pct(waits, 0.95) * 1000
        print(f"enqueue to receipt (all enqueued first): p50 {p50:,.0f} ms, p95 {p95:,.0f} ms")
        print(f"baseline, signed POSTs in a loop: {baseline:,.0f} requests/s")
    finally:
        for b in backends:
            await b.close()
        if args.database == "postgres":
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
