"""Learn the music brain's statistics from music21's Bach chorales (run once, cached).

From every chorale of :func:`agents.music.corpus.learning_chorales` (the bench set is held
out) this counts, with the same slots and key plan the harmoniser uses at run time:

- harmony: the chord (root relative to the home key of the melody, and quality, as the
  analysis engine labels Bach's own sonority) at each slot, given the melody's pitch class
  relative to the key (*emission*), given the previous slot's chord (*transition*), at
  phrase ends and at the end (*cadence*, *final*); and the bass's chord member;
- melody (the soprano lines): intervals given the previous interval, pitch classes
  relative to the key, and durations given the metrical position and the previous
  duration, per time signature.

``python -m agents.music.learn`` rewrites ``agents/music/data/chorale_stats.json``
(about a minute); :mod:`agents.music.model` loads it in milliseconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from agents.music.corpus import learning_chorales
from agents.music.keyplan import key_plan
from agents.music.model import STATS_PATH
from agents.music.slots import melody_context, melody_slots
from agents.music.tonal import midi_of
from agents.music.view import ScoreView, extract_view, to_score_data
from analysis_engine import build_table, run
from analysis_engine.units import parse_pitch
from score_model.importer import import_score

VOICES = ("Soprano", "Alto", "Tenor", "Bass")
Nested = defaultdict[str, Any]


def _nested() -> Nested:
    return defaultdict(_nested)


def chord_id(rel_root: int, quality: str | None) -> str:
    """``"7:dominant-seventh"``: root in semitones above the tonic, and quality."""
    return f"{rel_root}:{quality}"


def _labels(view: ScoreView) -> dict[tuple[str, Fraction], tuple[int, str | None, int]]:
    """(measure id, onset) -> (root pc, quality, inversion) of Bach's slices."""
    data = to_score_data(view, [(line.name, line.measures) for line in view.parts])
    out = {}
    for s in run("harmony", build_table(data))["result"]["slices"]:
        out[(s["measure"], Fraction(s["onset"]))] = (
            parse_pitch(s["root"] + "4")[0] % 12,
            s["quality"],
            s["inversion"] or 0,
        )
    return out


def _at(
    labels: dict[tuple[str, Fraction], tuple[int, str | None, int]], measure: str, onset: Fraction
) -> tuple[int, str | None, int] | None:
    best = None
    for (m, start), value in labels.items():
        if m == measure and start <= onset and (best is None or start > best[0]):
            best = (start, value)
    return best[1] if best else None


def _count(row: Nested, name: str) -> None:
    row[name] = row.get(name, 0) + 1


def learn_chorale(view: ScoreView, harmony: Nested, melody: Nested) -> None:
    soprano = view.part("Soprano").voice(1)
    plan = key_plan(view, [soprano])
    labels = _labels(view)
    previous: str | None = None
    slots = melody_slots(view, soprano)
    for index, slot in enumerate(slots):
        if slot.soprano is None:
            previous = None
            continue
        key = plan.key
        label = _at(labels, view.measures[slot.measure].id, slot.onset)
        if label is None or label[1] is None:
            previous = None
            continue
        mode, tonic = key.mode, key.tonic_pc
        chord = chord_id((label[0] - tonic) % 12, label[1])
        mel = str((slot.soprano - tonic) % 12)
        _count(harmony["emission"][mode][mel], chord)
        _count(harmony["context"][mode][melody_context(slots, index, tonic)], chord)
        if previous is not None:
            _count(harmony["transition"][mode][previous], chord)
        if slot.final or slot.phrase_end:
            _count(harmony["final" if slot.final else "cadence"][mode], chord)
        _count(harmony["inversion"][chord], str(label[2]))
        previous = None if slot.phrase_end else chord
    _learn_melody(view, soprano, plan.measures, melody)


def _learn_melody(
    view: ScoreView, soprano: Sequence[Sequence[Any]], keys: Sequence[Any], melody: Nested
) -> None:
    last_midi: int | None = None
    last_interval = "start"
    last_duration = "start"
    for info, cell, key in zip(view.measures, soprano, keys, strict=True):
        for event in cell:
            if not event.pitches:
                last_midi, last_interval, last_duration = None, "start", "start"
                continue
            if event.ties and event.ties[0] in ("stop", "continue"):
                continue
            midi = midi_of(event.pitches[0])
            position = str((event.onset + info.phase) % info.bar)
            rhythm = melody["rhythm"][info.time][position][last_duration]
            rhythm[str(event.duration)] = rhythm.get(str(event.duration), 0) + 1
            degree = melody["degree"][key.mode]
            rel = str((midi - key.tonic_pc) % 12)
            degree[rel] = degree.get(rel, 0) + 1
            if last_midi is not None:
                interval = str(max(-12, min(12, midi - last_midi)))
                row = melody["interval"][last_interval]
                row[interval] = row.get(interval, 0) + 1
                last_interval = interval
            last_midi, last_duration = midi, str(event.duration)
            if event.fermata:
                ends = melody["phrase_end"][key.mode]
                ends[rel] = ends.get(rel, 0) + 1


def learn(paths: Sequence[Path]) -> dict[str, Any]:
    """The statistics of the given chorale files (those without S, A, T, B parts are
    skipped), as JSON-ready nested dicts of counts."""
    harmony, melody = _nested(), _nested()
    used = 0
    for path in paths:
        view = extract_view(import_score(path.read_bytes(), path.name), parts=VOICES)
        if [p.name for p in view.parts] != list(VOICES):
            continue
        learn_chorale(view, harmony, melody)
        used += 1
    return {"format": 1, "chorales": used, "harmony": _plain(harmony), "melody": _plain(melody)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    return value


def main() -> None:
    started = time.perf_counter()
    stats = learn(learning_chorales())
    STATS_PATH.parent.mkdir(exist_ok=True)
    STATS_PATH.write_text(json.dumps(stats, separators=(",", ":")), encoding="utf-8")
    print(
        f"learned from {stats['chorales']} chorales in {time.perf_counter() - started:.1f} s"
        f" -> {STATS_PATH} ({STATS_PATH.stat().st_size // 1024} KB)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
