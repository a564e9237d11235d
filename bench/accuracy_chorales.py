"""Accuracy of the analysis engine against expert Roman numeral analyses of Bach chorales.

music21's corpus ships RomanText analyses (``bach/choraleAnalyses/riemenschneider*.rntxt``,
by A. Jones, proofread by D. Tymoczko and H. Robb) whose headers name the BWV number of a
chorale score also in the corpus. For every label (a Roman numeral at a measure and beat)
this compares, beside a plain music21 baseline computed in the same run:

- global key: the first key of the analysis (engine: ``key``; music21: ``analyze('key')``);
- local key: the key in force at each label (engine: the key of the slice at the label,
  the key timeline's with changes of key placed inside the bar; music21: its
  ``floatingKey`` analyser with ``windowSize = 2``, as its docs advise for chorales);
- numeral: the same key and the same figure (inversions written 65/43/42/64 either way);
- numeral in the expert's key: the figure alone, given the expert's local key
  (music21: ``romanNumeralFromChord`` of the ``chordify`` chord in the expert's key);
- root and quality: of the chord at the label (music21: ``chord.root()`` and its triad
  quality plus seventh, from ``chordify``).

The music21 numeral column without the expert's key uses the ``analyze('key')`` key.

Usage: ``python bench/accuracy_chorales.py [--limit N] [--details]``
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis_engine import AnalysisContext, build_table
from analysis_engine.chords import QUALITY_NAMES, classify
from analysis_engine.harmony import following_chords, measure_harmony, sounding_fifths
from analysis_engine.roman import figure as engine_figure
from analysis_engine.units import TPQ
from score_model.importer import import_score

MIN_ALIGNMENT = 0.8
COLUMNS = ("global key", "local key", "numeral", "numeral (expert key)", "root", "quality")


@dataclass
class Label:
    column: int
    local: float  # quarter notes from the start of the column's content
    figure: str
    key: tuple[int, str]
    key_name: str
    root: int
    quality: str


@dataclass
class Tally:
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))

    def add(self, column: str, hit: bool) -> None:
        self.hits[column] += int(hit)
        self.totals[column] += 1

    def share(self, column: str) -> str:
        total = self.totals[column]
        return f"{100 * self.hits[column] / total:5.1f}%" if total else "   - "


def corpus_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus"


def chorale_pairs() -> list[tuple[Path, Path, str]]:
    """(analysis, score, BWV) for every expert analysis whose score is in the corpus."""
    base = corpus_dir() / "bach"
    pairs = []
    for analysis_path in sorted((base / "choraleAnalyses").glob("*.rntxt")):
        header = analysis_path.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^BWV:\s*(\S+)", header, re.M)
        if match is None:
            continue
        bwv = match.group(1)
        parts = re.match(r"(\d+)(?:\((\d+)\))?(?:\.(\d+))?", bwv)
        if parts is None:
            continue
        number, section, movement = parts.groups()
        candidates = [
            f"bwv{number}.{movement}-{section}" if section else "",
            f"bwv{number}.{movement}" if movement else "",
            f"bwv{number}",
        ]
        for name in filter(None, candidates):
            score = base / f"{name}.mxl"
            if score.exists():
                pairs.append((analysis_path, score, bwv))
                break
    return pairs


def key_of(m21key: Any) -> tuple[int, str]:
    return int(m21key.tonic.pitchClass), str(m21key.mode)


def normalise(figure: str | None, mode: str) -> str:
    if not figure:
        return ""
    text = re.sub(r"\[.*?\]", "", figure.replace(" ", ""))
    for slash, plain in (("6/5", "65"), ("4/3", "43"), ("4/2", "42"), ("6/4", "64")):
        text = text.replace(slash, plain)
    text = re.sub(r"(?<=[IViv+oø])2(?=$|/)", "42", text)
    if text.startswith("Cad64"):
        text = ("I64" if mode == "major" else "i64") + text[5:]
    # DCML's names of the augmented sixths over the sixth degree; music21 reads each as
    # the RomanText figure it becomes (same pitches, same bass)
    return re.sub(r"^(Ger6|Fr6)(?=$|/)", lambda m: _AUGMENTED_SIXTHS[m.group(1)], text)


_AUGMENTED_SIXTHS = {"Ger6": "Ger65", "Fr6": "Fr43"}


def columns(m21score: Any) -> list[tuple[str, float, float]]:
    """(measure number with suffix, padding, content length) per measure column."""
    from music21 import stream

    out = []
    for m in m21score.parts[0].getElementsByClass(stream.Measure):
        out.append((f"{m.number}", float(m.paddingLeft or 0), float(m.duration.quarterLength)))
    return out


def locate(
    cols: list[tuple[str, float, float]], number: str, bar_position: float
) -> tuple[int, float] | None:
    candidates = [i for i, (n, _, _) in enumerate(cols) if n == number]
    for i in candidates:
        _, padding, length = cols[i]
        if padding - 1e-9 <= bar_position < padding + length - 1e-9:
            return i, bar_position - padding
    if candidates:
        i = candidates[-1]
        return i, bar_position - cols[i][1]
    return None


def expert_labels(
    path: Path, cols: list[tuple[str, float, float]], dcml_minor: bool = False
) -> list[Label]:
    """The analysis's Roman numerals placed on the score's measure columns.

    ``dcml_minor``: the DCML analyses converted into When-in-Rome write the leading-tone
    chord of a minor key (or applied to a minor triad) as ``#viio7``; RomanText's default
    spelling, which the engine writes, is ``viio7`` for the same chord, so the figure is
    compared without the ``#``."""
    from music21 import converter, roman

    analysis_score = converter.parse(str(path), format="romantext")
    labels = []
    for rn in analysis_score.recurse().getElementsByClass(roman.RomanNumeral):
        chord = rn
        if dcml_minor and "#vii" in rn.figure:
            target = rn.secondaryRomanNumeralKey or rn.key
            if target is not None and target.mode == "minor":
                chord = roman.RomanNumeral(rn.figure.replace("#vii", "vii", 1), rn.key)
        measure = rn.getContextByClass("Measure")
        padding = float(measure.paddingLeft or 0) if measure is not None else 0.0
        where = locate(cols, str(rn.measureNumber), float(rn.offset) + padding)
        if where is None:
            continue
        root = int(chord.root().pitchClass)
        labels.append(
            Label(
                where[0],
                where[1],
                str(chord.figure),
                key_of(rn.key),
                str(rn.key.tonic.name),
                root,
                classify(root, set(chord.pitchClasses)),
            )
        )
    return labels


