"""The unmodified JavaScript client (yjs 13.6 + y-websocket 3.1.0, tests/node) against our
server, together with a Python peer."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc

from collab_server.sync.rooms import RoomManager
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.schema import normalise_number
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.harness import Backend, make_app, serve

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "collab_client.mjs"


class NodePeer:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, **options: Any) -> NodePeer:
        node = shutil.which("node")
        assert node, "Node.js is required for these tests"
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            json.dumps(options),
            cwd=NODE_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def next_event(self, name: str, timeout: float = 20) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    stderr = await self.process.stderr.read() if self.process.stderr else b""
                    raise AssertionError(f"node exited: {self.events} {stderr.decode()}")
                event = json.loads(line)
                self.events.append(event)
                if event["event"] == "error":
                    raise AssertionError(event["message"])
                if event["event"] == name:
                    return event

    async def finish(self) -> int:
        async with asyncio.timeout(20):
            assert self.process.stdout is not None
            for line in (await self.process.stdout.read()).splitlines():
                self.events.append(json.loads(line))
            return await self.process.wait()


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return normalise_number(value)


def python_dump(score: ScoreDoc) -> dict[str, Any]:
    return normalised(
        {
            "meta": score.raw_meta(),
            "parts": score.raw_parts(),
            "measures": score.raw_measures(),
            "notes": score.raw_notes(),
        }
    )


async def test_js_and_python_clients_converge_with_presence(backend: Backend) -> None:
    ids = await backend.create_score("s1", measures=2)
    rooms = RoomManager(backend.hooks, idle_timeout=0.2)
    per_js, per_py, js_measures, py_measures = 12, 12, 2, 2
    total_notes = 2 * per_js + per_py
    total_measures = 2 + 2 * js_measures + py_measures
    expect = {"notes": total_notes, "measures": total_measures, "names": ["js-a", "js-b", "python"]}
    async with serve(make_app(rooms)) as base:
        peers = [
            await NodePeer.start(
                url=base,
                room="s1",
                name=name,
                notes=per_js,
                measures=js_measures,
                expect=expect,
                watch=1.0,
            )
            for name in ("js-a", "js-b")
        ]
        py = await YClient(f"{base}/s1", presence={"user": {"name": "python"}}).connect()
        await asyncio.wait_for(py.synced.wait(), 10)
        editor = ScoreEditor(py.score, Origin.agent("python-peer"))
        for i in range(per_py):
            measures = [m["id"] for m in py.score.raw_measures()]
            editor.add_note(
                measures[i % len(measures)],
                ids["parts"][i % 2],
                i % 4,
                1,
                ["D4"],
                lyric=f"python-{i}",
            )
            if i < py_measures:
                editor.insert_measure()
            await asyncio.sleep(0.002)
        dumps = [(await peer.next_event("done"))["dump"] for peer in peers]
        await wait_for(
            lambda: len(py.score.notes) == total_notes and len(py.score.measures) == total_measures,
            timeout=20,
        )
        # Presence set by the JS clients reached the Python client.
        names = {state.get("user", {}).get("name") for state in py.presence.values()}
        assert names == {"js-a", "js-b"}
        assert [await peer.finish() for peer in peers] == [0, 0]

        mine = python_dump(py.score)
        for dump in dumps:
            theirs = normalised({k: dump[k] for k in ("meta", "parts", "measures", "notes")})
            assert theirs == mine
        assert len({n["lyric"].split("-")[0] for n in mine["notes"].values()}) == 2  # js, python
        assert py.score.read().problems == []
        # The JS clients left: their presence is removed for the Python client at once.
        await wait_for(lambda: not py.presence, timeout=5)
        room = rooms.loaded("s1")
        assert room is not None
        await room.flushed()
        await py.close()
    stored = await backend.stored("s1")
    assert python_dump(stored) == mine
    await rooms.close()


async def test_js_client_stops_reconnecting_after_a_restore(backend: Backend) -> None:
    """y-websocket 3.1.0 treats 4409 as final: it emits `closed` and stays away."""
    await backend.create_score("s1")
    rooms = RoomManager(backend.hooks, idle_timeout=5)
    async with serve(make_app(rooms)) as base:
        peer = await NodePeer.start(
            url=base, room="s1", name="js", notes=1, expect={"notes": 1}, watch=1.5
        )
        await peer.next_event("done")
        fresh = ScoreDoc(Doc())
        ScoreEditor(fresh, Origin.server("restore")).create_score(title="Restored", measures=1)
        state = fresh.encode_state()
        await rooms.restore("s1", state, lambda: backend.documents.reset("s1", state))
        close = await peer.next_event("connection-close")
        assert close["code"] == 4409
        assert (await peer.next_event("closed"))["code"] == 4409
        opened = rooms.metrics.connections_opened
        assert await peer.finish() == 0
        assert rooms.metrics.connections_opened == opened  # it did not come back
        assert not any(e["event"] == "synced" for e in peer.events[2:])
    await rooms.close()
