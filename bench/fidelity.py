"""Round-trip fidelity of import and export on real pieces from music21's corpus.

Each piece is imported, exported (MusicXML, MXL, MIDI, JSON) and imported again; the
notes of the two documents are compared as multisets of rows. What a row holds is what
the format promises to keep (see ``docs/formats.md``):

- ``json``: every note whole, by id (and parts, measures, metadata, comments, chat);
- ``musicxml``, ``mxl``: (part index, measure index, voice, onset, duration, pitches,
  ties, grace, lyric, articulations, dynamic; since schema 3 staff, ornaments,
  fingerings, verses and clef changes; since schema 4 the tuplet groups (ratio, normal
  value, bracket, number, nesting) and, per measure, the chord symbols (part index,
  onset, root, kind, bass, text, degrees); slurs and hairpins are counted apart, by
  ``bench.fidelity_corpus``, as music21's reader loses some of them). Notes whose
  onset or duration is not a multiple of 1/10080 quarter (music21 writes 10080
  divisions per quarter) cannot be written exactly and are counted as
  ``unrepresentable``, outside the claim;
- ``midi``: sounding notes (part index, MIDI pitch, start from the first note, length),
  tied notes merged, rests and grace notes left out; MIDI plays repeats out, so pieces
  with repeat marks are not compared.

``added`` counts rows the round trip created (music21 fills gaps in voices and short
bars with rests when it writes MusicXML).

Run from the repository root: ``python -m bench.fidelity [--quick]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from score_model.document import ScoreData, ScoreDoc
from score_model.exporter import export_json, export_score
from score_model.importer import import_json, import_score
from score_model.limits import DEFAULT_LIMITS, ImportLimits

DIVISIONS = 10080  # music21's MusicXML divisions per quarter note
NOTATION_FORMATS = ("musicxml", "mxl")
ALL_FORMATS = ("json", "musicxml", "mxl", "midi")


@dataclass(frozen=True)
class Piece:
    """A corpus piece: its name and how to get its bytes and file name."""

    name: str
    load: Callable[[], tuple[bytes, str]]


@dataclass
class Result:
    """One piece through one format."""

    piece: str
    fmt: str
    compared: int
    matching: int
    added: int = 0
    unrepresentable: int = 0
    measures: int = 0
    measures_matching: int = 0
    note: str = ""
    after: ScoreData | None = field(default=None, repr=False, compare=False)  # re-imported

    @property
    def percent(self) -> float:
        return 100.0 * self.matching / self.compared if self.compared else 100.0


# --- the pieces --------------------------------------------------------------------------------


def _corpus_file(work: str) -> Callable[[], tuple[bytes, str]]:
    def load() -> tuple[bytes, str]:
        from music21 import corpus

        found = corpus.getWork(work)
        if isinstance(found, list):  # "bwv112.5" also matches "bwv112.5-sc"
            found = next((p for p in found if Path(p).name == Path(work).name), found[0])
        path = Path(str(found))
        return path.read_bytes(), path.name

    return load


def _abc_tune(book: str, index: int) -> Callable[[], tuple[bytes, str]]:
    """One tune (the ``index``-th, from 0) of an ABC book holding many."""

    def load() -> tuple[bytes, str]:
        data, _ = _corpus_file(book)()
        text = data.decode("utf-8", errors="replace")
        starts = [m.start() for m in re.finditer(r"^X:", text, re.M)]
        starts.append(len(text))
        return text[starts[index] : starts[index + 1]].encode(), f"tune{index}.abc"

    return load


def _midi_of(work: str) -> Callable[[], tuple[bytes, str]]:
    """A MIDI file written by music21 itself from a corpus piece (the corpus has none)."""

    def load() -> tuple[bytes, str]:
        from music21 import corpus
        from music21.midi import translate

        return bytes(translate.streamToMidiFile(corpus.parse(work)).writestr()), "piece.mid"

    return load


def bach_chorales(count: int) -> list[str]:
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith(".mxl"))
    return ["bach/" + Path(p).name for p in paths[:count]]


def pieces(chorales: int = 20) -> list[Piece]:
    """The benchmark set: Bach chorales, a string quartet movement, piano and song
    scores with several voices per staff, ABC folk tunes and MIDI files."""
    works = [
        *bach_chorales(chorales),
        "beethoven/opus59no2/movement1",
        "schumann_clara/opus17/movement3.xml",
        "mozart/k545/movement1_exposition.mxl",
        "joplin/maple_leaf_rag.mxl",
        "schumann_robert/dichterliebe_no2.xml",
        "schubert/Lindenbaum.xml",
    ]
    found = [Piece(w, _corpus_file(w)) for w in works]
    for book, count in (
        ("airdsAirs/book1.abc", 3),
        ("essenFolksong/altdeu10.abc", 2),
        ("miscFolk/americanfifeopus.abc", 2),
        ("oneills1850/0001-0050.abc", 1),
    ):
        found += [Piece(f"{book}#{i}", _abc_tune(book, i)) for i in range(count)]
    found += [Piece(f"{w}.mid", _midi_of(w)) for w in ("bach/bwv66.6", "bach/bwv1.6")]
    return found


# --- what each format keeps --------------------------------------------------------------------


def _indexes(data: ScoreData) -> tuple[dict[str, int], dict[str, int]]:
    return (
        {p.id: i for i, p in enumerate(data.parts)},
        {m.id: i for i, m in enumerate(data.measures)},
    )


def notation_rows(data: ScoreData) -> tuple[Counter[Hashable], int]:
    """Rows MusicXML keeps, and how many notes cannot be written exactly."""
    parts, measures = _indexes(data)
    rows: Counter[Hashable] = Counter()
    unrepresentable = 0
    for n in data.notes.values():
        if (n.onset * DIVISIONS).denominator != 1 or (n.duration * DIVISIONS).denominator != 1:
            unrepresentable += 1
            continue
        rows[
            (
                parts[n.part],
                measures[n.measure],
                n.voice,
                n.onset,
                n.duration,
                n.pitches,
                n.ties,
                n.grace,
                n.lyric,
                n.articulations,
                n.dynamic,
                n.staff,
                n.ornaments,
                n.fingerings,
                n.verses,
                n.clef,
                tuplet_shape(n),
            )
        ] += 1
    return rows, unrepresentable


def tuplet_shape(note: Any) -> tuple[tuple[object, ...], ...]:
    """A note's tuplet groups without their ids (which a round trip renumbers)."""
    return tuple((t.actual, t.normal, t.unit, t.bracket, t.number) for t in note.tuplets)


