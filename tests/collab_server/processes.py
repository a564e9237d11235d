"""``orpheus serve`` as a child process, for tests that need a real server to kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def gone(pid: int) -> bool:
    """No such process: not running, and not a zombie waiting to be collected either."""
    try:
        os.kill(pid, 0)  # succeeds on a zombie
    except ProcessLookupError:
        return not Path(f"/proc/{pid}").exists()
    return False


def ended(pid: int) -> bool:
    """Not running: gone, or a zombie (an orphan's status is collected by whatever
    process adopts it, which in a container may never do so)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def parent_of(pid: int) -> int:
    """The parent process id of ``pid`` (from /proc)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_of(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass  # ended meanwhile
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """One ``orpheus serve`` child process on a fixed free port (it keeps the port across
    restarts, so clients reconnect to the same address)."""

    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        self.name, self.env, self.data_dir = name, env, data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, score_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/scores/{score_id}"

    def start(self) -> None:
        env = {**os.environ, **self.env, "ORPHEUS_INSTANCE_ID": self.name}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from collab_server.cli.main import main; main()",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"instance {self.name} exited with {self.process and self.process.returncode}"
            )
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"instance {self.name} did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
