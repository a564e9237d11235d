"""A person's browser watching agents: ``tests/node/agent_watcher.mjs`` (unmodified
``yjs`` + ``y-websocket``) driven from a test."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "agent_watcher.mjs"

Event = dict[str, Any]


class Watcher:
    """``await Watcher.start(url=..., room=...)``; ``await watcher.until(predicate)``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[Event] = []
        self._cursor = 0

    @classmethod
    async def start(cls, **options: Any) -> Watcher:
        node = shutil.which("node")
        assert node, "Node.js is required for these tests"
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            json.dumps(options),
            cwd=NODE_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        watcher = cls(process)
        await watcher.until(lambda e: e["event"] == "synced")
        return watcher

    async def _next(self) -> Event:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            stderr = await self.process.stderr.read() if self.process.stderr else b""
            raise AssertionError(f"node exited: {self.events[-5:]} {stderr.decode()}")
        event: Event = json.loads(line)
        self.events.append(event)
        if event["event"] == "error":
            raise AssertionError(event["message"])
        return event

    async def until(self, predicate: Callable[[Event], bool], timeout: float = 20) -> Event:
        """The first event from now on (or already seen but not yet consumed) that
        satisfies ``predicate``."""
        async with asyncio.timeout(timeout):
            while True:
                while self._cursor < len(self.events):
                    event = self.events[self._cursor]
                    self._cursor += 1
                    if predicate(event):
                        return event
                await self._next()

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def dump(self) -> Event:
        await self.send(cmd="dump")
        return await self.until(lambda e: e["event"] == "dump")

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                await self.send(cmd="quit")
                async with asyncio.timeout(10):
                    await self.process.wait()
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()


def agents_present(event: Event, kind: str = "agent") -> list[dict[str, Any]]:
    """The presence states of a ``presence`` event whose user is of ``kind``."""
    if event["event"] != "presence":
        return []
    return [s for s in event["states"] if s.get("user", {}).get("kind") == kind]
