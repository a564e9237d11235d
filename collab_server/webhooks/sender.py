"""Sends the outbox (:mod:`persistence.webhooks`): a background task on every instance
claims due deliveries with a lease, POSTs them signed (:mod:`.signing`) with an async
HTTP client (the event loop never blocks), and records each attempt.

A 2xx answer delivers; anything else (an error status, a refused connection, a timeout)
is retried after ``backoff * 2**attempts`` seconds, at most ``backoff_cap``, until
``max_attempts`` attempts have failed: then the delivery is ``failed``. The lease
(``lease`` seconds, longer than the HTTP timeout) keeps other instances off a row being
sent; if this instance dies mid-send, the row is sent again after the lease (at least
once; receivers deduplicate by ``X-Orpheus-Delivery``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from collab_server.webhooks.signing import HEADER, sign
from collab_server.webhooks.urls import RefusedUrl, check_url
from persistence.errors import NotFound
from persistence.webhooks.base import Delivery, Subscription, WebhookStore

log = logging.getLogger("orpheus.webhooks")


@dataclass(frozen=True, slots=True)
class SenderConfig:
    allow_private: bool = False
    max_attempts: int = 8
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    backoff_cap: float = 600.0
    timeout: float = 10.0  # one HTTP request
    poll: float = 2.0  # seconds between looks at the outbox when nothing woke the sender
    batch: int = 20
    keep: float = 30 * 86_400.0  # delivered and failed rows are deleted after this long

    @property
    def lease(self) -> float:
        return self.timeout * 3 + 5


def body_of(delivery: Delivery) -> bytes:
    """The JSON body of a delivery: the same bytes on every attempt."""
    return json.dumps(
        {
            "id": delivery.id,
            "event": delivery.event,
            "created_at": delivery.created_at,
            "data": delivery.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


class WebhookSender:
    """Start with :meth:`start`, stop with :meth:`close`; :meth:`wake` after enqueueing."""

    def __init__(
        self,
        store: WebhookStore,
        config: SenderConfig = SenderConfig(),
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=config.timeout, follow_redirects=False)
        self._own_http = http is None
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # attempts made by this instance

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_http:
            await self._http.aclose()

    async def run_once(self) -> int:
        """Claim and send one batch of due deliveries; how many were attempted."""
        claimed = await self.store.claim(
            now=self._clock(), lease=self.config.lease, limit=self.config.batch
        )
        subscriptions: dict[str, Subscription | None] = {}
        for delivery in claimed:  # each subscription read once per batch
            if delivery.subscription_id not in subscriptions:
                try:
                    subscriptions[delivery.subscription_id] = await self.store.get_subscription(
                        delivery.subscription_id
                    )
                except NotFound:  # deleted meanwhile: its deliveries went with it
                    subscriptions[delivery.subscription_id] = None
        await asyncio.gather(
            *(
                self._attempt(delivery, found)
                for delivery in claimed
                if (found := subscriptions[delivery.subscription_id]) is not None
            )
        )
        return len(claimed)

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        return float(min(self.config.backoff_cap, self.config.backoff * 2 ** (attempts - 1)))

    async def prune(self) -> int:
        """Delete the log rows older than ``keep`` (every instance does, hourly)."""
        return await self.store.prune(self._clock() - self.config.keep)

    async def _run(self) -> None:
        pruned = float("-inf")
        while True:
            try:
                if time.monotonic() - pruned > 3600:
                    pruned = time.monotonic()
                    await self.prune()
                full = await self.run_once() >= self.config.batch
            except Exception:
                log.exception("webhook sender: the outbox is unreachable")
                full = False
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll)
            self._wake.clear()

    async def _attempt(self, delivery: Delivery, subscription: Subscription) -> None:
        status: int | None = None
        error: str | None = None
        try:
            await check_url(subscription.url, allow_private=self.config.allow_private)
            body = body_of(delivery)
            response = await self._http.post(
                subscription.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Orpheus-Webhooks/1",
                    "X-Orpheus-Event": delivery.event,
                    "X-Orpheus-Delivery": str(delivery.id),
                    HEADER: sign(subscription.secret, body, int(self._clock())),
                },
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except RefusedUrl as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        self.sent += 1
        now = self._clock()
        attempts = delivery.attempts + 1
        if error is None:
            await self.store.finish(
                delivery.id, now=now, status="delivered", http_status=status, error=None
            )
        elif attempts >= self.config.max_attempts:
            log.warning("webhook delivery %s failed for good: %s", delivery.id, error)
            await self.store.finish(
                delivery.id, now=now, status="failed", http_status=status, error=error
            )
        else:
            await self.store.finish(
                delivery.id,
                now=now,
                status="pending",
                http_status=status,
                error=error,
                next_at=now + self.retry_delay(attempts),
            )