def chord_at(chord_measures: list[Any], column: int, local: float) -> Any:
    """The chordified chord sounding at a label (the last one starting at or before it)."""
    found = None
    if column < len(chord_measures):
        for chord in chord_measures[column].recurse().getElementsByClass("Chord"):
            if chord.offset <= local + 1e-9:
                found = chord
    return found


def transposition(labels: list[Label], chord_measures: list[Any]) -> int:
    """Semitones the corpus score sits above the analysis (some scores are transposed):
    the shift that puts the most expert chord tones into the sounding chords."""
    tally = [0] * 12
    for label in labels:
        chord = chord_at(chord_measures, label.column, label.local)
        if chord is None:
            continue
        sounding = {p.pitchClass for p in chord.pitches}
        for shift in range(12):
            tally[shift] += (label.root + shift) % 12 in sounding
    return max(range(12), key=lambda shift: (tally[shift], shift == 0))


def alignment(labels: list[Label], chord_measures: list[Any]) -> float:
    """Share of labels whose expert root sounds in the score at that point: a check that
    the analysis and the score line up (measure numbering, version of the chorale)."""
    hits = 0
    for label in labels:
        chord = chord_at(chord_measures, label.column, label.local)
        hits += chord is not None and label.root in {p.pitchClass for p in chord.pitches}
    return hits / len(labels) if labels else 0.0


def transposed(labels: list[Label], shift: int) -> list[Label]:
    from music21 import key as m21key
    from music21 import pitch as m21pitch

    out = []
    for label in labels:
        tonic = m21pitch.Pitch(label.key_name).transpose(shift)
        new_key = m21key.Key(tonic.name if label.key[1] == "major" else tonic.name.lower())
        out.append(
            Label(
                label.column,
                label.local,
                label.figure,
                key_of(new_key),
                tonic.name,
                (label.root + shift) % 12,
                label.quality,
            )
        )
    return out


