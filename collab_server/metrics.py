"""Prometheus metrics: the sync engine's counters and gauges, plus store latency.

The engine keeps plain counters (:class:`~collab_server.sync.room_metrics.RoomMetrics`); a
custom collector reads them at scrape time, so the hot path never touches Prometheus.
Each app has its own registry (several apps can live in one test process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collab_server.sync.room_metrics import RoomMetrics

PREFIX = "orpheus_"
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
            PREFIX + "store_seconds", "Latency of durable stores of update batches",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry)
        self.rooms.on_store_latency = self.store_latency.observe
        self._sources: list[Callable[[], dict[str, float]]] = []
        self.registry.register(_EngineCollector(self.rooms, self._read_sources))

    def watch(self, source: Callable[[], dict[str, float]]) -> None:
        """Export the values a component reports (the room manager, fan-out, ...)
        as gauges; names must be unique across sources."""
        self._sources.append(source)

    def _read_sources(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for source in self._sources:
            values.update(source())
        return values
