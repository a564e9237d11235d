"""Four-part (SATB) harmonisation of a melody by dynamic programming over voicings.

1. The melody is cut into chord slots (:mod:`agents.music.slots`): one per beat, one
   per fermata note. Its home key, and the key of each measure (for the figures), come
   from the engine's key finding on the melody (:mod:`agents.music.keyplan`).
2. Each slot's states are all voicings (:mod:`agents.music.voicing`) of every chord that
   holds the melody note, from the home key's vocabulary
   (:mod:`agents.music.vocabulary`) and the chords Bach used over that scale degree in the
   learning chorales (:mod:`agents.music.model`), each with a cost: -log P(chord | the
   melody's scale degrees at the previous, this and the next slot), the cadence
   statistics at phrase ends, the tonic at the very end, and the sonority's own cost.
3. A transition cost between consecutive states adds -log P(chord | previous chord),
   a chord repeated onto a stronger beat, an unresolved dominant seventh, and voice
   leading: parallel fifths and octaves between any two voices (the melody's passing
   notes included) are forbidden; hidden fifths and octaves in the outer voices,
   overlaps, large or augmented leaps, an unresolved leading tone or seventh, a 6-4 not
   going to V, all voices moving the same way cost extra; small motion is cheap.
4. A Viterbi pass (numpy, one ``[previous, current]`` cost matrix per slot, the best
   ``BEAM`` partial paths kept) picks the cheapest sequence; ties break towards the
   earlier state, so the result is deterministic.

Chords are learned relative to the home key: a chorale's tonicisations appear as the
chromatic chords Bach used (V/V, V/vi...), which was more faithful to Bach than
harmonising each measure in a key found from the melody alone (``docs/agents-music.md``).
With ``learned=False`` the hand-set costs of the vocabulary are used, in each measure's key.

References: Kostka & Payne, "Tonal Harmony", ch. 5-9 (the rules); M. Allan and
C. Williams, "Harmonising chorales by probabilistic inference", NIPS 2004 (an HMM over
chords given the melody, Viterbi decoding); K. Ebcioglu, "An expert system for
harmonizing chorales in the style of J.S. Bach", J. Logic Programming 8, 1990.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np

from agents.music.figuration import add_passing_notes
from agents.music.keyplan import KeyPlan, key_plan
from agents.music.model import Stats, load_stats
from agents.music.slots import Slot, melody_context, melody_slots
from agents.music.tonal import Key, spell, spell_pc, spelled_of
from agents.music.view import Event, MusicResult, NewNote, PartWrite, ScoreView
from agents.music.vocabulary import Candidate, candidates, chromatic_fallback, from_id, picardy
from agents.music.voicing import Voicings, voicings
from analysis_engine.chords import QUALITY_INDEX
from analysis_engine.roman import figure

FORBIDDEN = 1000.0
MIN_COUNT = 2  # a learned chord must have been seen this often over the melody note
BEAM = 80  # best partial paths kept as predecessors of each slot
CHORDS = 10  # cheapest candidate chords per slot
VOICINGS = 20  # cheapest voicings per chord
W_EMISSION = 2.0  # weights of the learned costs against the voice-leading costs
W_TRANSITION = 1.0
W_CADENCE = 1.0
CONTEXT_STRENGTH = 4.0
_MOTION = {
    0: 0.9,
    5: 0.0,
    7: 0.6,
    2: 0.4,
    10: 1.4,
    8: 0.5,
    9: 0.5,
    3: 1.0,
    4: 1.0,
    6: 1.8,
    1: 1.5,
    11: 1.5,
}


@dataclass(frozen=True, slots=True)
class ChordChoice:
    """The chord chosen for one slot."""

    measure: str
    onset: Fraction
    duration: Fraction
    label: str  # figure in the local key: "V7", "ii", "V/V"
    key: str  # "G major"
    root: str  # "D"
    quality: str  # analysis_engine's quality name
    inversion: int
    pitches: tuple[str, ...]  # soprano, alto, tenor, bass at the slot's onset


@dataclass(frozen=True)
class Harmonisation:
    """A harmonisation: the notes to write, the chord per slot, the keys, the total cost
    of the chosen path and the time the search took."""

    result: MusicResult
    chords: tuple[ChordChoice, ...]
    keys: KeyPlan
    cost: float
    seconds: float


@dataclass(eq=False)
class _States:
    slot: Slot
    key: Key
    cands: list[Candidate]
    cand: np.ndarray
    v: np.ndarray  # [N, 4] MIDI of S, A, T, B
    roles: np.ndarray
    inversion: np.ndarray
    cost: np.ndarray

    def subset(self, rows: np.ndarray) -> _States:
        return _States(
            self.slot,
            self.key,
            self.cands,
            self.cand[rows],
            self.v[rows],
            self.roles[rows],
            self.inversion[rows],
            self.cost[rows],
        )


def harmonise(
    view: ScoreView,
    melody: str | int = 0,
    *,
    voice: int = 1,
    targets: Sequence[str | None] | None = None,
    keys: KeyPlan | None = None,
    learned: bool = True,
    passing: bool = False,
) -> Harmonisation:
    """Harmonise one voice of a part of ``view`` in four parts.

    ``targets`` are the part ids to write the alto, tenor and bass into (``None`` for a
    new part); by default parts of the view named Alto, Tenor and Bass, else new parts.
    ``keys`` overrides the key plan found from the melody; ``learned=False`` uses the
    hand-set chord costs of :mod:`agents.music.vocabulary` instead of the statistics
    learned from the chorales (:mod:`agents.music.model`). With ``passing``, the lower
    voices get passing notes where they add no fault (:mod:`agents.music.figuration`)."""
    started = time.perf_counter()
    line = view.part(melody)
    cells = line.voice(voice)
    plan = keys if keys is not None else key_plan(view, [cells])
    slots = melody_slots(view, cells)
    stats = load_stats() if learned else None
    home = plan.key
    keys_used = [home if stats is not None else plan.measures[s.measure] for s in slots]
    states = [
        _states(slot, key, stats, i == 0, melody_context(slots, i, home.tonic_pc))
        for i, (slot, key) in enumerate(zip(slots, keys_used, strict=True))
    ]
    path, total = _viterbi(states, stats)
    chords, lines = _realise(view, states, path, plan)
    if passing:
        lines = add_passing_notes(view, cells, lines, home)
    parts = _writes(view, lines, targets)
    result = MusicResult(
        parts,
        summary=_summary(chords, plan),
        details={
            "chords": [_chord_json(c) for c in chords],
            "key": plan.key.name,
            "cost": round(total, 3),
        },
    )
    return Harmonisation(result, tuple(chords), plan, total, time.perf_counter() - started)


# --- states ------------------------------------------------------------------------------


def _pool(slot: Slot, key: Key, stats: Stats | None) -> list[Candidate]:
    assert slot.soprano is not None
    pool = {c.id: c for c in candidates(key)}
    if slot.final and key.mode == "minor":
        pool.setdefault("0:major", picardy(key))
    if stats is not None:
        rel = (slot.soprano - key.tonic_pc) % 12
        for chord_id, count in stats.chords(key.mode, rel).items():
            if count >= MIN_COUNT and chord_id not in pool:
                cand = from_id(key, chord_id)
                if cand is not None:
                    pool[chord_id] = cand
    return [c for c in pool.values() if slot.soprano % 12 in c.chord.pcs]


def _prior(
    slot: Slot, key: Key, cand: Candidate, stats: Stats | None, first: bool, context: str
) -> float:
    if stats is None:
        return cand.cost + _slot_cost(slot, cand, first)
    assert slot.soprano is not None
    cost = W_EMISSION * stats.context_cost(
        key.mode, context, (slot.soprano - key.tonic_pc) % 12, cand.id, CONTEXT_STRENGTH
    )
    if slot.phrase_end:
        cost += W_CADENCE * stats.cadence_cost(key.mode, cand.id, slot.final)
    if slot.final and cand.rel != 0:
        cost += 15.0
    if first and cand.rel != 0:
        cost += 1.0
    return cost


def _states(slot: Slot, key: Key, stats: Stats | None, first: bool, context: str) -> _States | None:
    if slot.soprano is None:
        return None
    usable = _pool(slot, key, stats)
    if not usable:
        assert slot.name is not None
        usable = list(chromatic_fallback(key, slot.soprano % 12, spelled_of(slot.name)))
    priced = sorted(
        ((_prior(slot, key, c, stats, first, context), i, c) for i, c in enumerate(usable)),
        key=lambda x: (x[0], x[1]),
    )
    found: list[tuple[int, Candidate, Voicings, float]] = []
    for relaxed in (False, True):
        for prior, _, cand in priced:
            vs = voicings(cand, slot.soprano, slot.low, slot.high, key, slot.final, relaxed)
            if vs is not None:
                found.append((len(found), cand, vs.best(VOICINGS), prior))
            if len(found) == CHORDS:
                break
        if found:
            break
    if not found:
        return None
    cand_idx = np.concatenate([np.full(vs.size, i) for i, _, vs, _ in found])
    v = np.concatenate(
        [
            np.stack([np.full(vs.size, slot.soprano), vs.alto, vs.tenor, vs.bass], axis=1)
            for _, _, vs, _ in found
        ]
    )
    roles = np.concatenate([vs.roles for _, _, vs, _ in found])
    inversion = np.concatenate([vs.inversion for _, _, vs, _ in found])
    cost = np.concatenate([vs.cost + prior for _, _, vs, prior in found])
    cost = cost + np.where(inversion > 0, _inversion_slot_cost(slot), 0.0)
    return _States(slot, key, [c for _, c, _, _ in found], cand_idx, v, roles, inversion, cost)


def _slot_cost(slot: Slot, cand: Candidate, first: bool) -> float:
    label = cand.chord.label
    tonic = label in ("I", "i")
    cost = 0.0
    if slot.final:
        cost += 0.0 if tonic else 15.0
    elif slot.phrase_end:
        cost += 0.0 if tonic else 0.8 if label == "V" else 4.0
    if first:
        cost += 0.0 if tonic else 1.0 if label in ("V", "IV", "iv") else 2.5
    if slot.level == 0 and cand.function == "dominant" and not slot.phrase_end:
        cost += 0.3
    return cost


def _inversion_slot_cost(slot: Slot) -> float:
    return 15.0 if slot.final else 3.0 if slot.phrase_end else 0.0


# --- transitions -------------------------------------------------------------------------


def _learned_harmonic(prev: _States, cur: _States, stats: Stats) -> np.ndarray:
    out = np.zeros((len(prev.cands), len(cur.cands)))
    if prev.slot.phrase_end:
        return out
    tonic = cur.key.tonic_pc
    for i, p in enumerate(prev.cands):
        prev_id = f"{(p.chord.root_pc - tonic) % 12}:{p.chord.quality}"
        for j, c in enumerate(cur.cands):
            cost = W_TRANSITION * stats.transition_cost(cur.key.mode, prev_id, c.id)
            if c.chord == p.chord and cur.slot.level < prev.slot.level:
                cost += 1.0  # the same chord from a weak beat onto a stronger one
            if p.chord.quality == "dominant-seventh" and (
                c.chord.root_pc - p.chord.root_pc
            ) % 12 not in (5, 2, 0):
                cost += 2.0
            out[i, j] = cost
    return out


def _harmonic(prev: _States, cur: _States, stats: Stats | None) -> np.ndarray:
    """Progression cost between every pair of candidate chords."""
    if stats is not None:
        return _learned_harmonic(prev, cur, stats)
    out = np.zeros((len(prev.cands), len(cur.cands)))
    new_phrase = prev.slot.phrase_end
    for i, p in enumerate(prev.cands):
        for j, c in enumerate(cur.cands):
            if new_phrase:
                continue
            motion = (c.chord.root_pc - p.chord.root_pc) % 12
            same = motion == 0 and c.chord.quality == p.chord.quality
            cost = _MOTION[motion]
            if same and cur.slot.level < prev.slot.level:
                cost += 1.5  # the same chord from a weak beat onto a stronger one
            if p.function == "dominant" and c.function == "predominant":
                cost += 2.0
            if p.function == "dominant" and c.tonic_like and motion in (5, 2, 9):
                cost -= 0.3
            if p.chord.quality == "dominant-seventh" and motion not in (5, 2, 0):
                cost += 2.0
            if cur.slot.phrase_end and c.chord.label in ("I", "i"):
                cost += (
                    0.0 if p.function == "dominant" else 1.0 if p.function == "predominant" else 2.5
                )
            out[i, j] = cost
    return out


def _transition(prev: _States, cur: _States, stats: Stats | None) -> np.ndarray:
    P, C = prev.v, cur.v
    before_s = cur.slot.before
    cost = _harmonic(prev, cur, stats)[prev.cand[:, None], cur.cand[None, :]]
    pv = [np.full(len(P), before_s if before_s is not None else -1)] + [P[:, k] for k in (1, 2, 3)]
    d = [C[None, :, k] - pv[k][:, None] for k in range(4)]
    checked = [k for k in range(4) if k or before_s is not None]
    for u, w in combinations(checked, 2):
        same_way = d[u] * d[w] > 0
        a0 = np.abs(pv[u] - pv[w])[:, None] % 12
        a1 = np.abs(C[:, u] - C[:, w])[None, :] % 12
        cost += FORBIDDEN * (same_way & (a0 == a1) & ((a0 == 0) | (a0 == 7)))
    if before_s is not None:  # hidden fifths and octaves, outer voices
        a0 = np.abs(pv[0] - pv[3])[:, None] % 12
        a1 = np.abs(C[:, 0] - C[:, 3])[None, :] % 12
        hidden = (d[0] * d[3] > 0) & ((a1 == 0) | (a1 == 7)) & (a0 != a1) & (np.abs(d[0]) > 2)
        cost += 4.0 * hidden
        same = (
            (np.sign(d[0]) == np.sign(d[1]))
            & (np.sign(d[1]) == np.sign(d[2]))
            & (np.sign(d[2]) == np.sign(d[3]))
            & (d[0] != 0)
        )
        cost += 1.0 * same
    for u, w in ((0, 1), (1, 2), (2, 3)):  # overlap
        if u == 0 and before_s is None:
            continue
        lower_up = (d[w] != 0) & (C[None, :, w] > pv[u][:, None])
        upper_down = (d[u] != 0) & (C[None, :, u] < pv[w][:, None])
        cost += 6.0 * (lower_up | upper_down)
    for k, (step, leap, big) in (
        (1, (0.15, 1.5, 3.0)),
        (2, (0.15, 1.5, 3.0)),
        (3, (0.05, 0.0, 1.0)),
    ):
        size = np.abs(d[k])
        cost += step * size + leap * (size > 4) + big * ((size > 7) & (size != 12))
        cost += 3.0 * (size == 6) + 4.0 * (size > 12)
    cost += _resolutions(prev, cur, d)
    cost += _six_four(prev, cur)
    return cost


def _resolutions(prev: _States, cur: _States, d: list[np.ndarray]) -> np.ndarray:
    """Leading tones of dominant chords rise to a tonic; sevenths fall by step."""
    cost = np.zeros((len(prev.v), len(cur.v)))
    dominant = np.array([c.function == "dominant" for c in prev.cands])[prev.cand]
    tonic_like = np.array([c.tonic_like for c in cur.cands])[cur.cand]
    leading = prev.key.leading_tone_pc
    for k, weight in ((1, 1.0), (2, 1.0), (3, 2.5)):
        is_lt = dominant & (prev.v[:, k] % 12 == leading)
        cost += weight * (is_lt[:, None] & tonic_like[None, :] & (d[k] != 1))
        seventh = prev.roles[:, k] == 3
        cost += 3.0 * (seventh[:, None] & ((d[k] > 0) | (d[k] < -2)))
    return cost


def _six_four(prev: _States, cur: _States) -> np.ndarray:
    """A cadential 6-4 must go to V over the same bass."""
    six_four = prev.inversion == 2
    if not six_four.any():
        return np.zeros((len(prev.v), len(cur.v)))
    dominant = np.array([c.chord.label in ("V", "V7") for c in cur.cands])[cur.cand]
    same_bass = prev.v[:, 3][:, None] == cur.v[:, 3][None, :]
    good = six_four[:, None] & dominant[None, :] & same_bass & (cur.inversion == 0)[None, :]
    bad = six_four[:, None] & ~good
    return np.where(good, -4.0, 0.0) + np.where(bad, 5.0, 0.0)


def _viterbi(states: list[_States | None], stats: Stats | None) -> tuple[list[int], float]:
    path = [-1] * len(states)
    total = 0.0
    start = 0
    while start < len(states):
        if states[start] is None:
            start += 1
            continue
        stop = start
        while stop + 1 < len(states) and states[stop + 1] is not None:
            stop += 1
        first = states[start]
        assert first is not None
        score = first.cost.copy()
        back: list[np.ndarray] = []
        for i in range(start + 1, stop + 1):
            prev, cur = states[i - 1], states[i]
            assert prev is not None and cur is not None
            rows = np.argsort(score, kind="stable")[:BEAM]
            matrix = score[rows, None] + _transition(prev.subset(rows), cur, stats)
            best = matrix.argmin(axis=0)
            back.append(rows[best])
            score = matrix[best, np.arange(matrix.shape[1])] + cur.cost
        index = int(score.argmin())
        total += float(score[index])
        path[stop] = index
        for i in range(stop, start, -1):
            index = int(back[i - start - 1][index])
            path[i - 1] = index
        start = stop + 1
    return path, total


# --- output ------------------------------------------------------------------------------


def _realise(
    view: ScoreView, states: list[_States | None], path: list[int], plan: KeyPlan
) -> tuple[list[ChordChoice], list[list[list[Event]]]]:
    lines: list[list[list[Event]]] = [[[] for _ in view.measures] for _ in range(3)]
    chords: list[ChordChoice] = []
    previous: list[tuple[int, int, int] | None] = [None, None, None]  # (measure, chord, midi)
    for s, index in zip(states, path, strict=True):
        if s is None or index < 0:
            continue
        slot = s.slot
        cand = s.cands[int(s.cand[index])]
        members = cand.chord.members
        names = [slot.name or ""]
        for k in (1, 2, 3):
            midi = int(s.v[index, k])
            name = spell(midi, members[int(s.roles[index, k])])
            names.append(name)
            cell = lines[k - 1][slot.measure]
            key = (slot.measure, hash(cand.chord), midi)
            if previous[k - 1] == key and cell and cell[-1].end == slot.onset:
                last = cell[-1]
                cell[-1] = Event(last.onset, last.duration + slot.duration, last.pitches)
            else:
                cell.append(Event(slot.onset, slot.duration, (name,), fermata=slot.phrase_end))
            previous[k - 1] = key
        inversion = int(s.inversion[index])
        local = plan.measures[slot.measure]
        label = (
            figure(
                spell_pc(cand.chord.root),
                QUALITY_INDEX[cand.chord.quality],
                inversion,
                spell_pc(local.tonic),
                local.mode,
            )
            or cand.chord.label
        )
        chords.append(
            ChordChoice(
                view.measures[slot.measure].id,
                slot.onset,
                slot.duration,
                label,
                local.name,
                spell_pc(cand.chord.root),
                cand.chord.quality,
                inversion,
                tuple(names),
            )
        )
    return chords, lines


def _writes(
    view: ScoreView, lines: list[list[list[Event]]], targets: Sequence[str | None] | None
) -> tuple[PartWrite, ...]:
    names = ("Alto", "Tenor", "Bass")
    clefs = ("treble", "treble8vb", "bass")
    if targets is None:
        found = {p.name.lower(): p.part for p in view.parts}
        targets = [found.get(n.lower()) for n in names]
    out = []
    for name, clef, target, cells in zip(names, clefs, targets, lines, strict=True):
        notes = tuple(
            NewNote(
                info.id,
                e.onset,
                e.duration,
                e.pitches,
                articulations=("fermata",) if e.fermata else (),
            )
            for info, cell in zip(view.measures, cells, strict=True)
            for e in cell
        )
        out.append(PartWrite(target, notes, name=name, clef=clef))
    return tuple(out)


def _chord_json(c: ChordChoice) -> dict[str, Any]:
    return {
        "measure": c.measure,
        "onset": str(c.onset),
        "figure": c.label,
        "key": c.key,
        "root": c.root,
        "quality": c.quality,
        "inversion": c.inversion,
    }


def _summary(chords: list[ChordChoice], plan: KeyPlan) -> str:
    return f"Four-part harmonisation in {plan.key.name}: {len(chords)} chords"