def chord_symbol_rows(data: ScoreData) -> list[tuple[object, ...]]:
    """Every chord symbol: measure index, part index, onset, root, kind, bass, text,
    degrees."""
    parts, _ = _indexes(data)
    return [
        (i, parts.get(c.part), c.onset, c.root, c.kind, c.bass, c.text, c.degrees)
        for i, m in enumerate(data.measures)
        for c in m.chord_symbols
    ]


_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_number(name: str) -> int:
    """MIDI key number of a schema pitch name (``C4`` is 60)."""
    octave_at = len(name) - 1 if not name.endswith("-1") else len(name) - 2
    accidental = name[1:octave_at]
    return (
        _STEPS[name[0]]
        + accidental.count("#")
        - accidental.count("-")
        + 12 * (int(name[octave_at:]) + 1)
    )


def sounding_rows(data: ScoreData) -> Counter[Hashable]:
    """Sounding notes: (part index, MIDI pitch, start from the first note, length)."""
    parts, _ = _indexes(data)
    starts = {slot.id: slot.offset for slot in data.layout()}
    events: list[list[Any]] = []  # part, pitch, start, end, tie
    for n in data.notes.values():
        if n.grace or not n.pitches or n.measure not in starts:
            continue
        start = starts[n.measure] + n.onset
        for index, name in enumerate(n.pitches):
            events.append(
                [parts[n.part], midi_number(name), start, start + n.duration, n.tie_of(index)]
            )
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    merged: list[list[Any]] = []
    for event in events:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last[:2] == event[:2]
            and last[4] in ("start", "continue")
            and last[3] == event[2]
        ):
            last[3], last[4] = event[3], event[4]
        else:
            merged.append(event)
    origin = min((e[2] for e in merged), default=Fraction(0))
    return Counter((e[0], e[1], e[2] - origin, e[3] - e[2]) for e in merged)


def on_midi_grid(data: ScoreData) -> bool:
    """Can MIDI keep this score's sounding notes exactly? Yes when it has no repeats and no
    grace notes, and every note starts and ends on music21's MIDI quantisation grid
    (sixteenths or eighth-note triplets)."""
    if any(m.repeat for m in data.measures):
        return False
    starts = {slot.id: slot.offset for slot in data.layout()}
    for n in data.notes.values():
        if n.grace:
            return False
        for moment in (starts[n.measure] + n.onset, starts[n.measure] + n.end):
            if (moment * 4).denominator != 1 and (moment * 3).denominator != 1:
                return False
    return True


