"""PostgreSQL :class:`~persistence.results.base.ResultStore` over the ``analysis_results``
table (migrations 0003 and 0005): the same columns as the SQLite table.

One row per (score, analysis set, version id); live results have ``version_id = ''``.
"Stale never overwrites newer" is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
comparing ``(epoch, seq)`` row values: the conflicting row is locked while it is
compared, so concurrent workers leave the newest. Rows go with their score
(``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from persistence.drivers.postgres import PostgresDatabase
from persistence.results.base import DocVersion, StoredResult, check_result

_UPSERT = """
INSERT INTO analysis_results AS stored
    (score_id, analysis_set, version_id, epoch, seq, result, computed_at, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
ON CONFLICT (score_id, analysis_set, version_id) DO UPDATE SET
    epoch = excluded.epoch, seq = excluded.seq, result = excluded.result,
    computed_at = excluded.computed_at, duration_ms = excluded.duration_ms
"""
_ONLY_IF_NOT_OLDER = " WHERE (excluded.epoch, excluded.seq) >= (stored.epoch, stored.seq)"
_SELECT = """
SELECT epoch, seq, result::text AS result, computed_at, duration_ms FROM analysis_results
WHERE score_id = $1 AND analysis_set = $2 AND version_id = $3
"""


class PostgresResultStore:
    """Results in the database of a :class:`~persistence.drivers.postgres.PostgresStorage`
    (pass its ``db``); closing is left to the storage."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    async def close(self) -> None:
        return None

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
        sql = _UPSERT + ("" if version_id else _ONLY_IF_NOT_OLDER)
        async with self.db.connection() as conn:
            status = await conn.execute(
                sql,
                score_id,
                analysis_set,
                version_id or "",
                version.epoch,
                version.seq,
                result_json,
                datetime.now(UTC),
                duration_ms,
            )
        return bool(status.endswith(" 1"))  # "INSERT 0 1", or "INSERT 0 0" if refused

    async def get_latest(self, score_id: str, analysis_set: str = "all") -> StoredResult | None:
        return await self._get(score_id, analysis_set, "")

    async def get_for_version(
        self, score_id: str, version: DocVersion | str, analysis_set: str = "all"
    ) -> StoredResult | None:
        if isinstance(version, str):
            return await self._get(score_id, analysis_set, version)
        latest = await self._get(score_id, analysis_set, "")
        return latest if latest is not None and latest.version == version else None

    async def delete_score(self, score_id: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM analysis_results WHERE score_id = $1", score_id)

    async def _get(self, score_id: str, analysis_set: str, version_id: str) -> StoredResult | None:
        async with self.db.connection() as conn:
            row = await conn.fetchrow(_SELECT, score_id, analysis_set, version_id)
        return None if row is None else _row(score_id, analysis_set, version_id, row)


def _row(score_id: str, analysis_set: str, version_id: str, row: Mapping[str, Any]) -> StoredResult:
    # JSONB normalises the text (key order, spacing): re-serialise compactly.
    text = json.dumps(json.loads(row["result"]), separators=(",", ":"))
    computed = row["computed_at"]
    return StoredResult(
        score_id,
        analysis_set,
        DocVersion(row["epoch"], row["seq"]),
        text,
        version_id or None,
        computed.timestamp() if computed else time.time(),
        row["duration_ms"],
    )
