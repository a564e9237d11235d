"""Real Yjs updates for persistence tests, made with pycrdt."""

from __future__ import annotations

import asyncio
import inspect
import random
from typing import Any

import pycrdt


class Writer:
    """One Yjs client editing map ``m``: each call returns the update it produced."""

    def __init__(self, name: str = "w") -> None:
        self.name = name
        self.doc: pycrdt.Doc = pycrdt.Doc()
        self.map = self.doc.get("m", type=pycrdt.Map)
        self.count = 0

    @property
    def client_id(self) -> int:
        return int(self.doc.client_id)

    def set(self, key: str | None = None, value: Any = None) -> bytes:
        before = self.doc.get_state()
        self.count += 1
        self.map[key or f"{self.name}:{self.count}"] = self.count if value is None else value
        return self.doc.get_update(before)

    def delete(self, key: str) -> bytes:
        before = self.doc.get_state()
        del self.map[key]
        return self.doc.get_update(before)


def content(state: bytes) -> dict[str, Any]:
    """The ``m`` map of a document state."""
    doc: pycrdt.Doc = pycrdt.Doc()
    if state:
        doc.apply_update(state)
    return dict(doc.get("m", type=pycrdt.Map).to_py() or {})


def merged(updates: list[bytes]) -> dict[str, Any]:
    """The ``m`` map after applying every update."""
    doc: pycrdt.Doc = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return dict(doc.get("m", type=pycrdt.Map).to_py() or {})


class _Jittery:
    """Delegates to ``inner``, yielding to the event loop a random number of times before
    and after each call: more interleavings for concurrency tests."""

    def __init__(self, inner: Any, rng: random.Random) -> None:
        self._inner = inner
        self._rng = rng

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            for _ in range(self._rng.randrange(4)):
                await asyncio.sleep(0)
            result = await attr(*args, **kwargs)
            for _ in range(self._rng.randrange(4)):
                await asyncio.sleep(0)
            return result

        return call


class JitteryStorage:
    """A :class:`Storage` whose parts yield to the event loop at random around calls."""

    def __init__(self, inner: Any, seed: int) -> None:
        rng = random.Random(seed)
        self.inner = inner
        self.catalog = _Jittery(inner.catalog, rng)
        self.log = _Jittery(inner.log, rng)
        self.snapshots = _Jittery(inner.snapshots, rng)
        self.versions = _Jittery(inner.versions, rng)
        self.blobs = _Jittery(inner.blobs, rng)

    async def close(self) -> None:
        await self.inner.close()
