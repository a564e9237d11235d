"""Four-part harmonisation of chorale melodies from music21's corpus."""

from __future__ import annotations

from fractions import Fraction

from conftest import chorale_doc, chorale_view, harmonised

from agents.music.harmonise import harmonise
from agents.music.quality import check_data
from agents.music.tonal import midi_of
from agents.music.view import apply_result, extract_view
from analysis_engine import build_table, run
from analysis_engine.voice_leading import RANGES
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.schema import KeySignature


def test_no_parallels_crossings_spacing_or_range_faults(chorale: str) -> None:
    score = chorale_doc(chorale)
    h = harmonised(chorale)
    apply_result(score, h.result)
    report = check_data(score.read(), vocal=True)
    assert report.counts["parallel_fifths"] == 0
    assert report.counts["parallel_octaves"] == 0
    assert report.counts["crossing"] == 0 and report.counts["spacing"] == 0
    assert report.counts["range"] == 0  # both melodies lie inside the soprano range


def test_written_voices_stay_in_their_ranges_and_hold_the_chord(chorale: str) -> None:
    h = harmonised(chorale)
    for write, role in zip(h.result.parts, ("alto", "tenor", "bass"), strict=True):
        low, high = RANGES[role]
        assert write.notes and all(low <= midi_of(n.pitches[0]) <= high for n in write.notes)
    for choice in h.chords:
        s, a, t, b = (midi_of(p) for p in choice.pitches)
        assert s >= a >= t >= b and s - a <= 12 and a - t <= 12
        assert midi_of(choice.root + "4") % 12 in {s % 12, a % 12, t % 12, b % 12}


def test_each_voice_fills_every_bar_the_melody_fills(chorale: str) -> None:
    view = chorale_view(chorale)
    h = harmonised(chorale)
    soprano = view.part("Soprano").voice(1)
    for write in h.result.parts:
        for info, cell in zip(view.measures, soprano, strict=True):
            sung = sum((e.duration for e in cell if e.pitches), Fraction(0))
            written = sum((n.duration for n in write.notes if n.measure == info.id), Fraction(0))
            assert written == sung, (write.name, info.number)


def test_ends_on_the_tonic_in_root_position_with_cadences_at_fermatas(chorale: str) -> None:
    h = harmonised(chorale)
    last = h.chords[-1]
    assert last.inversion == 0
    assert midi_of(last.root + "4") % 12 == h.keys.key.tonic_pc
    view = chorale_view(chorale)
    fermata_slots = {
        (info.id, e.onset)
        for info, cell in zip(view.measures, view.part("Soprano").voice(1), strict=True)
        for e in cell
        if e.fermata
    }
    at_fermatas = [c for c in h.chords if (c.measure, c.onset) in fermata_slots]
    assert len(at_fermatas) == len(fermata_slots)
    assert sum(c.inversion == 0 for c in at_fermatas) >= len(at_fermatas) - 1


def test_deterministic_and_fast(chorale: str) -> None:
    view = chorale_view(chorale)
    first, second = harmonise(view, "Soprano"), harmonise(view, "Soprano")
    assert first.result == second.result and first.chords == second.chords
    assert second.seconds < 1.0


def test_round_trip_through_the_document(chorale: str) -> None:
    score = chorale_doc(chorale)
    h = harmonised(chorale)
    apply_result(score, h.result)
    view = extract_view(score)
    for write in h.result.parts:
        assert write.part is not None  # the chorale's own Alto, Tenor and Bass
        line = view.part(write.part)
        written = [
            (info.id, e.onset, e.duration, e.pitches)
            for info, cell in zip(view.measures, line.measures, strict=True)
            for e in cell
        ]
        assert written == [(n.measure, n.onset, n.duration, n.pitches) for n in write.notes]


