"""Passing notes in the lower voices: more motion, no new faults."""

from __future__ import annotations

from fractions import Fraction

from conftest import chorale_doc, chorale_view, harmonised

from agents.music.harmonise import harmonise
from agents.music.quality import check_data
from agents.music.tonal import midi_of
from agents.music.view import apply_result


def test_passing_notes_fill_thirds_by_step_without_faults(chorale: str) -> None:
    view = chorale_view(chorale)
    plain = harmonised(chorale)
    figured = harmonise(view, "Soprano", passing=True)
    assert figured.chords == plain.chords
    added = 0
    for before, after in zip(plain.result.parts, figured.result.parts, strict=True):
        added += len(after.notes) - len(before.notes)
        for info in view.measures:
            bar = [n for n in after.notes if n.measure == info.id]
            old = [n for n in before.notes if n.measure == info.id]
            assert sum((n.duration for n in bar), Fraction(0)) == sum(
                (n.duration for n in old), Fraction(0)
            )
        notes = list(after.notes)
        onsets = {(n.measure, n.onset) for n in before.notes}
        for prev, note, nxt in zip(notes, notes[1:], notes[2:], strict=False):
            if (note.measure, note.onset) not in onsets and note.measure == nxt.measure:
                a, b, c = (midi_of(n.pitches[0]) for n in (prev, note, nxt))
                assert 1 <= abs(b - a) <= 2 and 1 <= abs(c - b) <= 2 and (b - a) * (c - b) > 0
    assert added > 0
    score = chorale_doc(chorale)
    apply_result(score, figured.result)
    report = check_data(score.read(), vocal=True)
    assert report.parallels == 0 and report.counts["crossing"] == 0
