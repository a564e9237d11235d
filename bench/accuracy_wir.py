"""Accuracy of the analysis engine on the When-in-Rome corpus, beside music21, per collection.

When-in-Rome (M. Gotham et al., github.com/MarkGotham/When-in-Rome) holds expert
RomanText analyses (``analysis.txt``) beside their scores (``score.mxl``; the Bach
chorales' scores are in music21's corpus, named in ``remote.json``; pieces whose score is
only a remote link are skipped). The corpus stays outside the repository: pass its path
(default: ``$ORPHEUS_WIR`` or ``/work/data/When-in-Rome``).

Collections (the five the issue names; the textbook examples have no local analyses):

=========  ==============================================  ===========================
name       corpus folder                                   split unit (alternating)
=========  ==============================================  ===========================
quartets   Quartets/Beethoven (string quartets)            opus (``Op018_No1``, ...)
sonatas    Piano_Sonatas/Mozart                            sonata (``K279``, ...)
wtc        Keyboard_Other/Bach (Well-Tempered Clavier)     book and number
lieder     OpenScore-LiederCorpus                          composer
chorales   Early_Choral/Bach/Chorales (music21 scores)     chorale
=========  ==============================================  ===========================

The split is fixed here: within a collection the units are sorted by name and alternate,
the first (and every other) going to the *development* part, the rest to the *report*
part. Tune only on the development part (``--part dev``); the report part is for the
figures in docs/analysis.md. A sample of ``--per-collection`` pieces per part and
collection, evenly spaced over the sorted pieces, keeps a run to about 15 minutes.

Per label (a Roman numeral at a measure and beat), as AugmentedNet reports them:

- global key: the first key of the analysis;
- local key: the key in force at the label;
- numeral: the full Roman numeral, key included (same key, same figure with inversion);

plus, as in :mod:`accuracy_chorales` (whose comparison this reuses), the numeral in the
expert's key, the root and the quality. music21's baseline (``analyze('key')``,
``floatingKey`` with a two-measure window, ``chordify`` and ``romanNumeralFromChord``)
runs on the same labels in the same run. Time per piece: the engine from the MusicXML
bytes (import + note table + key + harmony) against music21's pipeline (parse + key +
floatingKey + chordify + Roman numerals).

Usage: ``python bench/accuracy_wir.py [PATH] [--part dev|report|both] [--collections
quartets,lieder] [--per-collection N] [--limit N] [--processes 2] [--details]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# one BLAS thread a process (before numpy loads): the processes already fill the cores,
# and the engine's small matrices run slower, not faster, with threads that contend
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from accuracy_chorales import (
    COLUMNS,
    MIN_ALIGNMENT,
    Label,
    Tally,
    columns,
    corpus_dir,
    expert_labels,
    score_engine,
    score_music21,
    transposed,
)

DEFAULT_PATH = os.environ.get("ORPHEUS_WIR", "/work/data/When-in-Rome")
# collection -> (folder under Corpus, depth of the split unit below that folder)
COLLECTIONS: dict[str, tuple[str, int]] = {
    "quartets": ("Quartets/Beethoven,_Ludwig_van", 1),
    "sonatas": ("Piano_Sonatas/Mozart,_Wolfgang_Amadeus", 1),
    "wtc": ("Keyboard_Other/Bach,_Johann_Sebastian", 2),
    "lieder": ("OpenScore-LiederCorpus", 1),
    "chorales": ("Early_Choral/Bach,_Johann_Sebastian/Chorales", 1),
}
PARTS = ("dev", "report")


@dataclass(frozen=True)
class Piece:
    collection: str
    part: str
    name: str  # path under Corpus
    analysis: Path
    score: Path


def _unit(relative: Path, depth: int, collection: str) -> str:
    unit = "/".join(relative.parts[:depth])
    if collection == "wtc":  # a prelude and its fugue ("19", "19_fugue") stay together
        unit = unit.split("_fugue")[0]
    return unit


def _score_of(folder: Path) -> Path | None:
    local = folder / "score.mxl"
    if local.exists():
        return local
    remote = folder / "remote.json"
    if remote.exists():
        name = json.loads(remote.read_text(encoding="utf-8")).get("remote_score_music21")
        if name:
            candidate = corpus_dir() / name
            if candidate.exists():
                return candidate
    return None


def pieces(root: Path, collection: str) -> list[Piece]:
    """Every piece of a collection with a local score, tagged with its part of the split."""
    folder, depth = COLLECTIONS[collection]
    base = root / "Corpus" / folder
    found: list[tuple[str, Path, Path]] = []
    for analysis in sorted(base.rglob("analysis.txt")):
        score = _score_of(analysis.parent)
        if score is not None:
            found.append(
                (_unit(analysis.parent.relative_to(base), depth, collection), analysis, score)
            )
    units = sorted({unit for unit, _, _ in found})
    part_of = {unit: PARTS[i % 2] for i, unit in enumerate(units)}
    return [
        Piece(
            collection,
            part_of[unit],
            str(analysis.parent.relative_to(root / "Corpus")),
            analysis,
            score,
        )
        for unit, analysis, score in found
    ]


def sample(items: list[Piece], count: int) -> list[Piece]:
    """``count`` pieces evenly spaced over ``items`` (all of them if ``count`` is 0)."""
    if not count or count >= len(items):
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


@dataclass
class Outcome:
    piece: Piece
    labels: int = 0
    engine: Tally | None = None
    music21: Tally | None = None
    engine_seconds: float = 0.0  # import + table + key + harmony
    analysis_seconds: float = 0.0  # table + key + harmony
    music21_seconds: float = 0.0
    shift: int = 0
    aligned: float = 0.0
    error: str = ""
    details: tuple[str, ...] = ()


_HARMONY = re.compile(rb"<harmony\b.*?</harmony>", re.S)


def parse_m21(path: Path) -> Any:
    """The score in music21, without the ``<harmony>`` chord symbols some of these files
    carry (their Roman-numeral ``function`` texts make music21's reader raise)."""
    from music21 import converter

    raw = path.read_bytes()
    if raw[:2] != b"PK":
        return converter.parse(str(path))
    import zipfile

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = [
            n
            for n in archive.namelist()
            if n.endswith((".xml", ".musicxml")) and not n.startswith("META-INF")
        ]
        xml = archive.read(names[0])
    return converter.parse(_HARMONY.sub(b"", xml), format="musicxml")


def sounding(labels: list[Label], chord_measures: list[Any]) -> list[set[int]]:
    """Pitch classes sounding from each label to the next one (or to the end of its
    measure): arpeggios and figuration sound a chord over time, not at one instant."""
    out = []
    for i, label in enumerate(labels):
        nxt = labels[i + 1] if i + 1 < len(labels) else None
        end = nxt.local if nxt is not None and nxt.column == label.column else float("inf")
        pcs: set[int] = set()
        if label.column < len(chord_measures):
            found = None
            for chord in chord_measures[label.column].recurse().getElementsByClass("Chord"):
                if chord.offset <= label.local + 1e-9:
                    found = chord
                elif chord.offset < end - 1e-9:
                    pcs |= {p.pitchClass for p in chord.pitches}
            if found is not None:
                pcs |= {p.pitchClass for p in found.pitches}
        out.append(pcs)
    return out


def transposition(labels: list[Label], spans: list[set[int]]) -> int:
    """Semitones the score sits above the analysis: the shift that puts the most expert
    roots into the music sounding at their labels."""
    tally = [
        sum((label.root + shift) % 12 in pcs for label, pcs in zip(labels, spans, strict=True))
        for shift in range(12)
    ]
    return max(range(12), key=lambda shift: (tally[shift], shift == 0))


def alignment(labels: list[Label], spans: list[set[int]]) -> float:
    """Share of labels whose expert root sounds from the label to the next one."""
    hits = sum(label.root in pcs for label, pcs in zip(labels, spans, strict=True))
    return hits / len(labels) if labels else 0.0


def _warm() -> None:
    from analysis_engine.roman import warm_figures

    warm_figures()


LABELS_VERSION = b"2"  # bump when the reading of the labels changes
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orpheus-wir"


def aligned_labels(piece: Piece) -> tuple[list[Label], int, float]:
    """The expert labels placed on the score's measures (moved if the score is transposed),
    the shift and the alignment; cached per analysis and score (reading them is slow)."""
    import hashlib
    import pickle

    from music21 import stream

    digest = hashlib.sha256(
        LABELS_VERSION + piece.analysis.read_bytes() + piece.score.read_bytes()
    ).hexdigest()
    cached = CACHE / f"{digest[:32]}.pickle"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    m21score = parse_m21(piece.score)
    labels = expert_labels(piece.analysis, columns(m21score), dcml_minor=True)
    shift, aligned = 0, 0.0
    if labels:
        chord_measures = list(m21score.chordify().getElementsByClass(stream.Measure))
        spans = sounding(labels, chord_measures)
        shift = transposition(labels, spans)
        if shift:
            labels = transposed(labels, shift)
        aligned = alignment(labels, spans)  # spans depend on positions only
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps((labels, shift, aligned)))
    return labels, shift, aligned


