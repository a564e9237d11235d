"""Round-trip fidelity over the whole of music21's corpus, every format it holds that we
import, in parallel and bounded in time.

Every MusicXML, MXL, ABC (the first tune of each file), Humdrum and MEI file of the corpus
is imported, exported as MusicXML, MXL, MIDI and JSON, and each export imported again;
the comparison is :func:`bench.fidelity.round_trip` (what each format promises to keep).
The corpus holds no MIDI files: MIDI is covered as an export format, read back by our
MIDI import. The script prints:

- per source format: files, imported, refused at import (by reason), and for each export
  format the pieces exported without error, notes compared and matching;
- per feature (MusicXML round trip): notes carrying it before, and kept;
- every failure: the piece, the step, and the error.

A piece that takes longer than ``--seconds`` (default 120) counts as a ``timeout``
failure. Run from the repository root::

    python -m bench.fidelity_corpus [--jobs 2] [--formats musicxml,mxl,abc,humdrum,mei]
        [--limit N] [--every N] [--seconds S] [--only SUBSTRING] [--json PATH] [--reverse]
        [--parse-seconds S]
    python -m bench.fidelity_corpus --report RUN1.jsonl,RUN2.jsonl  # tables of saved runs
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

EXPORTS = ("musicxml", "mxl", "midi", "json")
SOURCES = {
    ".xml": "musicxml",
    ".musicxml": "musicxml",
    ".mxl": "mxl",
    ".abc": "abc",
    ".krn": "humdrum",
    ".mei": "mei",
}
# A fixed sample of the hardest pieces, run in CI (tests/score_model/test_corpus_hardest.py):
# lengths no notation can write (two quartet movements that once failed to export: an
# inexpressible length, a 2048th), lyrics split with hyphens, dense tuplets, Humdrum;
# since schema 4 written tuplet groups (136 notes in 4:3 groups without bracket or number)
# and the chord symbols of a lead sheet (19).
HARDEST = (
    "beethoven/opus18no1/movement2.mxl",
    "schumann_robert/opus41no1/movement4.mxl",
    "monteverdi/madrigal.3.10.mxl",
    "schoenberg/opus19/movement2.mxl",
    "bach/bwv277.krn",
    "trecento/PMFC_12_17-Sanctus Gratiosus.xml",
    "leadSheet/berlinAlexandersRagtime.mxl",
)
NOTE_FEATURES = (
    "notes",
    "chords",
    "rests",
    "ties",
    "grace",
    "lyric",
    "articulations",
    "dynamic",
    "voices 2+",
    "staff 2+",
    "slurs",
    "hairpins",
    "ornaments",
    "fingerings",
    "verses 2+",
    "clef changes",
    "tuplets",
)
MEASURE_FEATURES = ("time", "key", "tempo", "barline", "repeat", "pickup")
SYMBOL_FEATURES = ("chord symbols",)


@dataclass
class Outcome:
    """One corpus file through import, every export and every re-import."""

    path: str
    source: str
    imported: bool = False
    refused: str = ""  # the import failure's reason
    seconds: float = 0.0
    warnings: int = 0
    exports: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    features: dict[str, tuple[int, int]] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, error)


def corpus_files(formats: list[str]) -> list[Path]:
    """The corpus files of ``formats``, a format's files after those of the formats
    named before it (so a run stopped early has covered the first formats whole)."""
    from music21 import corpus

    found = [Path(str(p)) for p in corpus.getCorePaths()]
    rank = {name: i for i, name in enumerate(formats)}
    chosen = [p for p in found if SOURCES.get(p.suffix.lower()) in rank]
    return sorted(chosen, key=lambda p: (rank[SOURCES[p.suffix.lower()]], str(p)))


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def run_one(path_text: str, seconds: float, parse_seconds: float = 30.0) -> Outcome:
    """Import, export and re-import one file (in a worker process); music21's parse may
    take ``parse_seconds`` of wall time (the server's bound is 30 s: on a loaded machine
    a large quartet exceeds it without being slow)."""
    from dataclasses import replace

    from bench.fidelity import notation_rows, round_trip
    from score_model.importer import import_score_report
    from score_model.limits import DEFAULT_LIMITS, ScoreImportError

    limits = replace(DEFAULT_LIMITS, parse_seconds=parse_seconds)

    path = Path(path_text)
    outcome = Outcome(path_text, SOURCES[path.suffix.lower()])
    started = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            report = import_score_report(path.read_bytes(), path.name, limits=limits)
        except ScoreImportError as exc:
            outcome.refused = str(exc.reason)
            outcome.failures.append(("import", str(exc)[:300]))
            return outcome
        outcome.imported = True
        outcome.warnings = len(report.warnings)
        for fmt in EXPORTS:
            try:
                result = round_trip(report.score, fmt, path.name, limits)
            except _Timeout:
                raise
            except Exception as exc:
                outcome.failures.append((fmt, f"{type(exc).__name__}: {exc}"[:300]))
                continue
            outcome.exports[fmt] = (
                result.compared,
                result.matching,
                result.added,
                result.unrepresentable,
            )
            if fmt == "musicxml" and result.after is not None:
                outcome.features = _features(report.score.read(), result.after, notation_rows)
    except _Timeout:
        outcome.failures.append(("timeout", f"over {seconds:.0f} s"))
    except Exception as exc:  # a bug of ours: report it, keep going
        outcome.failures.append(("crash", f"{type(exc).__name__}: {exc}"[:300]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome.seconds = time.perf_counter() - started
    return outcome


def _features(before: Any, after: Any, notation_rows: Any) -> dict[str, tuple[int, int]]:
    """Per feature: notes (or measures, or chord symbols) carrying it ``before``, and how
    many the MusicXML round trip kept (``after``: the re-imported export)."""
    from bench.fidelity import chord_symbol_rows

    (a, _), (b, _) = notation_rows(before), notation_rows(after)
    kept = a & b
    voices = {(n.part, n.measure) for n in before.notes.values() if n.voice > 1}
    parts = {p.id: i for i, p in enumerate(before.parts)}
    measures = {m.id: i for i, m in enumerate(before.measures)}
    multi = {(parts[p], measures[m]) for p, m in voices}
    counts: dict[str, list[int]] = {name: [0, 0] for name in NOTE_FEATURES}
    for rows, column in ((a, 0), (kept, 1)):
        for row, count in rows.items():
            assert isinstance(row, tuple)
            for name in _row_features(row, multi):
                counts[name][column] += count
    for name in ("slurs", "hairpins"):
        marked = [Counter(_span_rows(d, name)) for d in (before, after)]
        counts[name] = [sum(marked[0].values()), sum((marked[0] & marked[1]).values())]
    symbols = [Counter(chord_symbol_rows(d)) for d in (before, after)]
    counts["chord symbols"] = [sum(symbols[0].values()), sum((symbols[0] & symbols[1]).values())]
    for name in MEASURE_FEATURES:
        index = MEASURE_FEATURES.index(name)
        have = [i for i, m in enumerate(before.measures) if _measure_field(m, index)]
        same = [
            i
            for i in have
            if i < len(after.measures)
            and _measure_field(after.measures[i], index)
            == _measure_field(before.measures[i], index)
        ]
        counts[name] = [len(have), len(same)]
    return {name: (c[0], c[1]) for name, c in counts.items()}


def _span_rows(data: Any, name: str) -> Iterator[tuple[Hashable, ...]]:
    """Notes carrying slur (or hairpin) marks: where they are and their marks."""
    parts = {p.id: i for i, p in enumerate(data.parts)}
    measures = {m.id: i for i, m in enumerate(data.measures)}
    for n in data.notes.values():
        marks = getattr(n, name)
        if marks and n.part in parts and n.measure in measures:
            yield (parts[n.part], measures[n.measure], n.onset, n.pitches, tuple(sorted(marks)))


def _row_features(row: tuple[Hashable, ...], multi: set[tuple[int, int]]) -> Iterator[str]:
    part, measure, _, _, _, pitches, ties, grace, lyric, articulations, dynamic, *marks = row
    staff, ornaments, fingerings, verses, clef, tuplets = marks
    yield "notes"
    if isinstance(pitches, tuple) and len(pitches) > 1:
        yield "chords"
    if not pitches:
        yield "rests"
    if isinstance(ties, tuple) and any(ties):
        yield "ties"
    if grace:
        yield "grace"
    if lyric:
        yield "lyric"
    if articulations:
        yield "articulations"
    if dynamic:
        yield "dynamic"
    if (part, measure) in multi:
        yield "voices 2+"
    if isinstance(staff, int) and staff > 1:
        yield "staff 2+"
    for name, value in (
        ("ornaments", ornaments),
        ("fingerings", fingerings),
        ("verses 2+", verses),
        ("clef changes", clef),
        ("tuplets", tuplets),
    ):
        if value:
            yield name


def _measure_field(measure: Any, index: int) -> Any:
    return (
        measure.time,
        measure.key,
        measure.tempo,
        measure.barline,
        measure.repeat,
        measure.pickup,
    )[index]


def run(
    paths: list[Path], jobs: int, seconds: float, parse_seconds: float = 30.0
) -> Iterator[Outcome]:
    if jobs <= 1:
        for path in paths:
            yield run_one(str(path), seconds, parse_seconds)
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(
            run_one,
            [str(p) for p in paths],
            [seconds] * len(paths),
            [parse_seconds] * len(paths),
            chunksize=1,
        )


def report(outcomes: list[Outcome], out: Any = sys.stdout) -> None:
    by_source: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_source[outcome.source].append(outcome)
    print("\n## Per source format\n", file=out)
    print(
        "| source | files | imported | refused | "
        + " | ".join(f"{f} exported / notes kept" for f in EXPORTS)
        + " |",
        file=out,
    )
    print("|---|---|---|---|" + "---|" * len(EXPORTS), file=out)
    for source, group in sorted(by_source.items()):
        refused = Counter(o.refused for o in group if o.refused)
        imported = [o for o in group if o.imported]
        cells = []
        for fmt in EXPORTS:
            done = [o.exports[fmt] for o in imported if fmt in o.exports]
            compared = sum(d[0] for d in done)
            matching = sum(d[1] for d in done)
            share = f"{100 * matching / compared:.2f}%" if compared else "n/a"
            cells.append(f"{len(done)}/{len(imported)} / {share} of {compared:,}")
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(refused.items())) or "0"
        print(
            f"| {source} | {len(group)} | {len(imported)} | {reasons} | "
            + " | ".join(cells)
            + " |",
            file=out,
        )
    print("\n## Per feature (MusicXML round trip)\n", file=out)
    print("| feature | " + " | ".join(sorted(by_source)) + " |", file=out)
    print("|---|" + "---|" * len(by_source), file=out)
    for name in (*NOTE_FEATURES, *MEASURE_FEATURES, *SYMBOL_FEATURES):
        cells = []
        for _, group in sorted(by_source.items()):
            have = sum(o.features.get(name, (0, 0))[0] for o in group)
            kept = sum(o.features.get(name, (0, 0))[1] for o in group)
            cells.append(f"{kept:,}/{have:,} ({100 * kept / have:.1f}%)" if have else "-")
        unit = (
            "measures"
            if name in MEASURE_FEATURES
            else "symbols"
            if name in SYMBOL_FEATURES
            else "notes"
        )
        print(f"| {name} ({unit}) | " + " | ".join(cells) + " |", file=out)
    failures = [
        (o, step, error) for o in outcomes for step, error in o.failures if step != "import"
    ]
    refusals = [(o, error) for o in outcomes for step, error in o.failures if step == "import"]
    print(f"\n## Failures after a successful import: {len(failures)}\n", file=out)
    for failed, step, error in failures:
        print(f"- {_short(failed.path)} [{step}] {error}", file=out)
    print(f"\n## Refused at import: {len(refusals)}\n", file=out)
    for piece, error in refusals:
        print(f"- {_short(piece.path)}: {error}", file=out)
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:10]
    print("\n## Slowest\n", file=out)
    for slow in slowest:
        print(f"- {_short(slow.path)}: {slow.seconds:.1f} s", file=out)


def _short(path: str) -> str:
    marker = f"corpus{os.sep}"
    return path.split(marker, 1)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--formats", default="musicxml,mxl,abc,humdrum,mei")
    parser.add_argument("--limit", type=int, default=0, help="first N files only")
    parser.add_argument("--seconds", type=float, default=120.0, help="per file")
    parser.add_argument("--only", default="", help="paths containing this text")
    parser.add_argument("--every", type=int, default=1, help="every Nth file only (an even sample)")
    parser.add_argument(
        "--json", default="", help="append every outcome here as it comes (JSON lines)"
    )
    parser.add_argument(
        "--report",
        default="",
        help="print the tables of --json files, comma-separated (a piece in several: the first)",
    )
    parser.add_argument("--reverse", action="store_true", help="last file first")
    parser.add_argument(
        "--parse-seconds",
        type=float,
        default=30.0,
        help="wall-clock bound of each import (the server's: 30; raise it on a loaded machine)",
    )
    args = parser.parse_args(argv)
    if args.report:
        outcomes: dict[str, Outcome] = {}
        for name in args.report.split(","):
            for line in Path(name).read_text().splitlines():
                if line.strip():
                    outcome = Outcome(**json.loads(line))
                    outcomes.setdefault(outcome.path, outcome)
        report(list(outcomes.values()))
        return 0
    paths = [p for p in corpus_files(args.formats.split(",")) if args.only in str(p)]
    paths = paths[:: max(1, args.every)]
    if args.limit:
        paths = paths[: args.limit]
    if args.reverse:
        paths.reverse()
    started = time.perf_counter()
    done = []
    for index, outcome in enumerate(run(paths, args.jobs, args.seconds, args.parse_seconds), 1):
        done.append(outcome)
        if args.json:
            with open(args.json, "a") as saved:
                saved.write(json.dumps(asdict(outcome)) + "\n")
        status = (
            "ok"
            if outcome.imported and not outcome.failures
            else (outcome.refused or ",".join(step for step, _ in outcome.failures))
        )
        print(
            f"[{index}/{len(paths)}] {_short(outcome.path)}: {status} ({outcome.seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"{len(paths)} files in {time.perf_counter() - started:.0f} s with {args.jobs} "
        f"processes; load average {os.getloadavg()[0]:.1f}"
    )
    report(done)
    failed = any(step != "import" for o in done for step, _ in o.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
