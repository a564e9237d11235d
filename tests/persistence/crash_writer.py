"""Run by test_crash.py in a subprocess: append through a DocumentStore on SQLite and
print ``ack <key>`` for every append acknowledged, until killed.

Usage: python crash_writer.py DATABASE_URL SCORE_ID WRITERS KEY_PREFIX
"""

from __future__ import annotations

import asyncio
import sys

import pycrdt

from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore


async def main(database_url: str, score_id: str, writers: int, prefix: str) -> None:
    storage = (await open_backend(BackendConfig(database_url))).storage
    documents = DocumentStore(storage, commit_window=0.002, compact_every=40)
    epoch = (await documents.load(score_id)).epoch

    async def write(name: str) -> None:
        doc: pycrdt.Doc = pycrdt.Doc()
        notes = doc.get("m", type=pycrdt.Map)
        for i in range(1_000_000):
            before = doc.get_state()
            key = f"{prefix}{name}:{i}"
            notes[key] = "x" * (i % 50)
            await documents.append(score_id, epoch, [doc.get_update(before)])
            sys.stdout.write(f"ack {key}\n")
            sys.stdout.flush()

    await asyncio.gather(*(write(f"w{n}") for n in range(writers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
