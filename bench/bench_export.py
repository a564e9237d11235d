"""Benchmark: exporting Beethoven's op. 59 no. 2, first movement (261 bars, ~5.9k notes).

Prints medians over a few runs, with music21's own writers measured in the same run:

- MIDI: music21's writer (``streamToMidiFile`` on the projected score: repeats expanded,
  ties stripped) against :mod:`score_model.midi_writer` (mido, from the decoded
  document), with and without decoding the document (``ScoreDoc.read``);
- MusicXML: music21's writer with its own ``makeNotation`` against ``export_score``
  (written from the decoded document by :mod:`score_model.musicxml`), with and without
  decoding the document, its first call in the process (length and beam rules not yet
  remembered), and the previous export (projection,
  :func:`score_model.notation.make_notation`, music21's writer:
  :func:`score_model.exporter.musicxml_report`).

Run from the repository root: ``python -m bench.bench_export [--runs N]
[--music21-midi-runs N] [--cpu]`` (music21's MIDI writer takes tens of seconds; default 1
run). ``--cpu`` measures the process's CPU time instead of wall time: on a shared,
loaded machine wall time mostly measures the queue for a core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_import import WORK

CPU = {"on": False}  # --cpu: process CPU time instead of wall time


def median_seconds(task: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall (or, with --cpu, process CPU) seconds of ``task`` over ``runs``."""
    clock = time.process_time if CPU["on"] else time.perf_counter
    times, result = [], None
    for _ in range(max(1, runs)):
        started = clock()
        result = task()
        times.append(clock() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--music21-midi-runs", type=int, default=1)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="process CPU time instead of wall time (a loaded machine)",
    )
    args = parser.parse_args(argv)
    CPU["on"] = args.cpu

    from music21 import corpus
    from music21.midi import translate
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from score_model.exporter import export_score, musicxml_report
    from score_model.importer import import_score
    from score_model.projection import project_score

    path = Path(str(corpus.getWork(WORK)))
    score = import_score(path.read_bytes(), path.name)
    data = score.read()
    runs = args.runs

    def music21_xml() -> bytes:
        return bytes(GeneralObjectExporter(project_score(data)).parse())

    def previous_export() -> bytes:
        return musicxml_report(project_score(data, staves=True))[0]

    rows: list[tuple[str, float | None, str]] = []
    midi_base, _ = median_seconds(
        lambda: translate.streamToMidiFile(project_score(data)).writestr(), args.music21_midi_runs
    )
    rows.append(
        ("MIDI: music21 streamToMidiFile, projection included (baseline)", midi_base, "midi")
    )
    ours, _ = median_seconds(lambda: export_score(data, "midi"), runs)
    rows.append(("MIDI: export_score from ScoreData (mido)", ours, "midi"))
    ours_doc, _ = median_seconds(lambda: export_score(score, "midi"), runs)
    rows.append(("MIDI: export_score from ScoreDoc (read included)", ours_doc, "midi"))
    xml_base, _ = median_seconds(music21_xml, runs)
    rows.append(
        (
            "MusicXML: music21 writer with its makeNotation, projection included (baseline)",
            xml_base,
            "xml",
        )
    )
    first, _ = median_seconds(lambda: export_score(data, "musicxml"), 1)
    xml_ours, _ = median_seconds(lambda: export_score(data, "musicxml"), runs)
    rows.append(("MusicXML: export_score from ScoreData (direct writer)", xml_ours, "xml"))
    xml_doc, _ = median_seconds(lambda: export_score(score, "musicxml"), runs)
    rows.append(("MusicXML: export_score from ScoreDoc (read included)", xml_doc, "xml"))
    rows.append(("MusicXML: export_score, first call in the process", first, "xml"))
    previous, _ = median_seconds(previous_export, runs)
    rows.append(
        ("MusicXML: previous export (projection, make_notation, music21 writer)", previous, "xml")
    )

    load = os.getloadavg()
    print(
        f"{WORK}: {len(data.parts)} parts, {len(data.measures)} measures, "
        f"{len(data.notes)} notes; medians of {runs} "
        f"(music21 MIDI: {args.music21_midi_runs}), {'CPU' if args.cpu else 'wall'} time; "
        f"load average "
        f"{load[0]:.1f} {load[1]:.1f}"
    )
    print()
    print("| step | median | vs music21 |")
    print("|---|---|---|")
    for name, seconds, kind in rows:
        base = midi_base if kind == "midi" else xml_base
        ratio = f"{seconds / base:.3f}x" if seconds is not None else ""
        figure = f"{seconds * 1000:,.0f} ms" if seconds is not None else ""
        print(f"| {name} | {figure} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
