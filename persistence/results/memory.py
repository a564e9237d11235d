"""In-memory :class:`~persistence.results.base.ResultStore` (tests, ``memory://``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from persistence.results.base import DocVersion, StoredResult, check_result


class MemoryResultStore:
    """Results in dictionaries; safe within one event loop."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._latest: dict[tuple[str, str], StoredResult] = {}
        self._named: dict[tuple[str, str, str], StoredResult] = {}
        self._clock = clock

    async def save(
        self,
        score_id: str,
        analysis_set: str,
        version: DocVersion,
        result_json: str,
        *,
        version_id: str | None = None,
        duration_ms: float | None = None,
    ) -> bool:
        check_result(score_id, analysis_set, result_json, version_id)
        row = StoredResult(
            score_id, analysis_set, version, result_json, version_id, self._clock(), duration_ms
        )
        if version_id is not None:
            self._named[(score_id, analysis_set, version_id)] = row
            return True
        current = self._latest.get((score_id, analysis_set))
        if current is not None and current.version > version:
            return False
        self._latest[(score_id, analysis_set)] = row
        return True

    async def get_latest(self, score_id: str, analysis_set: str = "all") -> StoredResult | None:
        return self._latest.get((score_id, analysis_set))

    async def get_for_version(
        self, score_id: str, version: DocVersion | str, analysis_set: str = "all"
    ) -> StoredResult | None:
        if isinstance(version, str):
            return self._named.get((score_id, analysis_set, version))
        latest = self._latest.get((score_id, analysis_set))
        return latest if latest is not None and latest.version == version else None

    async def delete_score(self, score_id: str) -> None:
        self.forget(score_id)

    def forget(self, score_id: str) -> None:
        """Drop every result of a score (the memory backend calls it when the score is
        deleted, as a foreign key would)."""
        for key in [k for k in self._latest if k[0] == score_id]:
            del self._latest[key]
        for named in [k for k in self._named if k[0] == score_id]:
            del self._named[named]

    async def close(self) -> None:
        return None
