"""Fixtures for the sync engine tests (helpers live in ``harness.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.collab_server.clients import YClient
from tests.collab_server.harness import Backend, make_backend


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    backend = await make_backend()
    yield backend
    await backend.documents.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[YClient]]:
    """Clients a test connects; their sockets are closed afterwards."""
    made: list[YClient] = []
    yield made
    for client in made:
        if client._ws is not None:
            await client._ws.close()
