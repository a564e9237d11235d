"""PostgreSQL :class:`~persistence.results.base.ResultStore` over the ``analysis_results``
table of migration 0003 (JSONB results, primary key ``(score_id, analysis, epoch, seq)``).

Column ``analysis`` holds the analysis set for live results and ``<set>@<version id>``
for results of a named version (stored with that version's epoch and seq 0). A live save
runs in one transaction under a per-(score, set) advisory lock: it is refused if a newer
row exists, else it upserts its row and deletes the older ones, so concurrent workers
leave exactly the newest.
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
INSERT INTO analysis_results (score_id, analysis, epoch, seq, result, computed_at, duration_ms)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
ON CONFLICT (score_id, analysis, epoch, seq) DO UPDATE SET
    result = excluded.result, computed_at = excluded.computed_at,
    duration_ms = excluded.duration_ms
"""
_SELECT = """
SELECT epoch, seq, result::text AS result, computed_at, duration_ms FROM analysis_results
WHERE score_id = $1 AND analysis = $2 ORDER BY epoch DESC, seq DESC LIMIT 1
"""


class PostgresResultStore:
    """Results in PostgreSQL (applies pending migrations on open)."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 4,
                 application_name: str = "orpheus-results") -> None:
        self.db = PostgresDatabase(dsn, min_size=min_size, max_size=max_size,
                                   application_name=application_name)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def save(self, score_id: str, analysis_set: str, version: DocVersion,
                   result_json: str, *, version_id: str | None = None,
                   duration_ms: float | None = None) -> bool:
        check_result(score_id, analysis_set, result_json, version_id)
        now = datetime.now(UTC)
        async with self.db.transaction() as conn:
            if version_id is not None:
                key = f"{analysis_set}@{version_id}"
                await conn.execute("DELETE FROM analysis_results WHERE score_id = $1 AND "
                                   "analysis = $2", score_id, key)
                await conn.execute(_UPSERT, score_id, key, version.epoch, 0, result_json,
                                   now, duration_ms)
                return True
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                               f"orpheus-results:{score_id}:{analysis_set}")
            newest = await conn.fetchrow(
                "SELECT epoch, seq FROM analysis_results WHERE score_id = $1 AND "
                "analysis = $2 ORDER BY epoch DESC, seq DESC LIMIT 1", score_id, analysis_set)
            if newest is not None and (newest["epoch"], newest["seq"]) > (version.epoch,
                                                                           version.seq):
                return False
            await conn.execute(_UPSERT, score_id, analysis_set, version.epoch, version.seq,
                               result_json, now, duration_ms)
            await conn.execute(
                "DELETE FROM analysis_results WHERE score_id = $1 AND analysis = $2 AND "
                "(epoch, seq) < ($3, $4)", score_id, analysis_set, version.epoch, version.seq)
            return True

    async def get_latest(self, score_id: str, analysis_set: str = "all"
                         ) -> StoredResult | None:
        return await self._get(score_id, analysis_set, None)

    async def get_for_version(self, score_id: str, version: DocVersion | str,
                              analysis_set: str = "all") -> StoredResult | None:
        if isinstance(version, str):
            return await self._get(score_id, analysis_set, version)
        latest = await self._get(score_id, analysis_set, None)
        return latest if latest is not None and latest.version == version else None

    async def delete_score(self, score_id: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute("DELETE FROM analysis_results WHERE score_id = $1", score_id)

    async def _get(self, score_id: str, analysis_set: str, version_id: str | None
                   ) -> StoredResult | None:
        key = analysis_set if version_id is None else f"{analysis_set}@{version_id}"
        async with self.db.connection() as conn:
            row = await conn.fetchrow(_SELECT, score_id, key)
        return None if row is None else _row(score_id, analysis_set, version_id, row)


def _row(score_id: str, analysis_set: str, version_id: str | None,
         row: Mapping[str, Any]) -> StoredResult:
    # JSONB normalises the text (key order, spacing): re-serialise compactly.
    text = json.dumps(json.loads(row["result"]), separators=(",", ":"))
    computed = row["computed_at"]
    return StoredResult(score_id, analysis_set, DocVersion(row["epoch"], row["seq"]), text,
                        version_id, computed.timestamp() if computed else time.time(),
                        row["duration_ms"])
