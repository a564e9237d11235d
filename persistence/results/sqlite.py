"""SQLite :class:`~persistence.results.base.ResultStore`: table ``analysis_results`` in the
storage's database file, on the storage's connection and thread.

One row per (score, analysis set, version id); live results have ``version_id = ''``.
"Stale never overwrites newer" is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
comparing ``(epoch, seq)`` row values, so concurrent writers (several processes) cannot
interleave a check and a write. Rows go with their score (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from persistence.drivers.sqlite import SqliteDatabase
from persistence.results.base import DocVersion, StoredResult, check_result

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analysis_results (
    score_id TEXT NOT NULL REFERENCES scores (id) ON DELETE CASCADE,
    analysis_set TEXT NOT NULL,
    version_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    result TEXT NOT NULL,
    computed_at REAL NOT NULL,
    duration_ms REAL,
    PRIMARY KEY (score_id, analysis_set, version_id)
) WITHOUT ROWID
"""

_UPSERT = """
INSERT INTO analysis_results
    (score_id, analysis_set, version_id, epoch, seq, result, computed_at, duration_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (score_id, analysis_set, version_id) DO UPDATE SET
    epoch = excluded.epoch, seq = excluded.seq, result = excluded.result,
    computed_at = excluded.computed_at, duration_ms = excluded.duration_ms
"""
_ONLY_IF_NOT_OLDER = " WHERE (excluded.epoch, excluded.seq) >= (epoch, seq)"
_COLUMNS = "score_id, analysis_set, version_id, epoch, seq, result, computed_at, duration_ms"


class SqliteResultStore:
    """Results in the ``analysis_results`` table beside a
    :class:`~persistence.drivers.sqlite.SqliteStorage` (pass its ``db``); :meth:`open`
    creates the table, closing is left to the storage."""

    def __init__(self, db: SqliteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def open(self) -> None:
        await self.db.run(lambda conn: conn.execute(_SCHEMA) and None)

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
        row = (
            score_id,
            analysis_set,
            version_id or "",
            version.epoch,
            version.seq,
            result_json,
            self._clock(),
            duration_ms,
        )

        def write(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql, row).rowcount > 0

        return await self.db.write(write)

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
        await self.db.write(
            lambda conn: (
                conn.execute("DELETE FROM analysis_results WHERE score_id = ?", (score_id,))
                and None
            )
        )

    async def _get(self, score_id: str, analysis_set: str, version_id: str) -> StoredResult | None:
        def read(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_COLUMNS} FROM analysis_results "
                "WHERE score_id = ? AND analysis_set = ? AND version_id = ?",
                (score_id, analysis_set, version_id),
            ).fetchone()
            return row

        row = await self.db.run(read)
        if row is None:
            return None
        sid, aset, vid, epoch, seq, result, computed_at, duration = row
        return StoredResult(
            sid, aset, DocVersion(epoch, seq), result, vid or None, computed_at, duration
        )
