"""Fixtures for the sync engine tests (helpers live in ``harness.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.collab_server.harness import Backend, make_backend


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    backend = await make_backend()
    yield backend
    await backend.documents.close()
