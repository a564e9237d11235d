"""Fuzz: malformed y-websocket messages against the server's message handling, in
process (no network): :func:`~collab_server.sync.protocol.decode_message`,
:func:`~collab_server.sync.update_check.check_update` and the room's apply path
(``Room.receive``), which is exactly what a WebSocket frame goes through.

Cases are drawn from a seeded ``random.Random``: valid frames of a real session (sync
steps, updates of real edits, awareness, queries) mutated (bit flips, truncation,
splices, lying lengths, huge varints), structured frames with random payloads, and
plain random bytes. A case passes when it is accepted or refused with an
``OrpheusError`` (what the server turns into a close code); anything else is a crash.
A case slower than ``--slow`` seconds counts as a hang. After the run the room's
document must still read and encode.

Run from the repository root: ``python -m bench.fuzz_protocol [--cases N] [--seed S]``.
It prints the outcome counts, cases/s, and the baseline: the same number of valid
frames through the same path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from collab_server.errors import OrpheusError
from collab_server.sync.connection import Connection
from collab_server.sync.hooks import LoadedState
from collab_server.sync.protocol import (
    AwarenessEntry,
    encode_awareness,
    encode_query_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    var_bytes,
    var_uint,
)
from collab_server.sync.room import Room
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin

RETIRED_CLIENT = 4242  # a client id of an "older epoch": exercises the stale check


class NullTransport:
    async def send_bytes(self, data: bytes) -> None:
        return None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        return None


@dataclass
class Report:
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: list[tuple[str, str]] = field(default_factory=list)  # (error, frame hex)
    slow: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0
    room_restarts: int = 0

    @property
    def failures(self) -> int:
        return len(self.crashes) + len(self.slow)


def seed_frames(rng: random.Random) -> tuple[bytes, list[bytes]]:
    """A score's state and valid frames a real client would send against it."""
    score = ScoreDoc()
    ids = ScoreEditor(score, Origin.server("fuzz")).create_score(
        title="Fuzz", parts=("Violin", "Cello"), measures=4
    )
    state = score.encode_state()
    client = ScoreDoc.from_update(state)
    editor = ScoreEditor(client, Origin.client("fuzz"))
    frames = [
        encode_sync_step1(client.doc.get_state()),
        encode_sync_step1(b"\x00"),
        encode_query_awareness(),
    ]
    for index in range(12):
        before = client.doc.get_state()
        if index % 3 == 2:
            editor.set_metadata(title=f"Fuzz {index}")
        else:
            editor.add_note(
                ids["measures"][index % 4],
                ids["parts"][index % 2],
                index % 4,
                1,
                rng.choice(["C4", "E-5", "G#3"]),
            )
        update = client.doc.get_update(before)
        frames += [encode_update(update), encode_sync_step2(update)]
    frames.append(encode_sync_step2(client.doc.get_update()))
    for clock in range(1, 4):
        frames.append(
            encode_awareness(
                [
                    AwarenessEntry(
                        rng.randrange(1, 2**32), clock, json.dumps({"user": {"name": "x" * clock}})
                    )
                ]
            )
        )
    return state, frames


def mutate(rng: random.Random, frames: list[bytes]) -> bytes:
    """One fuzz case."""
    choice = rng.random()
    if choice < 0.08:
        return rng.randbytes(rng.randrange(0, 64))
    if choice < 0.2:  # a structured frame with a random (or lying) payload
        head = var_uint(rng.choice([0, 0, 0, 1, 1, 2, 3, rng.randrange(256)]))
        sub = var_uint(rng.choice([0, 1, 2, rng.randrange(1 << 20)]))
        payload = rng.randbytes(rng.randrange(0, 48))
        if rng.random() < 0.3:
            return head + sub + var_uint(rng.randrange(1 << 30)) + payload
        return head + sub + var_bytes(payload)
    data = bytearray(rng.choice(frames))
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(7)
        if op == 0 and data:  # flip bits
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # truncate
            del data[rng.randrange(len(data)) :]
        elif op == 2:  # insert random bytes
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.randbytes(rng.randrange(1, 8))
        elif op == 3 and data:  # overwrite with an extreme varint
            at = rng.randrange(len(data))
            data[at : at + 1] = rng.choice([b"\xff" * 9, b"\x80" * 8 + b"\x01", b"\x7f"])
        elif op == 4:  # splice with another frame
            other = rng.choice(frames)
            data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
        elif op == 5 and len(data) > 2:  # duplicate a slice
            start = rng.randrange(len(data))
            data[start:start] = data[start : start + rng.randrange(1, 16)]
        elif data:  # set a byte to a boundary value
            data[rng.randrange(len(data))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF])
    return bytes(data)