def evaluate(
    piece: Piece,
    with_music21: bool = True,
    want_details: bool = False,
    settings: dict[str, Any] | None = None,
) -> Outcome:
    """Both tallies for one piece (run in a worker process)."""
    from analysis_engine import AnalysisContext, build_table
    from analysis_engine.registry import run
    from analysis_engine.settings import AnalysisSettings
    from score_model.importer import import_score

    out = Outcome(piece)
    try:
        labels, out.shift, out.aligned = aligned_labels(piece)
        if not labels:
            out.error = "no labels"
            return out
        if out.aligned < MIN_ALIGNMENT:
            out.error = f"analysis and score do not line up ({100 * out.aligned:.0f}%)"
            return out
        raw = piece.score.read_bytes()
        started = time.perf_counter()
        doc = import_score(raw, filename=piece.score.name)
        data = doc.read()
        imported = time.perf_counter()
        ctx = AnalysisContext(build_table(data), AnalysisSettings(**(settings or {})))
        run("key", ctx)
        run("harmony", ctx)
        done = time.perf_counter()
        out.engine_seconds, out.analysis_seconds = done - started, done - imported
        out.labels = len(labels)
        out.engine = Tally()
        details: list[str] = []
        score_engine(ctx, labels, labels[0].key, out.engine, details if want_details else None)
        out.details = tuple(details)
        if with_music21:
            out.music21 = Tally()
            out.music21_seconds = score_music21(
                piece.score, labels, labels[0].key, out.music21, parse_m21
            )
    except Exception as exc:  # one odd score must not stop the run
        out.error = f"{type(exc).__name__}: {exc}"
        out.engine = out.music21 = None
        if os.environ.get("ORPHEUS_WIR_TRACE"):
            traceback.print_exc()
    return out


