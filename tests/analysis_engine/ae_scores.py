"""Small hand-made scores for the analysis tests, built through ScoreEditor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analysis_engine import AnalysisContext, build_table, run
from analysis_engine.units import parse_pitch
from persistence.documents.store import DocumentStore
from score_model.document import ScoreData, ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.schema import KeySignature

# (measure index, part index, onset, duration, pitches[, fields])
NoteSpec = tuple[Any, ...]


@dataclass
class Built:
    doc: ScoreDoc
    editor: ScoreEditor
    parts: list[str]
    measures: list[str]
    notes: list[str]

    def data(self) -> ScoreData:
        return self.doc.read()

    def context(self, **settings: Any) -> AnalysisContext:
        from analysis_engine import AnalysisSettings

        return AnalysisContext(build_table(self.data()), AnalysisSettings(**settings))

    def result(self, name: str, **settings: Any) -> dict[str, Any]:
        return run(name, self.context(**settings), version="test")["result"]


def build(
    parts: Sequence[str],
    measures: int,
    notes: Sequence[NoteSpec],
    *,
    time: str = "4/4",
    key: KeySignature | None = None,
) -> Built:
    doc = ScoreDoc()
    editor = ScoreEditor(doc)
    ids = editor.create_score(parts=list(parts), measures=measures, time=time, key=key)
    note_ids = []
    with editor.batch():
        for spec in notes:
            m, p, onset, duration, pitches = spec[:5]
            fields = spec[5] if len(spec) > 5 else {}
            note_ids.append(
                editor.add_note(
                    ids["measures"][m], ids["parts"][p], onset, duration, pitches, **fields
                )
            )
    return Built(doc, editor, ids["parts"], ids["measures"], note_ids)


def chorale(
    chords: Sequence[Sequence[str]],
    *,
    beats_per_chord: int = 1,
    time: str = "4/4",
    key: KeySignature | None = None,
    names: Sequence[str] = ("Soprano", "Alto", "Tenor", "Bass"),
) -> Built:
    """Four voices, one chord (bass first, soprano last) per beat."""
    bar = int(time.split("/")[0]) * 4 // int(time.split("/")[1])
    per_bar = bar // beats_per_chord
    measures = -(-len(chords) // per_bar)
    notes: list[NoteSpec] = []
    for index, chord in enumerate(chords):
        m, position = divmod(index, per_bar)
        for voice, pitch in enumerate(reversed(chord)):
            notes.append((m, voice, position * beats_per_chord, beats_per_chord, [pitch]))
    return build(names, measures, notes, time=time, key=key)


def satb(chords: Sequence[tuple[int, Any, Any, Sequence[str]]]) -> list[NoteSpec]:
    """Note specs from (measure, onset, duration, [bass, tenor, alto, soprano])."""
    notes: list[NoteSpec] = []
    for m, onset, duration, chord in chords:
        for voice, pitch in enumerate(reversed(chord)):
            notes.append((m, voice, onset, duration, [pitch]))
    return notes


SATB_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
SHARPS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def transpose(name: str, semitones: int) -> str:
    """A pitch name moved by ``semitones``, spelled with sharps."""
    midi = parse_pitch(name)[0] + semitones
    return f"{SHARPS[midi % 12]}{midi // 12 - 1}"


ONE = ["C3", "G3", "E4", "C5"]
FOUR = ["F3", "A3", "F4", "C5"]
TWO6 = ["F3", "A3", "D4", "D5"]
FIVE = ["G2", "G3", "D4", "B4"]
FIVE7 = ["G2", "F3", "D4", "B4"]
SIX = ["A2", "A3", "E4", "C5"]
ONE6 = ["E3", "G3", "C4", "C5"]

# I IV ii6 V | vi IV V7 | I: a deceptive, then a perfect authentic cadence
DECEPTIVE_THEN_AUTHENTIC = [
    (0, 0, 1, ONE),
    (0, 1, 1, FOUR),
    (0, 2, 1, TWO6),
    (0, 3, 1, FIVE),
    (1, 0, 2, SIX),
    (1, 2, 1, FOUR),
    (1, 3, 1, FIVE7),
    (2, 0, 4, ONE),
]


async def new_score(documents: DocumentStore, score_id: str = "s1") -> tuple[ScoreDoc, Any]:
    """A stored two-part, four-measure score (a cadence in C); its ids."""
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.server("test"))
    ids = editor.create_score(title="T", parts=("Soprano", "Bass"), measures=4)
    m, (sop, bass) = ids["measures"], ids["parts"]
    for i, (high, low) in enumerate([("E5", "C3"), ("F5", "F2"), ("D5", "G2"), ("C5", "C3")]):
        editor.add_note(m[i], sop, 0, 4, high)
        editor.add_note(m[i], bass, 0, 4, low)
    await documents.create(score_id, "T", None, score.encode_state())
    return score, ids
