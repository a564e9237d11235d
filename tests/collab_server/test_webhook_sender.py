"""The webhook sender over a shared outbox: two instances (two backends on one
database, as two servers) send every delivery exactly once to a real receiver; the
backoff doubles up to its cap."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

import pytest

from collab_server.webhooks.sender import SenderConfig, WebhookSender
from collab_server.webhooks.signing import sign, verify
from persistence.backend import Backend, BackendConfig, open_backend
from persistence.base import ScoreRecord
from persistence.webhooks.base import Subscription
from tests.collab_server.webhook_receiver import receiver
from tests.services import postgres_dsn, reset_postgres  # noqa: F401  (fixture)


async def _two(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Backend, Backend]:
    if request.param == "sqlite":
        config = BackendConfig(f"sqlite:///{tmp_path / 'o.db'}", f"file://{tmp_path / 'b'}")
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        await reset_postgres(dsn)
        config = BackendConfig(dsn, f"file://{tmp_path / 'b'}")
    return await open_backend(config), await open_backend(config)


@pytest.mark.parametrize(
    "shared", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)], indirect=True
)
async def test_two_instances_send_each_delivery_once(shared: tuple[Backend, Backend]) -> None:
    one, two = shared
    await one.storage.catalog.create_score(ScoreRecord("s1", owner="ada"))
    stores = [one.webhooks, two.webhooks]
    config = SenderConfig(allow_private=True, batch=4, timeout=5)
    async with receiver() as got:
        await stores[0].add_subscription(
            Subscription("wh1", "ada", got.url(), ("version.created",), "whsec_t", "s1")
        )
        for i in range(30):
            await stores[i % 2].enqueue(["wh1"], "version.created", {"i": i}, now=0.0)
        senders = [WebhookSender(store, config) for store in stores]

        async def drain(sender: WebhookSender) -> None:
            while await sender.run_once():
                pass

        await asyncio.wait_for(asyncio.gather(*(drain(s) for s in senders)), 30)
        ids = Counter(r.json["id"] for r in got.got)
        assert len(ids) == 30 and set(ids.values()) == {1}, ids
        assert sorted(r.json["data"]["i"] for r in got.got) == list(range(30))
        assert all(verify("whsec_t", r.signature, r.body) for r in got.got)
        assert senders[0].sent > 0 and senders[1].sent > 0  # both took part
        for sender in senders:
            await sender.close()
    log = await stores[1].deliveries("wh1", limit=100)
    assert len(log) == 30 and all(d.status == "delivered" for d in log)


@pytest.fixture
async def shared(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    one, two = await _two(request, tmp_path)
    try:
        yield one, two
    finally:
        await two.close()
        await one.close()


async def test_backoff_doubles_up_to_the_cap(tmp_path: Path) -> None:
    backend = await open_backend(BackendConfig("memory://"))
    sender = WebhookSender(backend.webhooks, SenderConfig(backoff=2, backoff_cap=60))
    assert [sender.retry_delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    await sender.close()


def test_signatures_bind_the_body_the_secret_and_the_time() -> None:
    secret = "whsec_" + secrets.token_hex(8)
    header = sign(secret, b"{}", 1000)
    assert verify(secret, header, b"{}", now=1100)
    assert not verify(secret, header, b"{} ", now=1100)
    assert not verify("whsec_other", header, b"{}", now=1100)
    assert not verify(secret, header, b"{}", now=2000)  # too old: a replay
    assert not verify(secret, "t=abc,v1=00", b"{}", now=1000)
