"""Speed of the analysis engine against music21's own pipeline, on the same piece, same run.

Default piece: Beethoven, string quartet op. 59 no. 2, movement 1 (music21 corpus
``beethoven/opus59no2/movement1``: 261 bars, 4 parts). Prints medians:

- music21: ``converter.parse`` + ``chordify`` + ``romanNumeralFromChord`` for every chord
  (in the ``analyze('key')`` key) + ``analyze('key')`` + ``floatingKey``;
- engine, full analysis (all registered analyses from the score's ``ScoreData``):
  cold (Roman numeral caches cleared, as in a fresh worker) and warm;
- engine, re-analysis after a one-note edit made with ``ScoreEditor`` (a pitch change, a
  duration change or a move, at random), through :class:`IncrementalAnalyzer` given the
  changed note id (after ``warm_figures()`` and ``gc.freeze()``, as a worker would at
  start-up), and checked equal to a from-scratch analysis at the end.

Usage: ``python bench/bench_analysis.py [--piece CORPUS_PATH] [--runs N] [--edits N]
[--music21-runs N] [--set NAME=VALUE ...]`` (``--set sequence=false``: without the
sequence model)
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_wir import settings_from

from analysis_engine import (
    AnalysisSettings,
    IncrementalAnalyzer,
    apply_note_changes,
    build_table,
    run_all,
)
from analysis_engine.roman import _music21_figure, relative_figure, warm_figures
from score_model.document import ScoreData, ScoreDoc
from score_model.importer import import_score
from score_model.ops import ScoreEditor


def corpus_file(piece: str) -> Path:
    from music21 import corpus

    return Path(str(corpus.getWork(piece)))


def music21_pipeline(path: Path) -> dict[str, float]:
    from music21 import converter, roman
    from music21.analysis import floatingKey

    times: dict[str, float] = {}
    started = time.perf_counter()
    score = converter.parse(str(path))
    times["parse"] = time.perf_counter() - started
    step = time.perf_counter()
    global_key = score.analyze("key")
    times["analyze('key')"] = time.perf_counter() - step
    step = time.perf_counter()
    chords = score.chordify()
    times["chordify"] = time.perf_counter() - step
    step = time.perf_counter()
    for chord in chords.recurse().getElementsByClass("Chord"):
        roman.romanNumeralFromChord(chord, global_key)
    times["romanNumeralFromChord"] = time.perf_counter() - step
    step = time.perf_counter()
    floatingKey.KeyAnalyzer(score).run()
    times["floatingKey"] = time.perf_counter() - step
    times["total"] = time.perf_counter() - started
    return times


def full_analysis(
    data: ScoreData, cold: bool, settings: AnalysisSettings
) -> tuple[float, dict[str, Any]]:
    if cold:
        relative_figure.cache_clear()
        _music21_figure.cache_clear()
    started = time.perf_counter()
    results = run_all(build_table(data), version=0, settings=settings)
    return time.perf_counter() - started, results


def one_note_edit(editor: ScoreEditor, data: ScoreData, rng: random.Random) -> str:
    """A random one-note edit: new pitch, new duration, or a move to another measure."""
    pitched = [n for n in data.notes.values() if n.pitches and not n.grace]
    note = rng.choice(pitched)
    kind = rng.choice(("pitch", "duration", "move"))
    if kind == "pitch":
        pitch = rng.choice(["C4", "E-4", "F#4", "A4", "B-3", "D5", "G3"])
        editor.set_pitches(
            note.id,
            [pitch] * len(note.pitches)
            if len(note.pitches) == 1
            else [pitch, *list(note.pitches[1:])],
        )
    elif kind == "duration":
        editor.set_duration(note.id, max(Fraction(1, 4), note.duration / 2))
    else:
        measure_ids = [m.id for m in data.measures]
        target = rng.choice(measure_ids)
        editor.move_note(note.id, target, 0, part=note.part)
    return note.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--piece", default="beethoven/opus59no2/movement1")
    parser.add_argument("--runs", type=int, default=7, help="engine full-analysis runs")
    parser.add_argument("--edits", type=int, default=50, help="one-note edits to time")
    parser.add_argument("--music21-runs", type=int, default=1)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an AnalysisSettings field for the engine (repeatable)",
    )
    args = parser.parse_args()
    settings = AnalysisSettings(**settings_from(args.set))
    path = corpus_file(args.piece)

    import music21  # noqa: F401  (import cost kept out of both sides' figures)

    started = time.perf_counter()
    doc = import_score(path.read_bytes(), filename=path.name)
    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    data = doc.read()
    read_seconds = time.perf_counter() - started
    table = build_table(data)
    print(
        f"{args.piece}: {len(data.measures)} measures, {len(data.parts)} parts, "
        f"{sum(1 for n in data.notes.values() if n.pitches)} notes, {len(table)} pitch rows"
    )
    print(
        f"(import_score {import_seconds:.2f} s and ScoreDoc.read {1000 * read_seconds:.0f} ms "
        "are outside every figure below)\n"
    )

    m21_runs = [music21_pipeline(path) for _ in range(args.music21_runs)]
    m21 = {k: statistics.median(r[k] for r in m21_runs) for k in m21_runs[0]}
    print(f"music21 pipeline, median of {args.music21_runs} run(s):")
    for name, seconds in m21.items():
        print(f"  {name:24} {seconds:8.2f} s")

    cold = [full_analysis(data, True, settings)[0] for _ in range(args.runs)]
    warm = [full_analysis(data, False, settings)[0] for _ in range(args.runs)]
    print(
        f"\nengine, full analysis ({', '.join(run_all(table, version=0))}), median of {args.runs}:"
    )
    print(
        f"  cold Roman numeral cache {1000 * statistics.median(cold):8.1f} ms"
        f"   ({m21['total'] / statistics.median(cold):.0f}x faster than music21)"
    )
    print(
        f"  warm                     {1000 * statistics.median(warm):8.1f} ms"
        f"   ({m21['total'] / statistics.median(warm):.0f}x faster than music21)"
    )

    started = time.perf_counter()
    figures = warm_figures()
    gc.collect()
    gc.freeze()  # long-lived objects out of the collector's way: no gen-2 pauses per edit
    print(
        f"\nworker start-up: warm_figures() cached {figures} Roman numeral figures in "
        f"{time.perf_counter() - started:.1f} s, then gc.freeze()"
    )
    rng = random.Random(59)
    editor = ScoreEditor(doc)
    analyzer = IncrementalAnalyzer(settings=settings)
    analyzer.update(data, version=0)
    edit_times, diff_times = [], []
    results: dict[str, Any] = {}
    for version in range(1, args.edits + 1):
        note_id = one_note_edit(editor, data, rng)
        started = time.perf_counter()
        data = apply_note_changes(data, {note_id: doc.notes.get(note_id)})
        results = analyzer.update(data, version=version, changed_notes=[note_id])
        edit_times.append(time.perf_counter() - started)
    for version in range(args.edits + 1, args.edits + 6):
        note_id = one_note_edit(editor, data, rng)
        data = apply_note_changes(data, {note_id: doc.notes.get(note_id)})
        started = time.perf_counter()
        results = analyzer.update(data, version=version)  # no hint: compares every note
        diff_times.append(time.perf_counter() - started)
    fresh = run_all(
        build_table(ScoreDoc.from_update(doc.encode_state()).read()),
        version=args.edits + 5,
        settings=settings,
    )
    same = json.dumps(fresh, sort_keys=True) == json.dumps(results, sort_keys=True)
    print(f"engine, re-analysis after a one-note edit ({args.edits} random edits):")
    print(
        f"  median {1000 * statistics.median(edit_times):6.1f} ms, "
        f"90th percentile {1000 * sorted(edit_times)[int(0.9 * len(edit_times))]:6.1f} ms, "
        f"max {1000 * max(edit_times):6.1f} ms"
    )
    print(
        f"  without naming the changed note (diff of every note): median "
        f"{1000 * statistics.median(diff_times):6.1f} ms"
    )
    print(f"  equal to a from-scratch analysis of the edited document: {same}")


if __name__ == "__main__":
    main()
