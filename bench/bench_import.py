"""Benchmark: importing Beethoven's op. 59 no. 2, first movement (261 bars, ~5.9k notes).

Prints medians over a few runs of:

- music21's own parse of the file (``converter.parse(path, forceSource=True)``): the
  baseline, measured in the same run;
- our full import (``import_score``: unzip with checks, defusedxml, music21's MusicXML
  reader, conversion, writing the document);
- its steps: the safe parse (archive checks + defusedxml + music21 reader), the
  conversion alone (music21 score -> schema values), writing the document;
- reading the document back (``ScoreDoc.read``) and projecting it into music21
  (``project_score``).

Run from the repository root: ``python -m bench.bench_import [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORK = "beethoven/opus59no2/movement1"


def median_seconds(task: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = task()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from music21 import converter, corpus

    from score_model.importer import Converter, import_score, write_content
    from score_model.limits import DEFAULT_LIMITS, read_mxl
    from score_model.m21_parse import parse_musicxml
    from score_model.projection import project_score

    path = Path(str(corpus.getWork(WORK)))
    data = path.read_bytes()
    rows: list[tuple[str, float]] = []

    baseline, parsed = median_seconds(lambda: converter.parse(path, forceSource=True), args.runs)
    rows.append(("music21 converter.parse (baseline)", baseline))
    full, score = median_seconds(lambda: import_score(data, path.name), args.runs)
    rows.append(("import_score: everything", full))
    safe, m21 = median_seconds(
        lambda: parse_musicxml(read_mxl(data, DEFAULT_LIMITS), DEFAULT_LIMITS), args.runs
    )
    rows.append(("  safe parse (zip checks, defusedxml, music21 reader)", safe))
    convert, content = median_seconds(lambda: Converter().convert(m21), args.runs)
    rows.append(("  conversion alone (music21 -> schema values)", convert))
    write, _ = median_seconds(lambda: write_content(content), args.runs)
    rows.append(("  writing the document (one transaction)", write))
    read, decoded = median_seconds(score.read, args.runs)
    rows.append(("ScoreDoc.read (decode the document)", read))
    project, _ = median_seconds(lambda: project_score(decoded), args.runs)
    rows.append(("project_score (document -> music21)", project))

    notes = len(decoded.notes)
    print(
        f"{WORK}: {len(decoded.parts)} parts, {len(decoded.measures)} measures, "
        f"{notes:,} notes; music21 parsed {len(parsed.recurse().notesAndRests):,} "
        f"notes and rests; medians of {args.runs} runs"
    )
    print(f"{'step':56} {'median':>9} {'x baseline':>11}")
    for label, seconds in rows:
        print(f"{label:56} {seconds * 1000:7.0f} ms {seconds / baseline:10.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
