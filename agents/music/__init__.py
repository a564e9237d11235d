"""The offline music brain: deterministic music functions, no server, no network.

Every function reads a :class:`ScoreView` and returns plain data; nothing here touches a
document except :func:`apply_result`. The runtime's usual round trip::

    view = extract_view(score_doc, measures=ids)            # read-only input
    h = harmonise(view, "Soprano")                           # Harmonisation
    before, after = check_result(score_doc, h.result)        # quality gate
    apply_result(score_doc, h.result, Origin.agent("aureon:t1"))  # one transaction

Input and output (:mod:`agents.music.view`)
    ``extract_view(score, parts=None, measures=None) -> ScoreView``: measures
    (:class:`MeasureInfo`: id, number, time, key, length) and parts (:class:`PartLine`:
    :class:`Event` s per measure, onsets/durations as Fractions, music21 pitch names).
    ``MusicResult``: :class:`PartWrite` s (part id or a new part, :class:`NewNote` s by
    measure id, ``"+n"`` for a measure to append), ``summary``, JSON ``details``.
    ``apply_result(score, result, origin) -> {"parts", "measures", "notes", "removed"}``.

Writing music (each returns a :class:`MusicResult`, or wraps one)
    ``harmonise(view, melody, voice=1, targets=None, keys=None, learned=True,
    passing=False) -> Harmonisation`` (``.result``; ``.chords``, one :class:`ChordChoice`
    per beat with figure, key, root, quality; ``.keys``; ``.cost``; ``.seconds``): SATB
    in the style of the chorales, optionally with passing notes in the lower voices.
    ``continue_melody(view, part, measures=4, seed=0, voice=1)``: new bars from learned
    interval and rhythm statistics; same seed, same melody.
    ``counterpoint(view, melody, role="bass"|"countermelody", species=1|2,
    harmony=None, target=None)``: species-style line against a melody (and chords).
    ``revoice(view, part, "Violin", target=None, in_place=False)``,
    ``transpose(view, "M2", parts=None)``, ``transpose_pitch("C4", "A4")``,
    ``instrument(name) -> Instrument`` (range table :data:`INSTRUMENTS`).

Judging and explaining
    ``check_data / check_score / check_lines / check_result -> QualityReport``
    (``counts`` of parallel and hidden fifths and octaves, crossings, overlaps,
    spacing, range, from ``analysis_engine.voice_leading``; ``score``,
    ``worse_than(other)``).
    ``explain(results, register="analyst"|"teacher", view=None) -> Explanation``
    (``text``, ``paragraphs``, ``references``: measure ids and numbers), from the
    engine results :func:`analyse` computes.

Statistics are learned once from music21's chorales by ``python -m agents.music.learn``
(the bench chorales held out) and loaded from ``data/chorale_stats.json`` in about a
millisecond. Algorithms and measurements: ``docs/agents-music.md``.
"""

from agents.music.continuation import continue_melody
from agents.music.counterpoint import counterpoint
from agents.music.explain import Explanation, analyse, explain
from agents.music.harmonise import ChordChoice, Harmonisation, harmonise
from agents.music.instruments import (
    INSTRUMENTS,
    Instrument,
    instrument,
    revoice,
    transpose,
    transpose_pitch,
)
from agents.music.quality import (
    QualityReport,
    check_data,
    check_lines,
    check_result,
    check_score,
)
from agents.music.view import (
    Event,
    MeasureInfo,
    MusicResult,
    NewNote,
    PartLine,
    PartWrite,
    ScoreView,
    apply_result,
    extract_view,
)

__all__ = [
    "INSTRUMENTS",
    "ChordChoice",
    "Event",
    "Explanation",
    "Harmonisation",
    "Instrument",
    "MeasureInfo",
    "MusicResult",
    "NewNote",
    "PartLine",
    "PartWrite",
    "QualityReport",
    "ScoreView",
    "analyse",
    "apply_result",
    "check_data",
    "check_lines",
    "check_result",
    "check_score",
    "continue_melody",
    "counterpoint",
    "explain",
    "extract_view",
    "harmonise",
    "instrument",
    "revoice",
    "transpose",
    "transpose_pitch",
]
