"""Write a standard MIDI file (type 1) straight from a decoded score, with ``mido``.

No music21 on the way: one conductor track (tempo, time and key signatures) and one track
per part (name, program, notes). Repeats are played out (an end repeat jumps back once to
the last start repeat, or to the beginning); tied notes sound as one; grace notes and
rests are silent. A note's velocity follows the part's latest dynamic. Ticks are 10080
per quarter note, so every tuplet up to 9 and its products lands on a tick.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from fractions import Fraction
from typing import TypeAlias

import mido

from score_model.document import MeasureSlot, ScoreData
from score_model.schema import KeySignature, Note, Tempo

__all__ = ["TICKS_PER_QUARTER", "midi_number", "play_order", "write_midi"]

# A meta message, or the bytes of a channel message.
Message: TypeAlias = "mido.MetaMessage | tuple[int, ...]"
TICKS_PER_QUARTER = 10080
DEFAULT_BPM = 120.0
DEFAULT_VELOCITY = 90
VELOCITIES = {
    "pppp": 8,
    "ppp": 20,
    "pp": 31,
    "p": 42,
    "mp": 53,
    "mf": 64,
    "f": 80,
    "ff": 96,
    "fff": 112,
    "ffff": 127,
    "sf": 100,
    "sfz": 100,
    "fp": 80,
}
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR_KEYS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR_KEYS = (
    "Abm",
    "Ebm",
    "Bbm",
    "Fm",
    "Cm",
    "Gm",
    "Dm",
    "Am",
    "Em",
    "Bm",
    "F#m",
    "C#m",
    "G#m",
    "D#m",
    "A#m",
)


def midi_number(name: str) -> int | None:
    """The MIDI key of a music21 pitch name (``F#5``, ``B-3``), or None out of range."""
    alter = name.count("#") - name.count("-")
    number = _STEPS[name[0]] + alter + 12 * (int(name[-1]) + 1)
    return number if 0 <= number <= 127 else None


def play_order(slots: list[MeasureSlot]) -> Iterator[tuple[MeasureSlot, Fraction]]:
    """Measures in the order they sound, each with its start in quarter notes: an end
    repeat sends the performance back once to the last start repeat (or the beginning)."""
    start, index, now = 0, 0, Fraction(0)
    repeated: set[int] = set()
    while index < len(slots):
        slot = slots[index]
        if slot.measure.repeat in ("start", "both") and index not in repeated:
            start = index
        yield slot, now
        now += slot.bar
        if slot.measure.repeat in ("end", "both") and index not in repeated:
            repeated.add(index)
            index = start
            continue
        index += 1


def write_midi(data: ScoreData) -> bytes:
    """The MIDI file's bytes for ``data``."""
    slots = data.layout()
    order = list(play_order(slots))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(_conductor(data, order))
    cells = data.notes_by_cell()
    channels = [c for c in range(16) if c != 9]
    for index, part in enumerate(data.parts):
        channel = channels[index % len(channels)]
        events: list[tuple[int, int, Message]] = []
        if part.program is not None:
            events.append((0, 0, (0xC0 | channel, part.program)))
        on, off = 0x90 | channel, 0x80 | channel
        for start, end, key, velocity in _sounding(order, cells, part.id):
            events.append((_tick(start), 2, (on, key, velocity)))
            events.append((_tick(end), 1, (off, key, 0)))
        track = _track(events)
        track.insert(0, mido.MetaMessage("track_name", name=part.name or f"Part {index + 1}"))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _tick(quarters: Fraction) -> int:
    return round(quarters * TICKS_PER_QUARTER)


def _track(events: list[tuple[int, int, Message]]) -> mido.MidiTrack:
    """A track from absolute (tick, order, message) events, where a message is a meta
    message or a channel message's bytes: note-offs before note-ons at the same tick, so
    a repeated key is released before it sounds again."""
    track = mido.MidiTrack()
    now = 0
    from_bytes = mido.Message.from_bytes  # checked bytes, far cheaper than keywords
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(message, tuple):
            track.append(from_bytes(message, time=tick - now))
        else:
            track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _conductor(data: ScoreData, order: list[tuple[MeasureSlot, Fraction]]) -> mido.MidiTrack:
    events: list[tuple[int, int, Message]] = []
    time, key, tempo = None, None, None
    first_tempo = data.meta.tempo or Tempo(DEFAULT_BPM)
    for slot, start in order:
        tick = _tick(start)
        if slot.time != time:
            numerator, denominator = slot.time.split("/")
            events.append(
                (
                    tick,
                    0,
                    mido.MetaMessage(
                        "time_signature", numerator=int(numerator), denominator=int(denominator)
                    ),
                )
            )
            time = slot.time
        if slot.key is not None and slot.key != key:
            events.append((tick, 0, mido.MetaMessage("key_signature", key=_key_name(slot.key))))
            key = slot.key
        mark = slot.tempo or first_tempo
        if mark != tempo:
            events.append((tick, 0, mido.MetaMessage("set_tempo", tempo=_micros(mark))))
            tempo = mark
    track = _track(events)
    track.insert(0, mido.MetaMessage("track_name", name=data.meta.title or ""))
    return track


def _key_name(key: KeySignature) -> str:
    fifths = max(-7, min(7, key.fifths))
    return (_MINOR_KEYS if key.mode == "minor" else _MAJOR_KEYS)[fifths + 7]


def _micros(mark: Tempo) -> int:
    quarters_per_minute = max(1e-3, mark.bpm * float(mark.beat))
    return min(0xFFFFFF, round(60_000_000 / quarters_per_minute))


def _sounding(
    order: list[tuple[MeasureSlot, Fraction]], cells: dict[tuple[str, str], list[Note]], part: str
) -> Iterator[tuple[Fraction, Fraction, int, int]]:
    """(start, end, key, velocity) of each sounding note of a part, tied notes merged."""
    velocity = DEFAULT_VELOCITY
    held: dict[tuple[int, int], tuple[Fraction, Fraction, int]] = {}  # (voice, key)
    for slot, start in order:
        notes = sorted(cells.get((slot.id, part), ()), key=lambda n: (n.onset, n.voice))
        for note in notes:
            if note.dynamic in VELOCITIES:
                velocity = VELOCITIES[note.dynamic or ""]
            if note.grace or not note.pitches:
                continue
            begin = start + note.onset
            end = begin + note.duration
            for index, name in enumerate(note.pitches):
                key = midi_number(name)
                if key is None:
                    continue
                tie = note.ties[index] if index < len(note.ties) else None
                slot_key = (note.voice, key)
                tied = (
                    _continue(held, slot_key, begin, key) if tie in ("stop", "continue") else None
                )
                if tied is not None:
                    begin_at, _, vel = tied
                else:
                    begin_at, vel = begin, velocity
                if tie in ("start", "continue"):
                    if slot_key in held:  # a tie that never stopped ends here
                        old_begin, old_end, old_vel = held[slot_key]
                        yield old_begin, old_end, key, old_vel
                    held[slot_key] = (begin_at, end, vel)
                else:
                    yield begin_at, end, key, vel
    for (_, key), (begin_at, end, vel) in held.items():  # ties that never stop sound too
        yield begin_at, end, key, vel


def _continue(
    held: dict[tuple[int, int], tuple[Fraction, Fraction, int]],
    slot_key: tuple[int, int],
    begin: Fraction,
    key: int,
) -> tuple[Fraction, Fraction, int] | None:
    """The held note this one continues: same key, same voice (else any voice), ending
    where this one starts."""
    found = held.pop(slot_key, None)
    if found is not None and found[1] == begin:
        return found
    if found is not None:
        held[slot_key] = found
    for other in [k for k in held if k[1] == key]:
        if held[other][1] == begin:
            return held.pop(other)
    return None
