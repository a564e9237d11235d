"""Memoisation keyed by everything a value depends on, with sweeping of stale entries.

The incremental analyser keeps one :class:`Memo` across versions of a score; a
from-scratch analysis uses a fresh one. A key must name every input of the value (cell
stamps, measure lengths, the local key, ...), so a hit is exactly what a recomputation
would give: this is what makes incremental results equal full ones by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

V = TypeVar("V")


class Memo:
    """Namespaced caches; :meth:`sweep` drops what the last round did not touch."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[Hashable, Any]] = {}
        self._touched: dict[str, dict[Hashable, Any]] = {}
        self.misses: dict[str, int] = {}

    def many(
        self, namespace: str, keys: Sequence[Hashable], compute: Callable[[list[int]], Sequence[V]]
    ) -> list[V]:
        """Values for ``keys``; ``compute(indices)`` makes the missing ones in one batch."""
        table = self._tables.setdefault(namespace, {})
        touched = self._touched.setdefault(namespace, {})
        values: list[Any] = [None] * len(keys)
        missing: list[int] = []
        for index, key in enumerate(keys):
            value = touched.get(key, _ABSENT)
            if value is _ABSENT:
                value = table.get(key, _ABSENT)
            if value is _ABSENT:
                missing.append(index)
            else:
                values[index] = value
                touched[key] = value
        if missing:
            computed = compute(missing)
            for index, value in zip(missing, computed, strict=True):
                values[index] = value
                touched[keys[index]] = value
            self.misses[namespace] = self.misses.get(namespace, 0) + len(missing)
        return values

    def one(self, namespace: str, key: Hashable, compute: Callable[[], V]) -> V:
        return self.many(namespace, [key], lambda _: [compute()])[0]

    def sweep(self) -> None:
        """Keep only the entries used since the previous sweep."""
        self._tables = self._touched
        self._touched = {}
        self.misses = {}


_ABSENT = object()