def music21_quality(chord: Any) -> str:
    triad = chord.quality
    seventh = chord.seventh
    if seventh is None:
        return triad if triad in ("major", "minor", "diminished", "augmented") else "other"
    interval = (seventh.pitchClass - chord.root().pitchClass) % 12
    return {
        ("major", 10): "dominant-seventh",
        ("major", 11): "major-seventh",
        ("minor", 10): "minor-seventh",
        ("diminished", 10): "half-diminished",
        ("diminished", 9): "diminished-seventh",
    }.get((triad, interval), "other")


def engine_run(score_path: Path) -> tuple[AnalysisContext, float]:
    doc = import_score(score_path.read_bytes(), filename=score_path.name)
    data = doc.read()
    started = time.perf_counter()
    ctx = AnalysisContext(build_table(data))
    from analysis_engine.registry import run

    run("key", ctx)
    run("harmony", ctx)
    return ctx, time.perf_counter() - started


def score_engine(
    ctx: AnalysisContext,
    labels: list[Label],
    expert_global: tuple[int, str],
    tally: Tally,
    details: list[str] | None,
) -> None:
    keys = ctx.keys
    best = keys.best
    tally.add("global key", (best % 12, "minor" if best >= 12 else "major") == expert_global)
    entries = measure_harmony(ctx)
    slices = ctx.slices.measures
    slice_keys = ctx.slice_keys
    for label in labels:
        s = slices[label.column]
        tick = round(label.local * TPQ)
        index = int(np.searchsorted(s.start, tick, side="right")) - 1
        # the key of the slice at the label (the measure's, unless a change of key
        # falls inside the bar)
        k = int(slice_keys[label.column][index] if index >= 0 else keys.path[label.column])
        engine_key = (k % 12, "minor" if k >= 12 else "major")
        tally.add("local key", engine_key == label.key)
        if index < 0:
            for column in ("numeral", "numeral (expert key)", "root", "quality"):
                tally.add(column, False)
            continue
        entry = entries[label.column][index]
        mode = label.key[1]
        expert = normalise(label.figure, mode)
        tally.add(
            "numeral",
            engine_key == label.key and normalise(entry["figure"], engine_key[1]) == expert,
        )
        after = slices[label.column + 1] if label.column + 1 < len(slices) else None
        in_expert_key = engine_figure(
            s.root_name[index],
            int(s.quality[index]),
            int(s.inversion[index]),
            label.key_name,
            mode,
            sounding_fifths(s)[index],
            following_chords(s, after)[index],
        )
        tally.add("numeral (expert key)", normalise(in_expert_key, mode) == expert)
        tally.add("root", int(s.root[index]) == label.root)
        quality = QUALITY_NAMES[int(s.quality[index])] if s.quality[index] >= 0 else "other"
        tally.add("quality", quality == label.quality)
        if details is not None and normalise(in_expert_key, mode) != expert:
            details.append(
                f"  m{label.column} +{label.local:g} [{label.key_name} {mode}] "
                f"expert {label.figure:10} engine {in_expert_key} "
                f"{entry['pitches']}"
            )


