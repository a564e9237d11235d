"""SQLite durability: a writer killed with SIGKILL loses no acknowledged update."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from persistence_helpers import content

from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")


async def _run_and_kill(database_url: str, prefix: str, acks_before_kill: int) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        database_url,
        "s",
        "4",
        prefix,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    acked: list[str] = []
    try:
        while len(acked) < acks_before_kill:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if not line:
                raise AssertionError("writer died: " + (await proc.stderr.read()).decode())
            acked.append(line.decode().split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
    rest, _ = await asyncio.wait_for(proc.communicate(), 30)
    # lines written before the kill were acknowledged too
    acked += [line.split()[1] for line in rest.decode().splitlines() if line.count(" ") == 1]
    assert proc.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
async def test_sigkill_loses_no_acknowledged_update(tmp_path: Path, synchronous: str) -> None:
    url = f"sqlite:///{tmp_path / 'orpheus.db'}?synchronous={synchronous}"
    storage = (await open_backend(BackendConfig(url))).storage
    await DocumentStore(storage).create("s")
    await storage.close()

    acked: list[str] = []
    for round_ in range(2):  # the second writer starts from what the first one left
        acked += await _run_and_kill(url, f"r{round_}-", 300)

        storage = (await open_backend(BackendConfig(url))).storage
        try:
            loaded = await DocumentStore(storage).load("s")
            present = content(loaded.state)
            snapshot = await storage.snapshots.load_snapshot("s")
        finally:
            await storage.close()
        missing = [key for key in acked if key not in present]
        assert not missing, f"{len(missing)} acknowledged updates lost, e.g. {missing[:3]}"
        assert snapshot is not None and snapshot.seq > 0  # compactions ran before the kill
        assert loaded.seq >= len(acked)
