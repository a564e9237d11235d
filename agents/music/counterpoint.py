"""A bass line or a countermelody against a melody, by species-counterpoint rules.

First species: one note per chord slot (:mod:`agents.music.slots`), chosen by dynamic
programming over every pitch of the voice's range:

- every note is consonant with the melody note it sounds against (unison, third, fifth,
  sixth, octave and compounds; a fourth above a bass is a dissonance), and, when a
  harmony is given (the chords of :func:`agents.music.harmonise.harmonise`, or any
  ``(measure id, onset) -> pitch classes`` map), one of its chord tones; the bass prefers
  the chord's root;
- no parallel fifths or octaves with the melody (its passing notes included), no
  crossing it; hidden fifths and octaves cost extra;
- start on a perfect consonance over the tonic, end on the tonic approached by step (a
  countermelody) or by the dominant's fifth fall (a bass);
- contrary motion and imperfect consonances are preferred, steps are cheap, leaps cost
  more and must turn back afterwards, no augmented or larger-than-octave leaps, few
  repeated notes.

With ``species=2`` a leap of a third between two slots of a beat or more is filled by a
passing note on the half slot, where it makes no new parallel.

Reference: J. J. Fux, "Gradus ad Parnassum" (1725), trans. A. Mann, "The Study of
Counterpoint", Norton 1965; Kostka & Payne, "Tonal Harmony", ch. 6 (the two outer voices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from agents.music.continuation import spell_in_key
from agents.music.harmonise import ChordChoice
from agents.music.keyplan import key_plan
from agents.music.quality import check_lines
from agents.music.slots import Slot, melody_slots
from agents.music.tonal import Key, midi_of
from agents.music.view import Event, MusicResult, NewNote, PartWrite, ScoreView
from analysis_engine.voice_leading import RANGES

CONSONANT = {0, 3, 4, 7, 8, 9}
PERFECT = {0, 7}
FORBIDDEN = 1000.0
Harmony = Mapping[tuple[str, Fraction], tuple[int, frozenset[int]]]


def harmony_of(
    chords: Sequence[ChordChoice],
) -> dict[tuple[str, Fraction], tuple[int, frozenset[int]]]:
    """Root and pitch classes of each chosen chord, by (measure id, onset)."""
    return {
        (c.measure, c.onset): (
            midi_of(c.root + "4") % 12,
            frozenset(midi_of(p) % 12 for p in c.pitches),
        )
        for c in chords
    }


def _candidates(
    slot: Slot, low: int, high: int, key: Key, chord: tuple[int, frozenset[int]] | None, bass: bool
) -> list[tuple[int, float]]:
    assert slot.soprano is not None
    out = []
    for midi in range(low, min(high, slot.low - 1) + 1):
        interval = (slot.soprano - midi) % 12
        if interval not in CONSONANT:
            continue
        cost = 0.0
        if chord is not None:
            if midi % 12 not in chord[1]:
                continue
            if bass and midi % 12 != chord[0]:
                cost += 0.8
        elif key.degree_of_pc(midi % 12) is None:
            cost += 3.0
        if interval in PERFECT:
            cost += 0.5
        if bass and interval in (8, 9) and chord is None:
            cost += 0.6  # a sixth above the bass: the chord is inverted
        if slot.soprano - midi > 24:
            cost += 1.0
        out.append((midi, cost))
    return out


def _step(prev: int, cur: int, prev_slot: Slot, slot: Slot, bass: bool, leap_before: int) -> float:
    cost = 0.0
    move = cur - prev
    size = abs(move)
    if size > 12 or size == 6:
        return FORBIDDEN
    if size == 0:
        cost += 1.0
    elif size <= 2:
        cost += 0.0
    elif size <= 4:
        cost += 0.6
    else:
        cost += 1.5 + (0.5 if not bass else 0.0)
    if abs(leap_before) > 4 and (move == 0 or (move > 0) == (leap_before > 0)):
        cost += 1.5  # a leap should turn back
    before = slot.before
    if before is not None:
        upper = slot.soprano
        assert upper is not None
        up_move = upper - before
        a0, a1 = abs(before - prev) % 12, abs(upper - cur) % 12
        if up_move * move > 0:
            if a0 == a1 and a0 in PERFECT:
                return FORBIDDEN
            if a1 in PERFECT and abs(up_move) > 2:
                cost += 4.0
            cost += 0.3
        elif up_move * move < 0:
            cost -= 0.5
    return cost


def counterpoint(
    view: ScoreView,
    melody: str | int = 0,
    *,
    voice: int = 1,
    role: str = "bass",
    species: int = 1,
    harmony: Harmony | Sequence[ChordChoice] | None = None,
    target: str | None = None,
    name: str | None = None,
) -> MusicResult:
    """A ``bass`` or a ``countermelody`` (below the melody, in the tenor's range) against
    one voice of a part. ``target`` is a part id to write into (``None``: a new part)."""
    if role not in ("bass", "countermelody"):
        raise ValueError("role must be 'bass' or 'countermelody'")
    if species not in (1, 2):
        raise ValueError("species must be 1 or 2")
    chords: Harmony | None = harmony_of(harmony) if isinstance(harmony, Sequence) else harmony
    cells = view.part(melody).voice(voice)
    plan = key_plan(view, [cells])
    slots = melody_slots(view, cells)
    bass = role == "bass"
    low, high = RANGES["bass" if bass else "tenor"]
    chosen = _search(view, slots, plan.measures, plan.key, low, high, chords, bass)
    notes = _notes(view, slots, chosen, plan.measures, 1)
    if species == 2:
        notes = _safe_passing(view, cells, notes, _notes(view, slots, chosen, plan.measures, 2))
    label = name or ("Bass" if bass else "Countermelody")
    write = PartWrite(target, tuple(notes), name=label, clef="bass" if bass else "treble8vb")
    return MusicResult(
        (write,),
        summary=f"{label} in {plan.key.name}, species {species}",
        details={"key": plan.key.name, "role": role, "species": species},
    )


def _search(
    view: ScoreView,
    slots: list[Slot],
    keys: Sequence[Key],
    home: Key,
    low: int,
    high: int,
    chords: Harmony | None,
    bass: bool,
) -> list[int | None]:
    chosen: list[int | None] = [None] * len(slots)
    run: list[int] = []
    end = Slot(0, Fraction(0), Fraction(0), None, None, 0, 0, None, 0, False)
    for i, slot in enumerate([*slots, end]):
        if slot.soprano is not None:
            run.append(i)
            continue
        if run:
            for index, midi in zip(
                run,
                _dp(view, [slots[j] for j in run], keys, home, low, high, chords, bass),
                strict=True,
            ):
                chosen[index] = midi
        run = []
    return chosen


def _dp(
    view: ScoreView,
    slots: list[Slot],
    keys: Sequence[Key],
    home: Key,
    low: int,
    high: int,
    chords: Harmony | None,
    bass: bool,
) -> list[int | None]:
    layers = []
    for index, slot in enumerate(slots):
        key = keys[slot.measure]
        chord = None if chords is None else chords.get((view.measures[slot.measure].id, slot.onset))
        cands = _candidates(slot, low, high, key, chord, bass)
        if index == 0 or index == len(slots) - 1:
            cands = [(m, c + (0.0 if m % 12 == home.tonic_pc else 6.0)) for m, c in cands]
        if not cands:
            cands = [(low, FORBIDDEN)]
        layers.append(cands)
    # state: (pitch, leap into it) -> (cost, back pointer)
    best: list[dict[tuple[int, int], tuple[float, tuple[int, int] | None]]] = [
        {(m, 0): (c, None) for m, c in layers[0]}
    ]
    for i in range(1, len(layers)):
        row: dict[tuple[int, int], tuple[float, tuple[int, int] | None]] = {}
        for m, c in layers[i]:
            for (p, leap), (total, _) in best[-1].items():
                cost = total + c + _step(p, m, slots[i - 1], slots[i], bass, leap)
                if i == len(layers) - 1:
                    cost += _ending(p, m, home, bass)
                state = (m, m - p)
                if state not in row or cost < row[state][0]:
                    row[state] = (cost, (p, leap))
        best.append(row)
    state = min(best[-1], key=lambda s: (best[-1][s][0], s))
    path: list[int | None] = []
    for i in range(len(best) - 1, -1, -1):
        path.append(state[0])
        back = best[i][state][1]
        if back is not None:
            state = back
    return path[::-1]


def _ending(prev: int, cur: int, key: Key, bass: bool) -> float:
    if bass:
        return 0.0 if (prev - key.tonic_pc) % 12 == 7 else 2.0
    return 0.0 if 1 <= abs(cur - prev) <= 2 else 2.0


def _notes(
    view: ScoreView, slots: list[Slot], chosen: list[int | None], keys: Sequence[Key], species: int
) -> list[NewNote]:
    notes: list[NewNote] = []
    for i, (slot, midi) in enumerate(zip(slots, chosen, strict=True)):
        if midi is None:
            continue
        key = keys[slot.measure]
        measure = view.measures[slot.measure].id
        nxt = chosen[i + 1] if i + 1 < len(chosen) else None
        half = slot.duration / 2
        if (
            species == 2
            and nxt is not None
            and 3 <= abs(nxt - midi) <= 4
            and slot.duration >= 1
            and not slot.phrase_end
        ):
            passing = _passing(midi, nxt, key)
            if passing is not None:
                notes.append(NewNote(measure, slot.onset, half, (spell_in_key(midi, key),)))
                notes.append(
                    NewNote(measure, slot.onset + half, half, (spell_in_key(passing, key),))
                )
                continue
        notes.append(
            NewNote(
                measure,
                slot.onset,
                slot.duration,
                (spell_in_key(midi, key),),
                articulations=("fermata",) if slot.phrase_end else (),
            )
        )
    return notes


def _safe_passing(
    view: ScoreView, melody: Sequence[Sequence[Event]], plain: list[NewNote], florid: list[NewNote]
) -> list[NewNote]:
    """The florid line, except in measures where its passing notes add a fault."""

    def check(notes: list[NewNote]) -> set[str]:
        cells = [
            [Event(n.onset, n.duration, n.pitches) for n in notes if n.measure == m.id]
            for m in view.measures
        ]
        report = check_lines(view, [("melody", melody), ("counterpoint", cells)], vocal=False)
        return {i["measure"] for i in report.issues}

    bad = check(florid) - check(plain)
    return [n for n in florid if n.measure not in bad] + [n for n in plain if n.measure in bad]


def _passing(a: int, b: int, key: Key) -> int | None:
    step = 1 if b > a else -1
    for midi in range(a + step, b, step):
        if key.degree_of_pc(midi % 12) is not None:
            return midi
    return None