def score_music21(
    score_path: Path,
    labels: list[Label],
    expert_global: tuple[int, str],
    tally: Tally,
    parse: Any = None,
) -> float:
    """Tally music21's baseline; returns its time (``parse(path)`` reads the score,
    music21's ``converter.parse`` by default)."""
    from music21 import converter, roman, stream
    from music21.analysis import floatingKey

    started = time.perf_counter()
    score = (parse or (lambda path: converter.parse(str(path))))(score_path)
    global_key = score.analyze("key")
    analyser = floatingKey.KeyAnalyzer(score)
    analyser.windowSize = 2
    local_keys = analyser.run()
    chords = score.chordify()
    chord_measures = list(chords.getElementsByClass(stream.Measure))
    elapsed = time.perf_counter() - started
    tally.add("global key", key_of(global_key) == expert_global)
    for label in labels:
        local = local_keys[label.column] if label.column < len(local_keys) else None
        tally.add("local key", local is not None and key_of(local) == label.key)
        found = chord_at(chord_measures, label.column, label.local)
        if found is None:
            for column in ("numeral", "numeral (expert key)", "root", "quality"):
                tally.add(column, False)
            continue
        mode = label.key[1]
        expert = normalise(label.figure, mode)
        started = time.perf_counter()
        in_global = roman.romanNumeralFromChord(found, global_key).figure
        from music21 import key as m21key

        in_expert = roman.romanNumeralFromChord(
            found, m21key.Key(label.key_name if mode == "major" else label.key_name.lower())
        )
        elapsed += time.perf_counter() - started
        tally.add(
            "numeral",
            key_of(global_key) == label.key
            and normalise(in_global, key_of(global_key)[1]) == expert,
        )
        tally.add("numeral (expert key)", normalise(in_expert.figure, mode) == expert)
        tally.add("root", int(found.root().pitchClass) == label.root)
        tally.add("quality", music21_quality(found) == label.quality)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N chorales")
    parser.add_argument("--details", action="store_true", help="list engine disagreements")
    args = parser.parse_args()
    pairs = chorale_pairs()
    if args.limit:
        pairs = pairs[: args.limit]
    tallies = {"aligned": (Tally(), Tally()), "all": (Tally(), Tally())}
    engine_times, m21_times = [], []
    labels_total = {"aligned": 0, "all": 0}
    chorales = {"aligned": 0, "all": 0}
    shifted, misaligned = [], []
    for analysis_path, score_path, bwv in pairs:
        from music21 import converter, stream

        m21score = converter.parse(str(score_path))
        cols = columns(m21score)
        labels = expert_labels(analysis_path, cols)
        if not labels:
            continue
        chord_measures = list(m21score.chordify().getElementsByClass(stream.Measure))
        shift = transposition(labels, chord_measures)
        if shift:
            labels = transposed(labels, shift)
            shifted.append(f"BWV {bwv} (+{shift})")
        agreement = alignment(labels, chord_measures)
        sets = ["all"]
        if agreement >= MIN_ALIGNMENT:
            sets.append("aligned")
        else:
            misaligned.append(f"BWV {bwv} ({100 * agreement:.0f}%)")
        expert_global = labels[0].key
        details: list[str] = []
        ctx, seconds = engine_run(score_path)
        engine_times.append(seconds)
        for name in sets:
            labels_total[name] += len(labels)
            chorales[name] += 1
            score_engine(
                ctx, labels, expert_global, tallies[name][0], details if name == "all" else None
            )
            elapsed = score_music21(score_path, labels, expert_global, tallies[name][1])
        m21_times.append(elapsed)
        if args.details:
            print(f"BWV {bwv} ({score_path.name}): {len(details)} numeral disagreements")
            print("\n".join(details))
    print(
        f"\n{chorales['all']} chorales with expert analyses in the music21 corpus "
        "(bach/choraleAnalyses)"
    )
    if shifted:
        print(
            "scores transposed from their analyses (labels moved to match): " + ", ".join(shifted)
        )
    if misaligned:
        print(
            f"analysis and score do not line up (expert root sounding at under "
            f"{100 * MIN_ALIGNMENT:.0f}% of labels): " + ", ".join(misaligned)
        )
    for name in ("aligned", "all"):
        print(f"\n{name}: {chorales[name]} chorales, {labels_total[name]} labels")
        print(f"{'':10}" + "".join(f"{c:>22}" for c in COLUMNS))
        for who, tally in zip(("engine", "music21"), tallies[name], strict=True):
            print(f"{who:10}" + "".join(f"{tally.share(c):>22}" for c in COLUMNS))
    print(
        f"\nmedian time per chorale: engine {1000 * statistics.median(engine_times):.1f} ms "
        f"(table + key + harmony, score already read), music21 "
        f"{1000 * statistics.median(m21_times):.0f} ms (parse + analyze('key') + floatingKey "
        "+ chordify + romanNumeralFromChord)"
    )


if __name__ == "__main__":
    main()