async def fuzz(cases: int, *, seed: int = 0, slow: float = 1.0) -> Report:
    """Run ``cases`` fuzz cases through a room; return what happened."""
    rng = random.Random(seed)
    state, frames = seed_frames(rng)
    report = Report()

    def new_room() -> Room:
        return Room("fuzz", LoadedState(state, 1, frozenset({RETIRED_CLIENT})))

    room = new_room()
    conn = Connection(NullTransport())
    room.join(conn)
    started = time.perf_counter()
    for index in range(cases):
        if room.closed:
            report.room_restarts += 1
            await room.stop()
            room = new_room()
        if conn.closing or conn not in room.connections:
            room.leave(conn)
            conn = Connection(NullTransport())
            room.join(conn)
        frame = mutate(rng, frames)
        begun = time.perf_counter()
        try:
            room.receive(conn, frame)
            report.outcomes["accepted"] += 1
        except OrpheusError as exc:
            report.outcomes[exc.code] += 1
        except Exception as exc:  # a crash: the finding this script looks for
            report.outcomes["crash"] += 1
            if len(report.crashes) < 20:
                report.crashes.append((repr(exc), frame.hex()))
        spent = time.perf_counter() - begun
        if spent > slow:
            report.slow.append((spent, frame.hex()))
        if index % 64 == 0:
            await asyncio.sleep(0)  # let the connection's writer drain
    report.seconds = time.perf_counter() - started
    report.cases = cases
    ScoreDoc.from_update(room.score.doc.get_update()).read()  # still a readable score
    room.score.read()
    await room.stop()
    return report


async def baseline(cases: int, *, seed: int = 0) -> float:
    """Seconds for ``cases`` valid (unmutated) frames through the same path."""
    rng = random.Random(seed)
    state, frames = seed_frames(rng)
    room = Room("fuzz", LoadedState(state, 1))
    conn = Connection(NullTransport())
    room.join(conn)
    started = time.perf_counter()
    for index in range(cases):
        room.receive(conn, frames[index % len(frames)])
        if index % 64 == 0:
            await asyncio.sleep(0)
    seconds = time.perf_counter() - started
    await room.stop()
    return seconds


async def flood_cases(frames: int = 50_000) -> dict[str, dict[str, float]]:
    """Floods, through the frame guard with the server's default limits and the room: a
    connection sending presence as fast as it can (every frame news), and a viewer
    sending document updates. Each must be refused (4429) right past its burst; returns,
    per case, the frames taken before the refusal, its close code and us per frame."""
    from collab_server.security.limits import FrameGuard
    from collab_server.settings import Settings

    defaults = Settings()
    guard = FrameGuard(
        update_rate=defaults.ws_update_rate,
        update_burst=defaults.ws_update_burst,
        awareness_rate=defaults.ws_awareness_rate,
        awareness_burst=defaults.ws_awareness_burst,
        max_document_bytes=defaults.max_document_bytes,
    )
    rng = random.Random(0)
    state, seeds = seed_frames(rng)
    update = next(frame for frame in seeds if frame[:2] == b"\x00\x02")
    cases = {
        "presence": (
            False,
            lambda n: encode_awareness([AwarenessEntry(99, n + 1, json.dumps({"cursor": n}))]),
        ),
        "viewer updates": (True, lambda n: update),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (read_only, make) in cases.items():
        room = Room("flood", LoadedState(state, 1))
        conn = Connection(NullTransport(), read_only=read_only)
        room.join(conn)
        taken, code = 0, 0
        started = time.perf_counter()
        for index in range(frames):
            frame = make(index)
            try:
                guard(room, conn, frame)
                room.receive(conn, frame)
            except OrpheusError as exc:
                code = exc.close_code
                break
            taken += 1
            if index % 64 == 0:
                await asyncio.sleep(0)
        spent = time.perf_counter() - started
        out[name] = {
            "frames_before_close": taken,
            "close_code": code,
            "us_per_frame": round(spent / max(taken, 1) * 1e6, 1),
        }
        await room.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=1.0, help="seconds counted as a hang")
    args = parser.parse_args()
    report = asyncio.run(fuzz(args.cases, seed=args.seed, slow=args.slow))
    valid = asyncio.run(baseline(min(args.cases, 20_000), seed=args.seed))
    print(
        f"cases: {report.cases:,} in {report.seconds:.1f} s "
        f"({report.cases / report.seconds:,.0f} cases/s, "
        f"mean {report.seconds / report.cases * 1e6:.1f} us/case)"
    )
    print(
        f"baseline (valid frames, same path): {valid / min(args.cases, 20_000) * 1e6:.1f} us/frame"
    )
    for outcome, count in report.outcomes.most_common():
        print(f"  {outcome:24} {count:>9,}")
    print(f"room restarts (pycrdt panics contained): {report.room_restarts}")
    print(f"crashes: {len(report.crashes)}  hangs (> {args.slow} s): {len(report.slow)}")
    for error, frame in report.crashes[:5]:
        print(f"  {error}: {frame[:120]}")
    floods = asyncio.run(flood_cases())
    for name, outcome in floods.items():
        print(
            f"flood, {name}: closed with {outcome['close_code']:.0f} after "
            f"{outcome['frames_before_close']:,.0f} frames "
            f"({outcome['us_per_frame']} us/frame)"
        )
    flooded = all(o["close_code"] == 4429 for o in floods.values())
    raise SystemExit(1 if report.failures or not flooded else 0)


if __name__ == "__main__":
    main()
