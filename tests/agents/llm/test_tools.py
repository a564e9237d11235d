"""The tools a model calls, through a direct context over a live document."""

from __future__ import annotations

from typing import Any

from agents.brains.base import NoteSpec, TaskRequest
from agents.config import AgentConfig
from agents.personas import get_persona
from agents.tools import default_toolbox
from agents.tools.context import DirectContext
from agents.tools.reading import read_text
from score_model.document import ScoreDoc
from score_model.origin import Origin
from tests.agents.llm.conftest import cell, make_context
from tests.agents.llm.doc_session import DocSession


async def call(session: DocSession, name: str, args: Any, config: AgentConfig | None = None) -> str:
    outcome = await default_toolbox().call(make_context(session, config=config), name, args)
    return ("ERR " if outcome.error else "") + outcome.text


def test_reading_names_measures_parts_onsets_and_durations(score: ScoreDoc) -> None:
    text = read_text(score.read())
    lines = text.splitlines()
    assert lines[0] == "score 'Test', time 4/4; parts: P1 Soprano, P2 Bass; measures: m1-m2"
    assert lines[1] == "m1 [4/4] P1 v1: @0 C5 q; @1 D5 q; @2 E5 q; @3 F5 q"
    assert lines[2] == "m1 [4/4] P2: empty"
    assert read_text(score.read(), [score.read().measures[1].id], empty=False).count("\n") == 0


async def test_read_measures_tool_shows_presence(session: DocSession) -> None:
    text = await call(session, "read_measures", {"measures": ["m1"], "parts": ["Soprano"]})
    assert "m1 [4/4] P1 v1: @0 C5 q; @1 D5 q; @2 E5 q; @3 F5 q" in text
    assert "P2" not in text.splitlines()[-1]
    assert session.presence[-1] is not None and session.presence[-1]["status"] == "reading"


async def test_note_edits(session: DocSession, score: ScoreDoc) -> None:
    assert (
        await call(
            session,
            "change_note",
            {"measure": "1", "part": "P1", "onset": "1", "pitches": ["D#5"], "duration": "e"},
        )
    ).startswith("ok")
    assert (
        await call(
            session,
            "add_note",
            {
                "measure": "m1",
                "part": "Soprano",
                "onset": "3/2",
                "duration": "e",
                "pitches": ["E5"],
            },
        )
    ).startswith("ok")
    assert (
        await call(session, "remove_note", {"measure": 1, "part": "P1", "onset": 3})
    ).startswith("ok")
    assert (
        await call(session, "set_tie", {"measure": 1, "part": "P1", "onset": "2", "tie": "start"})
    ).startswith("ok")
    assert cell(score, 0, 0) == [
        ("0", "1", ("C5",)),
        ("1", "1/2", ("D#5",)),
        ("3/2", "1/2", ("E5",)),
        ("2", "1", ("E5",)),
    ]
    tied = [n for n in score.read().notes.values() if n.onset == 2]
    assert tied[0].ties == ("start",)
    assert session.presence[-1] is not None and session.presence[-1]["status"] == "writing"


async def test_write_measure_replaces_only_the_voices_written(
    session: DocSession, score: ScoreDoc
) -> None:
    out = await call(
        session,
        "write_measure",
        {
            "measure": "2",
            "part": "P2",
            "notes": [
                {"onset": "0", "duration": "h.", "pitches": ["C3", "G3"]},
                {"onset": "3", "duration": "q", "pitches": []},
            ],
        },
    )
    assert out == "ok: wrote 2 notes"
    assert cell(score, 1, 1) == [("0", "3", ("C3", "G3")), ("3", "1", ())]
    await call(
        session,
        "write_measure",
        {
            "measure": "2",
            "part": "P2",
            "notes": [{"onset": "0", "duration": "w", "pitches": ["E4"], "voice": 2}],
        },
    )
    assert len(cell(score, 1, 1)) == 3  # voice 1 kept


