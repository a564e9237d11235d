"""Where a melody needs chords: one slot per beat, held through fermatas and the last note.

A slot is a span of the melody that one chord harmonises: normally a beat of the metre
(``analysis_engine.meter``: a quarter in 4/4 and 3/4, a dotted quarter in 6/8), so
melody notes between beats are passing notes over the held chord. A note with a fermata
(or, in a melody without fermatas, a long note before a rest or the end) ends a phrase:
its whole length is one slot, and the harmoniser puts a cadence there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from agents.music.tonal import midi_of
from agents.music.view import Event, ScoreView
from analysis_engine.meter import meter_of
from analysis_engine.units import TPQ


@dataclass(frozen=True, slots=True)
class Slot:
    """One chord's span: measure index, onset and duration in it, and the melody there
    (MIDI at the onset, lowest and highest pitch while it lasts, the pitch sounding just
    before it or ``None`` after a rest), metrical level (0 downbeat), phrase end, final."""

    measure: int
    onset: Fraction
    duration: Fraction
    soprano: int | None
    name: str | None
    low: int
    high: int
    before: int | None
    level: int
    phrase_end: bool
    final: bool = False


@dataclass(frozen=True, slots=True)
class _Note:
    start: Fraction
    end: Fraction
    midi: int
    name: str
    fermata: bool


def _flatten(
    view: ScoreView, cells: Sequence[Sequence[Event]]
) -> tuple[list[_Note], list[Fraction]]:
    offsets: list[Fraction] = []
    offset = Fraction(0)
    notes: list[_Note] = []
    for info, cell in zip(view.measures, cells, strict=True):
        offsets.append(offset)
        for event in cell:
            if event.pitches:
                top = max(event.pitches, key=midi_of)
                notes.append(
                    _Note(
                        offset + event.onset, offset + event.end, midi_of(top), top, event.fermata
                    )
                )
        offset += info.length
    offsets.append(offset)
    notes.sort(key=lambda n: n.start)
    return notes, offsets


def _phrase_ends(notes: list[_Note], beat: Fraction) -> set[int]:
    if any(n.fermata for n in notes):
        return {i for i, n in enumerate(notes) if n.fermata} | {len(notes) - 1}
    ends = {len(notes) - 1} if notes else set()
    for i, note in enumerate(notes[:-1]):
        long = note.end - note.start >= 2 * beat
        if long and (
            notes[i + 1].start > note.end
            or (i > 0 and note.end - note.start >= 2 * (notes[i - 1].end - notes[i - 1].start))
        ):
            ends.add(i)
    return ends


def melody_slots(view: ScoreView, cells: Sequence[Sequence[Event]]) -> list[Slot]:
    """The chord slots of a melody (its events per measure of the view)."""
    notes, offsets = _flatten(view, cells)
    if not notes:
        return []
    main_beat = Fraction(meter_of(view.measures[0].time).beat, TPQ)
    ends = _phrase_ends(notes, main_beat)
    slots: list[Slot] = []
    n = 0  # index of the first note not ending before the current time
    for m, info in enumerate(view.measures):
        meter = meter_of(info.time)
        beat = Fraction(meter.beat, TPQ)
        start, stop = offsets[m], offsets[m + 1]
        first = (-info.phase) % beat
        times = []
        t = start + first
        while t < stop:
            times.append(t)
            t += beat
        held_until = (
            slots[-1].onset + offsets[slots[-1].measure] + slots[-1].duration
            if slots
            else Fraction(-1)
        )
        for index, t in enumerate(times):
            if t < held_until:
                continue
            while n < len(notes) and notes[n].end <= t:
                n += 1
            end = times[index + 1] if index + 1 < len(times) else stop
            sounding = n if n < len(notes) and notes[n].start <= t else None
            if sounding is not None and sounding in ends:
                end = max(end, min(notes[sounding].end, stop))
            inside = [x for x in notes[n:] if x.start < end and x.end > t]
            before = next(
                (x.midi for x in reversed(notes[: n + 1]) if x.start < t and x.end == t), None
            )
            if before is None and sounding is not None and notes[sounding].start < t:
                before = notes[sounding].midi
            level = meter.strength(int((t - start + info.phase) * TPQ))
            if sounding is None:
                slots.append(Slot(m, t - start, end - t, None, None, 0, 0, None, level, False))
                continue
            note = notes[sounding]
            slots.append(
                Slot(
                    m,
                    t - start,
                    end - t,
                    note.midi,
                    note.name,
                    min(x.midi for x in inside),
                    max(x.midi for x in inside),
                    before,
                    level,
                    sounding in ends,
                )
            )
            held_until = end
    for i in range(len(slots) - 1, -1, -1):
        if slots[i].soprano is not None:
            s = slots[i]
            slots[i] = Slot(
                s.measure,
                s.onset,
                s.duration,
                s.soprano,
                s.name,
                s.low,
                s.high,
                s.before,
                s.level,
                True,
                True,
            )
            break
    return slots


def melody_context(slots: Sequence[Slot], index: int, tonic: int) -> str:
    """``"4|2>0"``: the melody's pitch class (relative to the tonic) at slots ``index - 1``,
    ``index`` and ``index + 1`` (``x`` for none), with a phrase end written ``|``."""

    def rel(i: int) -> str:
        if 0 <= i < len(slots) and slots[i].soprano is not None:
            return str((slots[i].soprano - tonic) % 12)  # type: ignore[operator]
        return "x"

    slot = slots[index]
    before = "x" if index and slots[index - 1].phrase_end else rel(index - 1)
    after = "x" if slot.phrase_end else rel(index + 1)
    return f"{before}>{rel(index)}>{after}"
