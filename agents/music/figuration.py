"""Passing notes in the lower voices of a four-part setting, where they add no fault.

Where an alto, tenor or bass note of a beat or more leaps a third to the next note in the
same bar, its second half becomes the scale step between (a passing note, as in Bach's
inner voices). Bars where the added notes would make a new voice-leading fault (checked with
:mod:`analysis_engine.voice_leading` through :mod:`agents.music.quality`), and the bar
before each, keep the plain notes.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.music.continuation import spell_in_key
from agents.music.quality import check_lines
from agents.music.tonal import Key, midi_of
from agents.music.view import Event, ScoreView

Cells = list[list[Event]]  # events per measure of one voice


def _passing(a: int, b: int, key: Key) -> int | None:
    step = 1 if b > a else -1
    inside = [m for m in range(a + step, b, step) if key.degree_of_pc(m % 12) is not None]
    return inside[0] if len(inside) == 1 else None


def _figured(cells: Cells, key: Key) -> Cells:
    out: Cells = []
    for cell in cells:
        new: list[Event] = []
        for index, event in enumerate(cell):
            following = cell[index + 1] if index + 1 < len(cell) else None
            if (
                following is not None
                and not event.fermata
                and event.duration >= 1
                and event.end == following.onset
                and event.pitches
                and following.pitches
            ):
                a, b = midi_of(event.pitches[0]), midi_of(following.pitches[0])
                middle = _passing(a, b, key) if 3 <= abs(b - a) <= 4 else None
                if middle is not None:
                    half = event.duration / 2
                    new.append(Event(event.onset, half, event.pitches))
                    new.append(Event(event.onset + half, half, (spell_in_key(middle, key),)))
                    continue
            new.append(event)
        out.append(new)
    return out


def add_passing_notes(
    view: ScoreView, soprano: Sequence[Sequence[Event]], lines: Sequence[Cells], key: Key
) -> list[Cells]:
    """The lower ``lines`` (alto, tenor, bass: events per measure) with passing notes,
    except in measures where they would add a voice-leading fault."""
    figured = [_figured(cells, key) for cells in lines]

    def faulty(voices: Sequence[Cells]) -> dict[str, int]:
        named = [("Soprano", soprano), *zip(("Alto", "Tenor", "Bass"), voices, strict=True)]
        counts: dict[str, int] = {}
        for issue in check_lines(view, named, vocal=True).issues:
            counts[issue["measure"]] = counts.get(issue["measure"], 0) + 1
        return counts

    plain_faults, figured_faults = faulty(lines), faulty(figured)
    worse = {m for m, n in figured_faults.items() if n > plain_faults.get(m, 0)}
    ids = [info.id for info in view.measures]
    worse |= {ids[i - 1] for i, m in enumerate(ids) if m in worse and i}  # a fault on a
    # downbeat can come from a passing note at the end of the bar before
    return [
        [plain[m] if info.id in worse else fig[m] for m, info in enumerate(view.measures)]
        for plain, fig in zip(lines, figured, strict=True)
    ]


def passing_count(before: Sequence[Cells], after: Sequence[Cells]) -> int:
    """How many notes the figuration added."""
    return sum(len(c) for cells in after for c in cells) - sum(
        len(c) for cells in before for c in cells
    )