def test_into_new_parts_and_with_hand_set_costs() -> None:
    view = extract_view(chorale_doc("bwv177.4"), parts=["Soprano"])
    h = harmonise(view, "Soprano", learned=False)
    assert [w.part for w in h.result.parts] == [None, None, None]
    assert [w.name for w in h.result.parts] == ["Alto", "Tenor", "Bass"]
    score = chorale_doc("bwv177.4")
    written = apply_result(score, h.result)
    assert len(written["parts"]) == 3
    lines = [line.name for line in extract_view(score).parts]
    assert lines[-3:] == ["Alto", "Tenor", "Bass"]


def _melody(
    time: str,
    notes: list[tuple[int, Fraction, Fraction, list[str]]],
    measures: int,
    pickup: bool = False,
) -> ScoreDoc:
    score = ScoreDoc()
    editor = ScoreEditor(score)
    ids = editor.create_score(parts=["Melody"], measures=measures, time=time, key=KeySignature(-1))
    if pickup:
        editor.set_pickup(ids["measures"][0], True)
    for m, onset, duration, pitches in notes:
        editor.add_note(ids["measures"][m], ids["parts"][0], onset, duration, pitches)
    return score


def test_compound_metre_pickup_and_rests() -> None:
    half, three_halves = Fraction(1, 2), Fraction(3, 2)
    score = _melody(
        "6/8",
        [
            (0, Fraction(0), half, ["C5"]),
            (1, Fraction(0), three_halves, ["F5"]),
            (1, three_halves, half, ["E5"]),
            (1, Fraction(2), half, ["D5"]),
            (1, Fraction(5, 2), half, ["C5"]),
            (2, Fraction(0), three_halves, []),
            (2, three_halves, three_halves, ["A4"]),
            (3, Fraction(0), Fraction(3), ["F4"]),
        ],
        measures=4,
        pickup=True,
    )
    h = harmonise(extract_view(score), "Melody")
    onsets = [(c.measure, c.onset) for c in h.chords]
    view = extract_view(score)
    ids = [m.id for m in view.measures]
    assert onsets == [(ids[1], 0), (ids[1], three_halves), (ids[2], three_halves), (ids[3], 0)]
    assert h.chords[-1].label == "I" and h.chords[-1].key == "F major"
    apply_result(score, h.result)
    assert check_data(score.read(), vocal=True).parallels == 0


def test_a_melody_above_the_soprano_range_is_still_harmonised() -> None:
    score = _melody(
        "4/4",
        [
            (0, Fraction(0), Fraction(2), ["D6"]),
            (0, Fraction(2), Fraction(2), ["E6"]),
            (1, Fraction(0), Fraction(4), ["C6"]),
        ],
        measures=2,
    )
    h = harmonise(extract_view(score), "Melody")
    assert len(h.chords) == 5
    assert all(midi_of(c.pitches[0]) > midi_of(c.pitches[1]) for c in h.chords)


def _labels(score: ScoreDoc) -> dict[tuple[str, Fraction], tuple[int, str | None]]:
    slices = run("harmony", build_table(score.read()))["result"]["slices"]
    return {
        (s["measure"], Fraction(s["onset"])): (midi_of(s["root"] + "4") % 12, s["quality"])
        for s in slices
    }


def _at(
    labels: dict[tuple[str, Fraction], tuple[int, str | None]], measure: str, onset: Fraction
) -> tuple[int, str | None] | None:
    starts = [o for m, o in labels if m == measure and o <= onset]
    return labels[(measure, max(starts))] if starts else None


def test_agrees_with_bach_on_most_roots(chorale: str) -> None:
    """The engine labels both settings; the bench measures this over 41 chorales."""
    ours = chorale_doc(chorale)
    h = harmonised(chorale)
    apply_result(ours, h.result)
    bach_labels, our_labels = _labels(chorale_doc(chorale)), _labels(ours)
    roots = sum(
        1
        for c in h.chords
        if (a := _at(our_labels, c.measure, c.onset)) is not None
        and (b := _at(bach_labels, c.measure, c.onset)) is not None
        and a[0] == b[0]
    )
    assert roots / len(h.chords) >= 0.5
