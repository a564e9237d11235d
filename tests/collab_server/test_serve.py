"""``orpheus serve`` with a bad setting: one clear line naming the setting, a non-zero
exit, no traceback, nothing listening. Started: its helper threads' scheduling, and the
start-up heap frozen out of the garbage collector."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.collab_server.processes import Instance, free_port


@pytest.mark.parametrize(
    ("env", "setting", "problem"),
    [
        ({"ORPHEUS_ADMIN_PASSWORD": "short"}, "ORPHEUS_ADMIN_PASSWORD", "8 to"),
        ({"ORPHEUS_PORT": "eighty"}, "ORPHEUS_PORT", "'eighty' is not a whole number"),
        ({"ORPHEUS_SEND_QUEUE_FRAMES": "1.5"}, "ORPHEUS_SEND_QUEUE_FRAMES", "not a whole number"),
        (
            {
                "DATABASE_URL": "postgresql://orpheus:secret@127.0.0.1:1/test",
                "ORPHEUS_BLOB_URL": "memory://",
            },
            "DATABASE_URL",
            "Connection refused",
        ),
    ],
)
def test_a_bad_setting_stops_serve_with_one_line(
    tmp_path: Path, env: dict[str, str], setting: str, problem: str
) -> None:
    port = free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "collab_server.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        env={**os.environ, "ORPHEUS_LOG_JSON": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert setting in lines[0] and problem in lines[0], lines[0]
    assert "secret" not in lines[0]  # the database password is not shown
    assert "Traceback" not in done.stderr + done.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing half-started


def thread_policies(pid: int) -> dict[int, int]:
    """Each thread's scheduling policy (field 41 of its /proc stat)."""
    policies = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        policies[int(task.name)] = int(fields[38])
    return policies


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="reads Linux's /proc")
def test_serve_runs_its_helper_threads_as_batch_threads_and_the_loop_not(
    tmp_path: Path,
) -> None:
    server = Instance("one", {"ORPHEUS_AUTH_ENABLED": "false"}, tmp_path)
    server.start()
    try:
        server.wait_ready()
        created = httpx.post(server.base + "/api/scores", json={"title": "Threads"}, timeout=10)
        assert created.status_code == 201, created.text  # stored on the SQLite thread,
        # indexed for search on the default executor's
        assert server.process is not None
        pid = server.process.pid
        policies = thread_policies(pid)
        assert policies[pid] == os.SCHED_OTHER  # the event loop's thread
        assert list(policies.values()).count(os.SCHED_BATCH) >= 2
    finally:
        server.stop()


def gauge(text: str, name: str) -> float:
    """The value of an unlabelled metric in a Prometheus text page."""
    [value] = [line.split()[1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(value)


def test_serve_freezes_what_start_up_built_out_of_the_collector(tmp_path: Path) -> None:
    server = Instance("one", {"ORPHEUS_AUTH_ENABLED": "false"}, tmp_path)
    server.start()
    try:
        server.wait_ready()
        page = httpx.get(server.base + "/metrics", timeout=10).text
        # Modules, the embedding model and the app: a full collection scanned them all
        # (25-50 ms); frozen, they are never scanned again.
        assert gauge(page, "orpheus_gc_frozen_objects") > 50_000
        assert gauge(page, "orpheus_gc_full_collections") >= 1  # the one before freezing
    finally:
        server.stop()