async def test_transpose_spells_pitches(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "transpose", {"interval": "M2", "parts": ["P1"]})
    assert out == "ok: transposed 4 notes by M2"
    assert [p for _, _, p in cell(score, 0, 0)] == [("D5",), ("E5",), ("F#5",), ("G5",)]


async def test_bad_arguments_come_back_as_errors(session: DocSession, score: ScoreDoc) -> None:
    before = score.encode_state()
    cases = {
        "add_note": (
            {"measure": "9", "part": "P1", "onset": 0, "duration": "q", "pitches": ["C4"]},
            "no measure 9",
        ),
        "change_note": ({"measure": "1", "part": "P3", "onset": 0}, "no part 'P3'"),
        "remove_note": ({"measure": "1", "part": "P1", "onset": "1/3"}, "no note at onset 1/3"),
    }
    for name, (args, expected) in cases.items():
        out = await call(session, name, args)
        assert out.startswith("ERR error:") and expected in out, out
    out = await call(
        session,
        "add_note",
        {"measure": "1", "part": "P1", "onset": 0, "duration": "q", "pitches": ["H9"]},
    )
    assert out.startswith("ERR") and "C5" in out
    assert (
        await call(
            session,
            "add_note",
            {"measure": "1", "part": "P1", "onset": 0, "duration": "zz", "pitches": []},
        )
    ).startswith("ERR error: duration 'zz'")
    assert (await call(session, "add_note", '{"measure": ')).startswith(
        "ERR error: arguments are not valid JSON"
    )
    assert (await call(session, "add_note", {"part": "P1"})).startswith(
        "ERR error: missing argument(s): measure"
    )
    assert (await call(session, "transpose", {"interval": "up a bit"})).startswith("ERR")
    assert (await call(session, "no_such_tool", {})).startswith("ERR error: no tool")
    assert score.encode_state() == before


async def test_limits_and_rights_are_tool_errors(score: ScoreDoc) -> None:
    viewer = DocSession(score, Origin.agent("x"), can_edit=False)
    out = await call(
        viewer,
        "add_note",
        {"measure": "2", "part": "P1", "onset": 0, "duration": "q", "pitches": ["C4"]},
    )
    assert out.startswith("ERR error:") and "viewer" in out
    editor = DocSession(score, viewer.origin)
    out = await call(
        editor,
        "write_measure",
        {
            "measure": "2",
            "part": "P1",
            "notes": [{"onset": str(i), "duration": "q", "pitches": ["C4"]} for i in range(4)],
        },
        config=AgentConfig(max_notes=3),
    )
    assert out == "ERR error: this task may write at most 3 notes"


async def test_analysis_is_limited_to_measures(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "analyse", {"analyses": ["harmony", "key"], "measures": ["2"]})
    assert '"key":"C major"' in out and '"m1"' not in out
    assert (await call(session, "analyse", {"analyses": ["astrology"]})).startswith("ERR")


async def test_harmonise_macro_writes_three_voices(session: DocSession, score: ScoreDoc) -> None:
    for name in ("Alto", "Tenor"):
        assert (await call(session, "add_part", {"name": name})).startswith("ok")
    out = await call(
        session,
        "harmonise",
        {"melody": "Soprano", "measures": ["1"], "alto": "Alto", "tenor": "Tenor", "bass": "Bass"},
    )
    assert out.startswith("ok:"), out
    for part in (1, 2, 3):
        notes = cell(score, 0, part)
        assert notes and all(len(p) == 1 for _, _, p in notes)


def test_readers_get_no_writing_tools() -> None:
    names = default_toolbox(writes=False).names
    assert names == ["read_measures", "analyse"]
    assert {"write_measure", "harmonise", "transpose"} <= set(default_toolbox().names)


async def test_harmonise_adds_missing_parts(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "harmonise", {"melody": "P1", "measures": ["1"], "bass": "Bass"})
    assert out.startswith("ok:"), out
    data = score.read()
    assert [p.name for p in data.parts][:2] == ["Soprano", "Bass"]
    assert len(data.parts) == 4  # alto and tenor made for it
    assert all(cell(score, 0, part) for part in (1, 2, 3))


