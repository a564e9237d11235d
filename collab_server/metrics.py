"""Prometheus metrics: the sync engine's counters and gauges, store latency, fan-out and
analysis lag, agent tasks and suggestions, and HTTP requests by route template and status
(:class:`HttpMetrics`, an ASGI middleware). deploy/grafana/dashboards/orpheus.json charts
them (tests/test_dashboard.py checks every metric it queries exists).

The engine keeps plain counters (:class:`~collab_server.sync.room_metrics.RoomMetrics`); a
custom collector reads them at scrape time, so the hot path never touches Prometheus.
Each app has its own registry (several apps can live in one test process).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collab_server.sync.room_metrics import RoomMetrics

PREFIX = "orpheus_"
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
COUNTER_HELP = {
    "rooms_loaded": "Rooms loaded from storage",
    "rooms_unloaded": "Rooms unloaded after idling",
    "room_load_failures": "Room loads that failed",
    "connections_opened": "WebSocket connections opened",
    "connections_closed": "WebSocket connections closed",
    "updates_in": "Document updates received from clients",
    "update_bytes_in": "Bytes of document updates received",
    "awareness_in": "Awareness messages received",
    "awareness_relayed": "Awareness entries relayed (newer clock only)",
    "frames_out": "Frames sent to clients",
    "bytes_out": "Bytes sent to clients",
    "broadcasts": "Coalesced broadcasts (each encoded once)",
    "stores": "Durable store calls",
    "store_failures": "Store calls that failed (retried)",
    "slow_client_disconnects": "Clients disconnected for a full send queue",
    "readonly_refused": "Document updates refused from read-only connections",
    "protocol_violations": "Connections closed for malformed messages",
    "stale_rejections": "Clients told to reload (content from an older epoch)",
    "hook_errors": "Errors raised by room hooks",
}


class _EngineCollector(Collector):
    def __init__(self, counters: RoomMetrics, gauges: Callable[[], dict[str, float]]) -> None:
        self.counters = counters
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        values = self.counters.counters()
        for name, help_text in COUNTER_HELP.items():
            family = CounterMetricFamily(PREFIX + name, help_text)
            family.add_metric([], values.get(name, 0))
            yield family
        for name, value in self.gauges().items():
            gauge = GaugeMetricFamily(PREFIX + name, name.replace("_", " "))
            gauge.add_metric([], value)
            yield gauge


class ServerMetrics:
    """The app's registry: engine counters, room gauges and a store-latency histogram."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rooms = RoomMetrics()
        self.store_latency = Histogram(
            PREFIX + "store_seconds",
            "Latency of durable stores of update batches",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.rooms.on_store_latency = self.store_latency.observe
        self.http_requests = Counter(
            PREFIX + "http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            PREFIX + "http_request_seconds",
            "HTTP request latency (until the response is complete) by method and route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.fanout_lag = Histogram(
            PREFIX + "fanout_lag_seconds",
            "Delay from publication on another instance to receipt here (Redis clock)",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.analysis_lag = Histogram(
            PREFIX + "analysis_lag_seconds",
            "Delay from a score's first edit not yet analysed to its analysis result",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.agent_tasks = Counter(
            PREFIX + "agent_tasks",
            "Agent tasks finished in this process, by agent and status",
            ["agent", "status"],
            registry=self.registry,
        )
        self.agent_suggestions = Counter(
            PREFIX + "agent_suggestions",
            "Agent suggestions: offered for review, then applied, stale (refused when "
            "accepted) or rejected",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("offered", "applied", "stale", "rejected"):
            self.agent_suggestions.labels(outcome)
        self._sources: list[Callable[[], dict[str, float]]] = [_collector_state]
        self.registry.register(_EngineCollector(self.rooms, self._read_sources))

    def observe_analysis(self, lag: float | None) -> None:
        """Record the lag of an analysis result (``None``: no change was waiting)."""
        if lag is not None:
            self.analysis_lag.observe(lag)

    def agent_task_finished(self, agent: str, status: str, suggestions: int) -> None:
        """Count a finished agent task and the suggestions it offered."""
        self.agent_tasks.labels(agent, status).inc()
        self.agent_suggestions.labels("offered").inc(suggestions)

    def suggestions_accepted(self, result: dict[str, list[str]]) -> None:
        """Count reviewed suggestions by outcome (``applied``, ``stale``, ``rejected``)."""
        for outcome, ids in result.items():
            self.agent_suggestions.labels(outcome).inc(len(ids))

    def watch(self, source: Callable[[], dict[str, float]]) -> None:
        """Export the values a component reports (the room manager, fan-out, ...)
        as gauges; names must be unique across sources."""
        self._sources.append(source)

    def _read_sources(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for source in self._sources:
            values.update(source())
        return values


def _collector_state() -> dict[str, float]:
    """The process's garbage collector: the objects frozen out of it (``orpheus serve``
    freezes what start-up built) and the full collections so far."""
    return {
        "gc_frozen_objects": gc.get_freeze_count(),
        "gc_full_collections": gc.get_stats()[2]["collections"],
    }


UNMATCHED = "<unmatched>"  # requests no route serves: one label, not one per path


class HttpMetrics:
    """Counts HTTP requests and times them by route template (``/api/scores/{score_id}``,
    never the raw path, so the number of series stays bounded) and status."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route, method = route_template(scope), scope["method"]
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route serving ``scope``: the one the router chose, else
    (a request refused before routing) the first whose path matches."""
    route = scope.get("route")
    if route is None and "app" in scope:
        for candidate in scope["app"].routes:
            if candidate.matches(scope)[0] is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED
