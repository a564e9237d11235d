"""Counters of the sync engine, as plain attributes.

One :class:`RoomMetrics` is shared by a :class:`~collab_server.sync.rooms.RoomManager`,
its rooms and connections. The app exports it (e.g. with a Prometheus collector reading
:meth:`RoomMetrics.counters` and the manager's
:meth:`~collab_server.sync.rooms.RoomManager.gauges`);
``on_store_latency`` may be set to a histogram's ``observe``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields


@dataclass
class RoomMetrics:
    rooms_loaded: int = 0
    rooms_unloaded: int = 0
    room_load_failures: int = 0
    connections_opened: int = 0
    connections_closed: int = 0
    updates_in: int = 0
    update_bytes_in: int = 0
    awareness_in: int = 0
    awareness_relayed: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    broadcasts: int = 0
    stores: int = 0
    store_failures: int = 0
    store_seconds_total: float = 0.0
    store_seconds_max: float = 0.0
    slow_client_disconnects: int = 0
    readonly_refused: int = 0
    protocol_violations: int = 0
    stale_rejections: int = 0
    hook_errors: int = 0
    on_store_latency: Callable[[float], None] | None = field(default=None, repr=False)

    def observe_store(self, seconds: float) -> None:
        self.stores += 1
        self.store_seconds_total += seconds
        self.store_seconds_max = max(self.store_seconds_max, seconds)
        if self.on_store_latency is not None:
            self.on_store_latency(seconds)

    def counters(self) -> dict[str, float]:
        """Every counter by name (monotonic, except ``store_seconds_max``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "on_store_latency"}
