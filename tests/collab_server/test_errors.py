"""Errors map to HTTP statuses and WebSocket close codes in one place
(``collab_server/errors.py``): a storage outage is "retry later" on both, logged as a
warning line without a traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from collab_server.errors import Unavailable, as_orpheus_error
from persistence.errors import NotFound, StaleEpoch, StorageError
from tests.collab_server.security_helpers import bearer, live_server, settings_for


class _DownCatalog:
    """A catalog whose database is gone: every call raises :class:`StorageError`."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object, **kwargs: object) -> None:
            raise StorageError("connection refused (database is down)")

        return fail


class _Outage:
    """The real storage with its catalog down."""

    def __init__(self, real: Any) -> None:
        self._real, self.catalog = real, _DownCatalog()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_storage_errors_map_to_the_hierarchy() -> None:
    assert as_orpheus_error(NotFound("x")).close_code == 4404
    assert as_orpheus_error(StaleEpoch("x")).close_code == 4409
    outage = as_orpheus_error(StorageError("down"))
    assert isinstance(outage, Unavailable)
    assert (outage.status, outage.close_code) == (503, 1013)
    bug = as_orpheus_error(KeyError("x"))
    assert (bug.status, bug.close_code) == (500, 1011)


async def test_storage_outage_during_websocket_auth_is_retryable_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        access = live.app.state.gate.access
        access.storage = _Outage(access.storage)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            async with connect(live.ws(score, ann), open_timeout=10) as ws:
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(10):
                        while True:
                            await ws.recv()
            assert ws.close_code == 1013  # y-websocket retries it
            assert ws.close_reason == "unavailable"
            rest = await live.http.get(f"/api/scores/{score}", headers=bearer(ann))
            assert rest.status_code == 503, rest.text
            assert rest.json()["error"] == "unavailable"
        assert not [r for r in caplog.records if r.exc_info], [
            r.getMessage() for r in caplog.records if r.exc_info
        ]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("database is down" in m for m in warnings), warnings


@pytest.mark.node
async def test_the_yjs_client_retries_through_a_storage_outage_and_then_syncs(
    tmp_path: Path,
) -> None:
    from tests.collab_server.test_node_clients import NodePeer

    async with live_server(settings_for(tmp_path)) as live:
        ann = await live.user("ann")
        score = await live.score(ann)
        access = live.app.state.gate.access
        real = access.storage
        access.storage = _Outage(real)
        peer = await NodePeer.start(
            url=live.ws_base,
            room=score,
            name="js",
            params={"token": ann},
            notes=1,
            expect={"notes": 1},
        )
        for _ in range(2):  # refused, and back again: 1013 is not final for y-websocket
            assert (await peer.next_event("connection-close"))["code"] == 1013
        access.storage = real
        await peer.next_event("synced")
        await peer.next_event("done")
        assert await peer.finish() == 0
        assert not any(event["event"] == "closed" for event in peer.events)
