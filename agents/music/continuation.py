"""Melody continuation: new measures sampled from interval and rhythm statistics.

The statistics (:mod:`agents.music.learn`, from the soprano lines of the learning
chorales) give P(duration | time signature, position in the bar, previous duration),
P(interval | previous interval) and P(pitch class relative to the tonic | mode). Each new
note's duration is drawn among those that fit the bar; its pitch among the notes within
an octave of the previous one and inside the melody's range, weighted by the product of
the interval and scale-degree probabilities. The last note falls on a beat, fills the
bar and is the tonic (nearest the previous note). A ``random.Random(seed)`` drives every
draw, so the same input and seed always give the same melody.

Reference: a first-order Markov model of melody, as in D. Conklin and I. Witten,
"Multiple viewpoint systems for music prediction", J. New Music Research 24(1), 1995
(intervals, scale degrees and durations as separate viewpoints, multiplied).
"""

from __future__ import annotations

import random
from fractions import Fraction

from agents.music.keyplan import key_plan
from agents.music.model import Stats, load_stats
from agents.music.tonal import Key, midi_of, spell
from agents.music.view import APPENDED, MusicResult, NewNote, PartWrite, ScoreView
from analysis_engine.meter import meter_of
from analysis_engine.units import TPQ

FALLBACK_TIME = "4/4"


def spell_in_key(midi: int, key: Key) -> str:
    """A MIDI pitch spelled in a key: scale degrees (raised 6th and 7th in minor) with the
    scale's letters; other notes as the degree below raised, or for the lowered 2nd (and
    the 3rd, 6th and 7th in major) the degree above lowered."""
    rel = (midi - key.tonic_pc) % 12
    degree = key.degree_of_pc(midi % 12)
    if degree is None:
        flat = rel == 1 or (key.mode == "major" and rel in (3, 8, 10))
        degree = key.degree_of_pc((midi + 1) % 12 if flat else (midi - 1) % 12)
    if degree is None:
        degree = 0
    alter = (rel - key.scale[degree] + 6) % 12 - 6
    return spell(midi, key.degree(degree, alter))


def _choose(rng: random.Random, weights: dict[str, float]) -> str:
    items = sorted(weights.items())
    total = sum(w for _, w in items)
    pick = rng.random() * total
    for name, weight in items:
        pick -= weight
        if pick <= 0:
            return name
    return items[-1][0]


def _duration(
    rng: random.Random,
    stats: Stats,
    time: str,
    position: Fraction,
    previous: str,
    remaining: Fraction,
    beat: Fraction,
) -> Fraction:
    table = stats.melody["rhythm"].get(time) or stats.melody["rhythm"][FALLBACK_TIME]
    by_position = table.get(str(position), {})
    row = by_position.get(previous) or {}
    if not row:
        row = {}
        for counts in by_position.values():
            for d, n in counts.items():
                row[d] = row.get(d, 0) + n
    fitting = {d: float(n) for d, n in row.items() if Fraction(d) <= remaining}
    if not fitting:
        return min(remaining, beat - position % beat or beat)
    return Fraction(_choose(rng, fitting))


def _pitch(
    rng: random.Random,
    stats: Stats,
    key: Key,
    previous: int,
    last_interval: str,
    low: int,
    high: int,
) -> int:
    intervals = stats.melody["interval"].get(last_interval) or stats.melody["interval"]["start"]
    degrees = stats.melody["degree"][key.mode]
    weights: dict[str, float] = {}
    for midi in range(max(low, previous - 12), min(high, previous + 12) + 1):
        step = intervals.get(str(midi - previous), 0) + 0.1
        degree = degrees.get(str((midi - key.tonic_pc) % 12), 0) + 0.1
        weights[str(midi)] = step * degree
    if not weights:
        return previous
    total = sum(weights.values())
    return int(_choose(rng, {k: v / total for k, v in weights.items()}))


def continue_melody(
    view: ScoreView,
    part: str | int = 0,
    *,
    measures: int = 4,
    seed: int = 0,
    voice: int = 1,
    stats: Stats | None = None,
) -> MusicResult:
    """Continue one voice of a part for ``measures`` bars after its last note.

    Empty measures already in the view after the last note are filled first; further
    ones are appended (``"+1"``, ``"+2"``... in the result, see
    :func:`agents.music.view.apply_result`), with the last time signature."""
    stats = stats or load_stats()
    line = view.part(part)
    cells = line.voice(voice)
    notes = [(m, e) for m, cell in enumerate(cells) for e in cell if e.pitches]
    if not notes:
        raise ValueError("continue_melody needs at least one note to continue from")
    last_measure = notes[-1][0]
    plan = key_plan(view, [cells])
    key = plan.measures[last_measure]
    pitches = [midi_of(e.pitches[0]) for _, e in notes]
    low, high = min(pitches) - 2, max(pitches) + 2
    rng = random.Random(seed)
    previous, last_interval = pitches[-1], "start"
    if len(pitches) > 1:
        last_interval = str(max(-12, min(12, pitches[-1] - pitches[-2])))
    last_duration = str(notes[-1][1].duration)
    targets = [
        (view.measures[m].id, view.measures[m].time)
        for m in range(last_measure + 1, len(view.measures))
    ][:measures]
    time_sig = view.measures[-1].time
    targets += [(f"{APPENDED}{i + 1}", time_sig) for i in range(measures - len(targets))]
    out: list[NewNote] = []
    for index, (measure_id, time) in enumerate(targets):
        meter = meter_of(time)
        bar, beat = Fraction(meter.bar, TPQ), Fraction(meter.beat, TPQ)
        position = Fraction(0)
        final = index == len(targets) - 1
        while position < bar:
            remaining = bar - position
            if final and position % beat == 0 and remaining <= max(bar / 2, beat):
                tonic = min(
                    (p for p in range(low - 12, high + 13) if p % 12 == key.tonic_pc),
                    key=lambda p: (abs(p - previous), p),
                )
                out.append(
                    NewNote(
                        measure_id,
                        position,
                        remaining,
                        (spell_in_key(tonic, key),),
                        voice,
                        articulations=("fermata",),
                    )
                )
                break
            duration = _duration(rng, stats, time, position, last_duration, remaining, beat)
            midi = _pitch(rng, stats, key, previous, last_interval, low, high)
            out.append(NewNote(measure_id, position, duration, (spell_in_key(midi, key),), voice))
            last_interval = str(max(-12, min(12, midi - previous)))
            previous, last_duration = midi, str(duration)
            position += duration
    write = PartWrite(line.part, tuple(out), name=line.name)
    return MusicResult(
        (write,),
        summary=f"Continued the melody for {len(targets)} bars in {key.name} (seed {seed})",
        details={"key": key.name, "seed": seed},
    )
