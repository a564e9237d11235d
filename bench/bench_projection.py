"""Benchmark: memory of a large loaded score, full vs incremental music21 projection.

Builds 1,000 measures x 4 parts with 4 quarter notes per cell (every 8th a chord),
about 16,000 notes, then reports:

- memory of loading the encoded state into a fresh ScoreDoc (RSS and tracemalloc deltas;
  target <= 30 MB),
- full projection time (``project_score(doc.read())``, the baseline),
- incremental re-projection time after a one-note edit (target <= 20 ms),
- incremental re-projection after a time-signature change (shifts every later measure).

Run from the repository root: ``python -m bench.bench_projection [--runs N]``.
Figures are medians.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.projection import IncrementalProjection, describe, project_score

MEASURES, PARTS, PER_CELL = 1000, 4, 4
PITCHES = ["C", "D", "E", "F", "G", "A", "B"]


def build_document() -> tuple[ScoreDoc, list[str], list[str]]:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(title="Bench", parts=[f"P{i}" for i in range(PARTS)], measures=0)
    with editor.batch():
        measures = editor.append_measures(MEASURES)
        editor.set_time_signature(measures[0], "4/4")
        counter = 0
        for m_index, measure in enumerate(measures):
            for p_index, part in enumerate(ids["parts"]):
                for beat in range(PER_CELL):
                    counter += 1
                    octave = 2 + p_index + (m_index + beat) % 2
                    pitch = f"{PITCHES[(m_index * 3 + beat + p_index) % 7]}{octave}"
                    pitches = (
                        [pitch, f"{PITCHES[(m_index + beat + 2) % 7]}{octave}"]
                        if counter % 8 == 0
                        else [pitch]
                    )
                    score.notes[f"n_{counter:06d}"] = {
                        "measure": measure,
                        "part": part,
                        "onset": str(beat),
                        "duration": "1",
                        "pitches": pitches,
                    }
    return score, measures, ids["parts"]


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_LOAD_PROBE = """
import gc, os, sys, tracemalloc
from score_model.document import ScoreDoc
def rss():
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
state = sys.stdin.buffer.read()
gc.collect()
before = rss()
tracemalloc.start()
doc = ScoreDoc.from_update(state)
traced = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
print(rss() - before, traced, len(doc.notes))
"""


def measure_load(state: bytes) -> tuple[int, int]:
    """RSS and tracemalloc deltas of loading ``state`` in a fresh interpreter (so memory
    freed earlier in this process cannot hide the cost)."""
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_PROBE],
        input=state,
        capture_output=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    rss, traced, _ = (int(x) for x in result.stdout.split())
    return rss, traced


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the full projection")
    args = parser.parse_args()

    score, measures, parts = build_document()
    state = score.encode_state()
    del score
    gc.collect()

    load_rss, traced = measure_load(state)
    loaded = ScoreDoc.from_update(state)
    note_count = len(loaded.notes)

    rss_before = rss_bytes()
    start = time.perf_counter()
    projection = IncrementalProjection(loaded)
    initial_ms = (time.perf_counter() - start) * 1000
    projection_rss = rss_bytes() - rss_before

    read_ms = median_ms(loaded.read, args.runs)
    full_ms = median_ms(lambda: project_score(loaded.read()), args.runs)
    gc.disable()  # how much of that is the cyclic GC walking the live music21 heap
    nogc_ms = median_ms(lambda: project_score(loaded.read()), args.runs)
    gc.enable()

    editor = ScoreEditor(loaded)
    note_ids = [f"n_{i:06d}" for i in range(1, note_count + 1, 997)]
    edit_times, refresh_times = [], []
    for index, note_id in enumerate(note_ids * 2):
        start = time.perf_counter()
        editor.set_pitches(note_id, ["C#4", "D5"][index % 2])
        edited = time.perf_counter()
        changes = projection.refresh()
        done = time.perf_counter()
        assert len(changes.cells) == 1, changes
        edit_times.append((edited - start) * 1000)
        refresh_times.append((done - edited) * 1000)

    meter_times = []
    for index in range(args.runs):
        target = measures[len(measures) // 2 + index]
        editor.set_time_signature(target, "3/4")
        start = time.perf_counter()
        projection.refresh()
        meter_times.append((time.perf_counter() - start) * 1000)
        editor.set_time_signature(target, None)
        projection.refresh()

    equal = describe(projection.score()) == describe(project_score(loaded.read()))
    mb = 1 << 20
    rows = [
        (
            "document",
            f"{len(measures)} measures x {len(parts)} parts, {note_count} notes,"
            f" {len(state) / 1024:.0f} KiB encoded",
            "",
        ),
        ("load: RSS delta", f"{load_rss / mb:.1f} MB", "target <= 30 MB"),
        ("load: tracemalloc (Python side)", f"{traced / mb:.2f} MB", "pycrdt is Rust"),
        ("read() (decode all)", f"{read_ms:.0f} ms", "median"),
        ("full projection (baseline)", f"{full_ms:.0f} ms", "median, read() included"),
        ("full projection, GC paused", f"{nogc_ms:.0f} ms", "median; gc.disable() around it"),
        ("incremental: initial build", f"{initial_ms:.0f} ms", "once"),
        (
            "incremental: projection RSS delta",
            f"{projection_rss / mb:.0f} MB",
            "music21 objects + index",
        ),
        ("one-note edit (write)", f"{statistics.median(edit_times):.2f} ms", "median"),
        (
            "one-note edit: refresh",
            f"{statistics.median(refresh_times):.2f} ms",
            f"median of {len(refresh_times)}, max {max(refresh_times):.1f}; target <= 20 ms",
        ),
        (
            "time signature change: refresh",
            f"{statistics.median(meter_times):.0f} ms",
            "median; shifts 500 measures",
        ),
        ("incremental == full (describe)", str(equal), ""),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<42} {note}")


if __name__ == "__main__":
    main()
