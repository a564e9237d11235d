"""Start the webhooks of one server instance: the store, the events, the room hooks and
the sender, and what reports into them (analysis results, agent tasks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collab_server.webhooks.events import MayRead, WebhookEvents
from collab_server.webhooks.hooks import WebhookRoomHooks
from collab_server.webhooks.sender import SenderConfig, WebhookSender
from persistence.backend import Backend
from persistence.webhooks.base import WebhookStore

if TYPE_CHECKING:
    from agents.tasks import TaskRecord
    from collab_server.analysis.events import AnalysisEvents
    from collab_server.settings import Settings

log = logging.getLogger("orpheus.webhooks")


@dataclass
class Webhooks:
    store: WebhookStore
    events: WebhookEvents
    hooks: WebhookRoomHooks
    sender: WebhookSender
    backend: Backend

    def follow_analysis(self, announcements: AnalysisEvents) -> None:
        """``analysis.ready`` for every new live result (once, whichever instances hear
        of it: the result's version is the delivery key)."""
        announcements.listen(
            lambda score_id: self.events.soon(self._analysis_ready(score_id), score_id)
        )

    async def _analysis_ready(self, score_id: str) -> None:
        result = await self.backend.results.get_latest(score_id)
        if result is None:
            return
        data = {"version": result.version.token, "analysis_set": result.analysis_set}
        await self.events.emit(
            "analysis.ready", score_id, data, key=f"analysis:{result.version.token}"
        )

    async def version_created(
        self, score_id: str, version_id: str, version: dict[str, Any]
    ) -> None:
        """``version.created``: ``version`` is its JSON (as the versions API answers)."""
        await self.events.emit(
            "version.created", score_id, {"version": version}, key=f"version:{version_id}"
        )

    def agent_finished(self, record: TaskRecord) -> None:
        """``agent_task.finished`` (the task ran on this instance)."""
        data: dict[str, Any] = {
            "task_id": record.id,
            "agent": record.agent,
            "status": record.status,
            "summary": record.summary,
            "requested_by": record.requested_by,
            "suggestions": len(record.suggestions),
        }
        self.events.emit_soon("agent_task.finished", record.score_id, data, key=f"task:{record.id}")

    def chain_agent_finish(
        self, current: Callable[[TaskRecord], None] | None
    ) -> Callable[[TaskRecord], None]:
        """``current`` (metrics) followed by :meth:`agent_finished`."""

        def both(record: TaskRecord) -> None:
            if current is not None:
                current(record)
            self.agent_finished(record)

        return both

    def start(self) -> None:
        """Start sending (the outbox of every instance is shared)."""
        self.sender.start()

    async def close(self) -> None:
        await self.hooks.close()
        await self.events.drain()
        await self.sender.close()


async def start_webhooks(settings: Settings, backend: Backend, *, may_read: MayRead) -> Webhooks:
    store = backend.webhooks
    sender = WebhookSender(
        store,
        SenderConfig(
            allow_private=settings.webhook_allow_private,
            max_attempts=settings.webhook_max_attempts,
            backoff=settings.webhook_backoff_seconds,
            backoff_cap=settings.webhook_backoff_cap_seconds,
            timeout=settings.webhook_timeout_seconds,
            keep=settings.webhook_keep_days * 86_400,
            poll=min(2.0, max(0.05, settings.webhook_backoff_seconds)),  # retries on time
        ),
    )
    events = WebhookEvents(store, backend.storage.catalog, may_read=may_read, wake=sender.wake)
    hooks = WebhookRoomHooks(events, debounce=settings.webhook_debounce_seconds)
    return Webhooks(store, events, hooks, sender, backend)
