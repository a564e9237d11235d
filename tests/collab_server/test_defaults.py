"""One source for every default: constructors that have defaults use Settings' own."""

from __future__ import annotations

import inspect
from typing import Any

from collab_server.settings import Settings
from collab_server.sync.connection import Connection
from collab_server.sync.room import Room
from collab_server.sync.rooms import RoomManager
from collab_server.sync.websocket import ScoreWebSocket
from persistence.documents.store import DocumentStore


def _default(call: Any, name: str) -> Any:
    return inspect.signature(call).parameters[name].default


def test_constructor_defaults_are_the_settings_defaults() -> None:
    settings = Settings()
    assert _default(Connection, "max_frames") == settings.send_queue_frames
    assert _default(Connection, "max_bytes") == settings.send_queue_bytes
    assert _default(ScoreWebSocket, "send_queue_frames") == settings.send_queue_frames
    assert _default(ScoreWebSocket, "send_queue_bytes") == settings.send_queue_bytes
    assert _default(ScoreWebSocket, "max_message_bytes") == settings.max_message_bytes
    assert _default(RoomManager, "idle_timeout") == settings.room_idle_seconds
    assert _default(RoomManager, "presence_interval") == settings.presence_interval_ms / 1000
    assert _default(Room, "presence_interval") == settings.presence_interval_ms / 1000
    assert _default(DocumentStore, "commit_window") == settings.commit_window_ms / 1000
    assert _default(DocumentStore, "compact_every") == settings.compact_every
