"""Harmonise the soprano lines of Bach chorales and score the results against Bach's own.

For each chorale of the bench set (:func:`agents.music.corpus.bench_chorales`, held out
of everything the music brain learns): import it, harmonise its soprano in four parts
(:func:`agents.music.harmonise.harmonise`), write the alto, tenor and bass into a copy of
the score in place of Bach's, and score both settings with the same voice-leading detector
(:mod:`agents.music.quality`, i.e. ``analysis_engine.voice_leading`` with the SATB rules).
Chord agreement: at every chord slot (beat) the engine's harmony analysis labels the
sonority of both settings; a hit is the same root (and quality) in both.

Usage: ``python bench/bench_harmonise.py [--limit N] [--details]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.music.corpus import bench_chorales, learning_chorales
from agents.music.harmonise import harmonise
from agents.music.quality import FAULTS, QualityReport, check_data
from agents.music.view import apply_result, extract_view, to_score_data
from analysis_engine import build_table, run
from analysis_engine.units import to_ticks
from score_model.document import ScoreData, ScoreDoc
from score_model.importer import import_score

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
SHORT = {
    "parallel_fifths": "P5",
    "parallel_octaves": "P8",
    "hidden_fifths": "h5",
    "hidden_octaves": "h8",
    "crossing": "cross",
    "overlap": "overl",
    "spacing": "space",
    "range": "range",
}


def satb(doc: ScoreDoc) -> ScoreData:
    """The four voices alone (some chorales add instruments doubling them)."""
    view = extract_view(doc, parts=VOICES)
    return to_score_data(view, [(line.name, line.measures) for line in view.parts])


def labels(data: ScoreData) -> dict[str, list[tuple[int, int, str, str | None]]]:
    """Per measure id: (start tick, end tick, root, quality) of every harmony slice."""
    slices = run("harmony", build_table(data))["result"]["slices"]
    out: dict[str, list[tuple[int, int, str, str | None]]] = {}
    for s in slices:
        start = to_ticks(_fraction(s["onset"]))
        out.setdefault(s["measure"], []).append(
            (start, start + to_ticks(_fraction(s["duration"])), s["root"], s["quality"])
        )
    return out


def _fraction(text: str) -> Any:
    from fractions import Fraction

    return Fraction(text)


def at(
    table: dict[str, list[tuple[int, int, str, str | None]]], measure: str, tick: int
) -> tuple[str, str | None] | None:
    for start, end, root, quality in table.get(measure, []):
        if start <= tick < end:
            return root, quality
    return None


def same_root(a: str, b: str) -> bool:
    from analysis_engine.units import parse_pitch

    return parse_pitch(a + "4")[0] % 12 == parse_pitch(b + "4")[0] % 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--details", action="store_true")
    parser.add_argument(
        "--set",
        choices=("bench", "learning"),
        default="bench",
        help="learning: chorales the statistics came from (for tuning)",
    )
    parser.add_argument("--hand", action="store_true", help="hand-set chord costs only")
    parser.add_argument("--passing", action="store_true", help="passing notes in the lower voices")
    args = parser.parse_args()
    paths = (bench_chorales() if args.set == "bench" else learning_chorales()[::9])[: args.limit]
    totals: dict[str, dict[str, int]] = {
        "ours": dict.fromkeys(FAULTS, 0),
        "bach": dict.fromkeys(FAULTS, 0),
    }
    chords = root_hits = full_hits = written_range = 0
    seconds: list[float] = []
    print(
        f"{'chorale':<16}{'chords':>7}{'sec':>7}{'root%':>7}{'r+q%':>7}   ours "
        + " ".join(f"{SHORT[k]:>5}" for k in FAULTS)
        + "   | Bach P5 P8 h5+h8"
    )
    for path in paths:
        doc = import_score(path.read_bytes(), path.name)
        view = extract_view(doc)
        h = harmonise(view, "Soprano", learned=not args.hand, passing=args.passing)
        seconds.append(h.seconds)
        ours_doc = ScoreDoc.from_update(doc.encode_state())
        apply_result(ours_doc, h.result)
        ours_data, bach_data = satb(ours_doc), satb(doc)
        ours = check_data(ours_data, vocal=True)
        bach = check_data(bach_data, vocal=True)
        ours_labels, bach_labels = labels(ours_data), labels(bach_data)
        written_range += sum(
            1 for i in ours.issues if i["type"] == "range" and i["parts"] != ["p_0"]
        )
        hits = full = 0
        for choice in h.chords:
            tick = to_ticks(choice.onset)
            a, b = at(ours_labels, choice.measure, tick), at(bach_labels, choice.measure, tick)
            if a and b and same_root(a[0], b[0]):
                hits += 1
                full += a[1] == b[1]
        n = len(h.chords)
        chords += n
        root_hits += hits
        full_hits += full
        for name, report in (("ours", ours), ("bach", bach)):
            for kind in FAULTS:
                totals[name][kind] += report.counts[kind]
        print(
            f"{path.stem:<16}{n:>7}{h.seconds:>7.3f}{100 * hits / n:>7.1f}"
            f"{100 * full / n:>7.1f}        " + row(ours) + "   | "
            f"{bach.counts['parallel_fifths']:>7}{bach.counts['parallel_octaves']:>3}"
            f"{bach.counts['hidden_fifths'] + bach.counts['hidden_octaves']:>3}"
        )
        if args.details:
            print("   ", " ".join(f"{c.label}" for c in h.chords))
    print()
    print(f"{len(paths)} chorales, {chords} chords (one per beat; fermata notes one chord)")
    print(f"{'per 100 chords':<22}" + "".join(f"{k:>17}" for k in FAULTS))
    for name in ("ours", "bach"):
        label = "harmoniser" if name == "ours" else "Bach (control)"
        print(f"{label:<22}" + "".join(f"{100 * totals[name][k] / chords:>17.2f}" for k in FAULTS))
    print(
        f"range faults in the written alto, tenor and bass: {written_range} "
        "(the others are Bach's soprano notes)"
    )
    print(
        f"chord agreement with Bach: root {100 * root_hits / chords:.1f}%, "
        f"root and quality {100 * full_hits / chords:.1f}%"
    )
    print(
        f"time per chorale: median {statistics.median(seconds) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms"
    )


def row(report: QualityReport) -> str:
    return " ".join(f"{report.counts[k]:>5}" for k in FAULTS)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total wall time {time.perf_counter() - started:.1f} s")