def merge(into: Tally, other: Tally) -> None:
    for column in COLUMNS:
        into.hits[column] += other.hits[column]
        into.totals[column] += other.totals[column]


def report(outcomes: list[Outcome], with_music21: bool) -> str:
    lines = []
    shown = ("global key", "local key", "numeral", "numeral (expert key)", "root", "quality")
    header = f"{'':24}" + "".join(
        f"{c:>12}" for c in ("global key", "local key", "full RN", "RN@key", "root", "quality")
    )
    for part in PARTS:
        done = [o for o in outcomes if o.piece.part == part and o.engine is not None]
        if not done:
            continue
        lines.append(f"\n{part} part")
        lines.append(
            header + f"{'pieces':>7}{'labels':>7}{'ms ana':>8}{'ms imp+ana':>11}"
            f"{'ms m21':>8}{'x ana':>7}{'x imp':>7}"
        )
        groups = sorted({o.piece.collection for o in done}, key=list(COLLECTIONS).index)
        for name in [*groups, "all"]:
            chosen = [o for o in done if name in ("all", o.piece.collection)]
            engine, m21 = Tally(), Tally()
            for o in chosen:
                merge(engine, o.engine)  # type: ignore[arg-type]
                if o.music21 is not None:
                    merge(m21, o.music21)
            a_ms = 1000 * statistics.median(o.analysis_seconds for o in chosen)
            e_ms = 1000 * statistics.median(o.engine_seconds for o in chosen)
            m_ms = (
                1000 * statistics.median(o.music21_seconds for o in chosen) if with_music21 else 0.0
            )
            speed = (
                f"{m_ms / a_ms:6.0f}x{m_ms / e_ms:6.1f}x"
                if with_music21 and a_ms
                else "     -      -"
            )
            labels = sum(o.labels for o in chosen)
            lines.append(
                f"{name + ' engine':24}"
                + "".join(f"{engine.share(c):>12}" for c in shown)
                + f"{len(chosen):7}{labels:7}{a_ms:8.0f}{e_ms:11.0f}{m_ms:8.0f}{speed}"
            )
            if with_music21:
                lines.append(
                    f"{name + ' music21':24}" + "".join(f"{m21.share(c):>12}" for c in shown)
                )
    return "\n".join(lines)