def measure_rows(data: ScoreData) -> list[tuple[object, ...]]:
    parts, _ = _indexes(data)
    return [
        (
            m.time,
            m.key,
            m.tempo,
            m.barline,
            m.repeat,
            m.pickup,
            tuple(
                (parts.get(c.part), c.onset, c.root, c.kind, c.bass, c.text, c.degrees)
                for c in m.chord_symbols
            ),
        )
        for m in data.measures
    ]


# --- comparing ---------------------------------------------------------------------------------


def round_trip(
    original: ScoreDoc, fmt: str, name: str = "", limits: ImportLimits = DEFAULT_LIMITS
) -> Result:
    """Export ``original`` in ``fmt``, import it back (within ``limits``) and compare what
    the format keeps."""
    before = original.read()
    if fmt == "json":
        again = import_json(export_json(original))
        after = again.read()
        same = sum(1 for i, n in before.notes.items() if after.notes.get(i) == n)
        others = (
            before.parts == after.parts
            and before.measures == after.measures
            and before.meta == after.meta
            and str(original.comments) == str(again.comments)
            and str(original.chat) == str(again.chat)
        )
        return Result(
            name,
            fmt,
            len(before.notes),
            same if others else 0,
            added=len(after.notes) - same,
            measures=len(before.measures),
            measures_matching=len(after.measures) if others else 0,
        )
    exported = export_score(original, fmt)
    after = import_score(exported.data, f"piece.{exported.extension}", limits=limits).read()
    if fmt == "midi":
        if any(m.repeat for m in before.measures):
            return Result(name, fmt, 0, 0, note="repeats played out: not compared")
        a, b = sounding_rows(before), sounding_rows(after)
        return Result(
            name, fmt, sum(a.values()), sum((a & b).values()), added=sum((b - a).values())
        )
    (a, unrepresentable), (b, _) = notation_rows(before), notation_rows(after)
    ma, mb = measure_rows(before), measure_rows(after)
    return Result(
        name,
        fmt,
        sum(a.values()),
        sum((a & b).values()),
        added=sum((b - a).values()),
        unrepresentable=unrepresentable,
        measures=max(len(ma), len(mb)),
        measures_matching=sum(x == y for x, y in zip(ma, mb, strict=False)),
        after=after,
    )


def differences(original: ScoreDoc, fmt: str) -> tuple[list[object], list[object]]:
    """Rows lost and rows added by a round trip (for debugging a figure below 100%)."""
    exported = export_score(original, fmt)
    after = import_score(exported.data, f"piece.{exported.extension}").read()
    rows = sounding_rows if fmt == "midi" else (lambda d: notation_rows(d)[0])
    a, b = rows(original.read()), rows(after)
    return sorted((a - b).elements(), key=str), sorted((b - a).elements(), key=str)


# --- the table ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chorales", type=int, default=20)
    parser.add_argument("--formats", default=",".join(ALL_FORMATS))
    args = parser.parse_args(argv)
    formats = args.formats.split(",")
    totals: dict[str, list[int]] = {f: [0, 0, 0, 0] for f in formats}
    header = (
        f"{'piece':42} {'fmt':8} {'notes':>6} {'match':>6} {'%':>7} {'added':>6} "
        f"{'unrep':>6} {'bars ok':>9} {'s':>6}"
    )
    print(header)
    print("-" * len(header))
    for piece in pieces(args.chorales):
        data, filename = piece.load()
        original = import_score(data, filename)
        for fmt in formats:
            started = time.perf_counter()
            result = round_trip(original, fmt, piece.name)
            elapsed = time.perf_counter() - started
            total = totals[fmt]
            total[0] += result.compared
            total[1] += result.matching
            total[2] += result.added
            total[3] += result.unrepresentable
            percent = f"{result.percent:6.2f}%" if result.compared else "    n/a"
            bars = f"{result.measures_matching}/{result.measures}" if result.measures else ""
            print(
                f"{piece.name[:42]:42} {fmt:8} {result.compared:6} {result.matching:6} "
                f"{percent} {result.added:6} {result.unrepresentable:6} {bars:>9} "
                f"{elapsed:6.2f} {result.note}"
            )
            sys.stdout.flush()
    print("-" * len(header))
    for fmt, (compared, matching, added, unrepresentable) in totals.items():
        share = 100.0 * matching / compared if compared else 100.0
        print(
            f"{'TOTAL':42} {fmt:8} {compared:6} {matching:6} {share:6.2f}% {added:6} "
            f"{unrepresentable:6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