async def test_continue_melody_appends_measures(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "continue_melody", {"part": "Soprano", "measures_to_add": 3})
    assert out.startswith("ok:"), out
    data = score.read()
    assert len(data.measures) == 4  # m2 filled, two appended
    assert all(cell(score, m, 0) for m in (1, 2, 3))
    assert cell(score, 0, 0)[0] == ("0", "1", ("C5",))  # what was there stays
    assert (
        await call(session, "continue_melody", {"part": "P1", "measures_to_add": 99})
    ).startswith("ERR error: measures_to_add must be")


async def test_bass_line_and_countermelody(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "bass_line", {"melody": "P1", "measures": ["1"], "target": "Bass"})
    assert out.startswith("ok:"), out
    bass = cell(score, 0, 1)
    assert bass and all(len(p) == 1 for _, _, p in bass)
    out = await call(session, "countermelody", {"melody": "P1", "measures": ["1"], "species": 2})
    assert out.startswith("ok:"), out
    assert len(score.read().parts) == 3 and cell(score, 0, 2)


async def test_revoice_for_an_instrument(session: DocSession, score: ScoreDoc) -> None:
    out = await call(session, "revoice", {"part": "Soprano", "instrument": "cello"})
    assert out.startswith("ok:"), out
    data = score.read()
    assert (data.parts[-1].instrument, data.parts[-1].clef) == ("Cello", "bass")
    assert [p for _, _, p in cell(score, 0, 2)] == [("C4",), ("D4",), ("E4",), ("F4",)]
    assert (await call(session, "revoice", {"part": "P1", "instrument": "kazoo"})).startswith(
        "ERR error: no instrument 'kazoo'; known: alto"
    )


class ProposingContext(DirectContext):
    """Suggest mode as the runtime runs it: writes are proposals, the score is untouched
    (here they are kept in a list instead of the document's suggestion layer)."""

    def __init__(self, session: DocSession) -> None:
        super().__init__(session, TaskRequest(get_persona("aureon"), "help", mode="suggest"))
        self.proposed: list[tuple[str, str, list[NoteSpec]]] = []

    async def write(self, measure_id: str, part_id: str, notes: list[NoteSpec]) -> None:
        self.proposed.append((measure_id, part_id, notes))


async def test_suggest_mode_edits_build_on_the_tasks_own_proposal(
    session: DocSession, score: ScoreDoc
) -> None:
    ctx = ProposingContext(session)
    tools = default_toolbox()
    before = score.encode_state()
    for onset, pitch in (("0", "C3"), ("2", "G2")):
        outcome = await tools.call(
            ctx,
            "add_note",
            {"measure": "2", "part": "Bass", "onset": onset, "duration": "h", "pitches": [pitch]},
        )
        assert outcome.text == f"ok: wrote {1 if pitch == 'C3' else 2} notes"
    assert [[n.pitches for n in notes] for _, _, notes in ctx.proposed] == [
        [("C3",)],
        [("C3",), ("G2",)],
    ]
    assert score.encode_state() == before
    reading = (await tools.call(ctx, "read_measures", {"measures": ["2"]})).text
    assert "m2 P2: empty" in reading
    assert reading.endswith(
        "waiting for review (the lines above are the score):\nm2 P2 v1: @0 C3 h; @2 G2 h"
    )
    other = ProposingContext(session)  # another task starts from the score
    assert (
        await tools.call(
            other,
            "add_note",
            {"measure": "2", "part": "Bass", "onset": "0", "duration": "w", "pitches": ["C2"]},
        )
    ).notes == 1


async def test_analysis_envelopes_are_unwrapped(session: DocSession) -> None:
    from analysis_engine.jobs import analyse_document

    request = TaskRequest(get_persona("mia"), "why", mode="direct")
    ctx = DirectContext(
        session, request, analyse=lambda data: analyse_document(data, analyses=["key"])
    )
    out = (await default_toolbox().call(ctx, "analyse", {"analyses": ["key", "rhythm"]})).text
    assert out.startswith('{"key":{"key":"C major"') and out.endswith('"rhythm":"not available"}')
