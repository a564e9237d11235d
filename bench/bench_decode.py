"""CPU of the per-edit and per-re-index decoding paths, in process (no sockets, no I/O).

- ``read``: ``ScoreDoc.read()`` of a 2,000-note score (100 measures, 2 parts);
- ``search extraction``: what a search re-index decodes and builds for that score;
- ``semantic texts``: the texts a semantic re-index embeds (title, parts, chat, comments);
- ``check_update``: the server's Yjs update check of a one-note update;
- ``Room.receive``: a room taking 2,000 one-note edits from one writer with 20 readers
  (store does nothing), CPU per edit.

Medians of repeated runs; the machine's load moves them less than wall-clock benches.

    python -m bench.bench_decode
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence

from collab_server.search.service import _extract
from collab_server.semantic.service import _document_texts
from collab_server.sync.hooks import LoadedState
from collab_server.sync.protocol import encode_update
from collab_server.sync.room import Room
from collab_server.sync.update_check import check_update
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from tests.collab_server.test_room import Recorder, attach, settle


def median_ms(fn: Callable[[], object], runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def large_score() -> ScoreDoc:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(title="T", parts=("A", "B"), measures=100)
    rng = random.Random(1)
    for measure in ids["measures"]:
        for part in ids["parts"]:
            for i in range(10):
                pitch = rng.choice(["C4", "D4", "E-4", "F#4", "G4"])
                editor.add_note(measure, part, f"{i}/4" if i else "0", "1/4", [pitch])
    return score


class _NoStore(Recorder):
    async def store(self, room: Room, updates: Sequence[bytes]) -> None:
        return None


async def room_receive_us(edits: int = 2000, readers: int = 20) -> float:
    base = ScoreDoc()
    ids = ScoreEditor(base).create_score(title="T", parts=("A",), measures=50)
    state = base.encode_state()
    client = ScoreDoc.from_update(state)
    editor = ScoreEditor(client)
    frames = []
    for i in range(edits):
        before = client.doc.get_state()
        editor.add_note(ids["measures"][i % 50], ids["parts"][0], f"{i % 4}", "1", ["C4"])
        frames.append(encode_update(client.doc.get_update(before)))
    room = Room("s", LoadedState(state, 1, frozenset()), _NoStore(state))
    writer, _ = attach(room)
    for _ in range(readers):
        attach(room)
    await settle()
    started = time.process_time()
    for i, frame in enumerate(frames):
        room.receive(writer, frame)
        if i % 50 == 49:
            await asyncio.sleep(0)
    await room.flushed()
    await settle()
    cpu = time.process_time() - started
    await room.stop()
    return cpu / edits * 1e6


def main() -> None:
    score = large_score()
    state = score.encode_state()
    print(f"score: {len(score.notes):,} notes, {len(state):,} bytes of state")
    print("| path | median CPU |")
    print("|---|---:|")
    print(f"| read | {median_ms(score.read):.1f} ms |")
    print(f"| search extraction | {median_ms(lambda: _extract(state)):.1f} ms |")
    print(f"| semantic texts | {median_ms(lambda: _document_texts(state)):.1f} ms |")

    one = ScoreDoc()
    ids = ScoreEditor(one).create_score(title="T", parts=("A",), measures=4)
    before = one.doc.get_state()
    ScoreEditor(one).add_note(
        ids["measures"][0], ids["parts"][0], "1/2", "1/4", ["C4", "E4"], lyric="la"
    )
    update = one.doc.get_update(before)
    vector = {one.doc.client_id: 1 << 30}
    n = 20000
    check = median_ms(lambda: [check_update(update, vector) for _ in range(n)], runs=5)
    print(f"| check_update, one note ({len(update)} bytes) | {check / n * 1000:.2f} us |")
    receive = statistics.median(asyncio.run(room_receive_us()) for _ in range(3))
    print(f"| Room.receive, 20 readers | {receive:.1f} us per edit |")


if __name__ == "__main__":
    main()