def settings_from(items: list[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` arguments as :class:`AnalysisSettings` fields (JSON values:
    numbers, ``true``/``false``; anything else a string)."""
    return {
        name: json.loads(value) if value[:1] in "-.0123456789tf" else value
        for name, value in (item.split("=", 1) for item in items)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path",
        nargs="?",
        default=DEFAULT_PATH,
        help="When-in-Rome checkout (default: $ORPHEUS_WIR or %(default)s)",
    )
    parser.add_argument("--part", choices=(*PARTS, "both"), default="dev")
    parser.add_argument(
        "--collections",
        default=",".join(COLLECTIONS),
        help="comma-separated, from: " + ", ".join(COLLECTIONS),
    )
    parser.add_argument(
        "--per-collection",
        type=int,
        default=8,
        help="pieces sampled per collection and part (0: all)",
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N pieces in all")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-music21", action="store_true", help="engine only (tuning)")
    parser.add_argument("--details", action="store_true", help="list engine disagreements")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an AnalysisSettings field for the engine (tuning, repeatable)",
    )
    args = parser.parse_args()
    settings = settings_from(args.set)
    root = Path(args.path)
    if not (root / "Corpus").is_dir():
        parser.error(f"{root} is not a When-in-Rome checkout (no Corpus folder)")
    chosen_parts = PARTS if args.part == "both" else (args.part,)
    todo: list[Piece] = []
    for collection in args.collections.split(","):
        if collection not in COLLECTIONS:
            parser.error(f"unknown collection {collection!r}")
        every = pieces(root, collection)
        for part in chosen_parts:
            todo += sample([p for p in every if p.part == part], args.per_collection)
    if args.limit:
        todo = todo[: args.limit]
    print(f"{len(todo)} pieces ({', '.join(chosen_parts)}), {args.processes} processes", flush=True)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(args.processes, initializer=_warm) as pool:
        futures = [
            pool.submit(evaluate, p, not args.no_music21, args.details, settings) for p in todo
        ]
        for future in futures:
            outcome = future.result()
            outcomes.append(outcome)
            status = outcome.error or (
                f"{outcome.labels} labels, engine {outcome.engine.share('numeral').strip()} RN"
                if outcome.engine
                else ""
            )
            print(f"  [{outcome.piece.part}] {outcome.piece.name}: {status}", flush=True)
            if args.details and outcome.details:
                print("\n".join(outcome.details))
    skipped = [o for o in outcomes if o.engine is None]
    print(
        f"\n{len(outcomes) - len(skipped)} pieces scored, {len(skipped)} skipped "
        f"(misaligned or unreadable); {time.perf_counter() - started:.0f} s"
    )
    print(report(outcomes, not args.no_music21))
    print(
        "\nms: median per piece. ana = the engine's analysis (note table + key + harmony, "
        "score already a document, as in the server); imp+ana = also importing the "
        "MusicXML; m21 = music21's parse + analyze('key') + floatingKey + chordify + "
        "romanNumeralFromChord; x = music21 time / engine time"
    )


if __name__ == "__main__":
    main()
