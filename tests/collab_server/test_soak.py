"""The soak in short (bench/soak.py, profile ``short``): three instances, a worker,
PostgreSQL, Redis and S3, 30 clients editing 6 scores for 85 s while an instance is
killed with ``kill -9`` and restarted, Redis is restarted and PostgreSQL is cut off for
10 s. The full run (200 clients, 20 scores, 5 minutes) is in docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak import PROFILES, soak

pytestmark = [pytest.mark.slow, pytest.mark.services]


async def test_a_short_soak_loses_nothing_and_stays_flat(tmp_path: Path) -> None:
    report = await soak(PROFILES["short"], out_dir=tmp_path)
    summary = json.dumps({k: v for k, v in report.items() if k != "memory"})
    assert [what for _, what in report["faults"]] == [
        "kill -9 instance 3",
        "instance 3 back",
        "Redis down",
        "Redis back",
        "PostgreSQL cut",
        "PostgreSQL back",
    ], summary
    assert report["edits"] > 1000 and report["reconnects"] > 0, summary
    # every score holds exactly what its clients wrote, acknowledged edits included
    assert report["every_score_complete"], summary
    assert report["acknowledged"] > 0.9 * report["notes_added"], summary
    assert report["errors"] == [] and report["worker_alive"], summary
    assert report["memory_ok"], summary
    assert len(report["memory_growth"]) == 3, summary
    # latency comes back after the faults: bench/soak.py's own check (2x, or 20 ms) is
    # reported with the full run; here, on a machine shared with other jobs, 3x or 1 s
    before, after = report["p99_before_faults_ms"], report["p99_after_faults_ms"]
    assert after <= max(3 * before, 1_000), summary
    assert (tmp_path / "soak.png").stat().st_size > 10_000
