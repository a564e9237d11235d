"""The task runtime with real rooms and participants: suggestions by default, stale
protection, the quality gate, undo with concurrent human edits, limits and cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from agents.brains.base import BrainResult, Focus, NoteSpec, TaskContext, TaskRequest
from agents.brains.offline import OfflineBrain
from agents.config import AgentConfig
from agents.personas import load_personas
from agents.runtime import Finished, run_task
from agents.tasks import MemoryTaskBoard, TaskRecord
from agents.undo import undo_all
from collab_server.participants import Participant, ParticipantHub, Profile
from collab_server.sync.rooms import RoomManager
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.suggestions import decode_suggestions
from tests.agents.chorale import write_chorale
from tests.collab_server.harness import Backend, make_backend

AUREON = load_personas()["aureon"]
PERSON = Origin.client("ada")


@dataclass
class World:
    backend: Backend
    rooms: RoomManager
    ids: dict[str, list[str]]
    board: MemoryTaskBoard

    async def session(self, record: TaskRecord) -> Participant:
        return await ParticipantHub(self.rooms).join(
            "s1", Profile("Aureon", AUREON.color), Origin.agent(f"aureon:{record.id}")
        )

    async def run(
        self,
        brain: Any,
        *,
        mode: str = "suggest",
        config: AgentConfig | None = None,
        measures: tuple[str, ...] | None = None,
    ) -> tuple[Finished, Participant]:
        record = TaskRecord("s1", "aureon", "harmonise", mode)  # type: ignore[arg-type]
        session = await self.session(record)
        request = TaskRequest(AUREON, "harmonise", measures, None, mode)  # type: ignore[arg-type]
        finished = await run_task(
            session, request, brain, record=record, board=self.board, config=config or AgentConfig()
        )
        return finished, session


@pytest.fixture
async def world() -> AsyncIterator[World]:
    backend = await make_backend()
    score = ScoreDoc()
    ids = write_chorale(ScoreEditor(score, Origin.server("test")), bars=4)
    await backend.documents.create("s1", "Chorale", None, score.encode_state())
    rooms = RoomManager(backend.hooks, idle_timeout=5)
    yield World(backend, rooms, ids, MemoryTaskBoard())
    await rooms.close()
    await backend.documents.close()


def suggestions(score: ScoreDoc) -> dict[str, Any]:
    return decode_suggestions(score.raw_suggestions())[0]


class Interrupted:
    """The real offline brain, with a person's edit landing just before its first write
    (after the agent has read the score)."""

    def __init__(self, edit: Any) -> None:
        self.inner = OfflineBrain()
        self.edit = edit

    async def run(self, ctx: TaskContext) -> BrainResult:
        person = ScoreEditor(ctx.session.doc, PERSON)
        original = ctx.write
        done = False

        async def write(measure: str, part: str, notes: list[NoteSpec]) -> None:
            nonlocal done
            if not done:
                done = True
                self.edit(person)  # a person's edit lands while the agent writes
            await original(measure, part, notes)

        ctx.write = write  # type: ignore[method-assign]
        return await self.inner.run(ctx)


async def test_suggestions_are_offered_after_the_gate_and_the_score_is_untouched(
    world: World,
) -> None:
    before = (await world.rooms.get_room("s1")).score.raw_notes()
    finished, session = await world.run(OfflineBrain())
    record = finished.record
    assert record.status == "done" and record.error == ""
    offered = suggestions(session.doc)
    assert len(offered) == 12 and set(offered) == set(record.suggestions)  # 4 bars x A, T, B
    assert {s.status for s in offered.values()} == {"pending"}
    assert all(s.report["after"]["counts"]["parallel_fifths"] == 0 for s in offered.values())
    assert session.doc.raw_notes() == before  # suggestions only: no note changed
    events = [e.type for e in await world.board.events(record.id)]
    assert events[:3] == ["started", "status", "status"] and events[-1] == "done"
    writes = [e.data["measure"] for e in await world.board.events(record.id) if e.type == "write"]
    assert writes == sorted(writes, key=world.ids["measures"].index)  # measure by measure
    assert finished.waiting  # the agent stays, waiting for people to review
    [state] = session.room.presence.states().values()
    assert state["status"] == "waiting_for_review" and state["task"] == record.id
    assert state["focus"]["measures"] == world.ids["measures"]
    [comment] = session.doc.raw_comments().values()
    assert comment["measure"] == world.ids["measures"][0] and "parallels 0" in comment["text"]
    await session.leave()


async def test_a_measure_changed_by_a_person_after_reading_is_stale(world: World) -> None:
    m3 = world.ids["measures"][2]
    alto = world.ids["parts"][1]

    def person_edit(editor: ScoreEditor) -> None:
        editor.add_note(m3, alto, 0, 4, ["D4"])

    finished, session = await world.run(Interrupted(person_edit))
    offered = suggestions(session.doc)
    stale = {s.measure for s in offered.values() if s.status == "stale"}
    assert stale == {m3} and finished.record.stale_measures == [m3]
    # Accepting everything applies the fresh measures and refuses the stale one.
    result = ScoreEditor(session.doc, Origin.server("accept")).apply_suggestions(
        [sid for sid, s in offered.items() if s.status == "pending"]
        + [sid for sid, s in offered.items() if s.status == "stale"]
    )
    assert len(result["applied"]) == 9 and len(result["stale"]) == 3
    alto_m3 = [
        n.pitches for n in session.doc.read().notes.values() if n.measure == m3 and n.part == alto
    ]
    assert alto_m3 == [("D4",)]  # the person's note, never overwritten
    await session.leave()


async def test_direct_mode_skips_stale_measures(world: World) -> None:
    m2, tenor = world.ids["measures"][1], world.ids["parts"][2]
    finished, session = await world.run(
        Interrupted(lambda ed: ed.add_note(m2, tenor, 0, 4, ["B3"])), mode="direct"
    )
    notes = session.doc.read().notes.values()
    assert [n.pitches for n in notes if n.measure == m2 and n.part == tenor] == [("B3",)]
    assert all(
        any(n.measure == m and n.part == tenor for n in notes) for m in world.ids["measures"]
    )
    assert finished.record.stale_measures == [m2]
    assert session.doc.raw_suggestions() == {}
    await session.leave()


async def test_undo_reverts_only_the_agents_changes(world: World) -> None:
    m1 = world.ids["measures"][0]
    soprano, alto = world.ids["parts"][:2]
    finished, session = await world.run(OfflineBrain(), mode="direct")
    assert finished.undo is not None
    data = session.doc.read()
    agent_alto = [n for n in data.notes.values() if n.measure == m1 and n.part == alto]
    assert agent_alto
    # People edit the same measures after the task: a new note, a changed agent note and
    # a changed melody note.
    person = ScoreEditor(session.doc, PERSON)
    added = person.add_note(m1, alto, 0, 1, ["C4"], voice=2)
    person.set_pitches(agent_alto[0].id, ["E4"])
    melody = next(n for n in data.notes.values() if n.measure == m1 and n.part == soprano)
    person.set_pitches(melody.id, ["F#4"])
    assert undo_all(finished.undo) > 0
    await session.flushed()
    after = session.doc.read().notes
    assert {n.part for n in after.values() if n.id not in (added, agent_alto[0].id)} == {
        soprano
    }  # the agent's notes are gone...
    assert after[added].pitches == ("C4",) and after[melody.id].pitches == ("F#4",)
    assert after[agent_alto[0].id].pitches == ("E4",)  # ...a person's change to one stays
    stored = await world.backend.stored("s1")
    assert stored.raw_notes() == session.doc.raw_notes()
    await session.leave()


class Parallels:
    """A brain that writes parallel fifths and octaves (the gate must refuse them)."""

    def __init__(self, measures: list[str], parts: list[str]) -> None:
        self.measures, self.parts = measures, parts

    async def run(self, ctx: TaskContext) -> BrainResult:
        soprano = {
            m: sorted(
                (n.onset, n.pitches[0])
                for n in ctx.session.doc.read().notes.values()
                if n.measure == m and n.part == self.parts[0]
            )
            for m in self.measures
        }
        from agents.music.instruments import transpose_pitch

        for measure in self.measures:
            for part, interval in zip(self.parts[1:], ("-P5", "-P8", "-P15"), strict=True):
                notes = [
                    NoteSpec(
                        onset, _length(soprano[measure], onset), (transpose_pitch(pitch, interval),)
                    )
                    for onset, pitch in soprano[measure]
                ]
                await ctx.write(measure, part, notes)
        return BrainResult("parallels everywhere")


def _length(cells: list[tuple[Any, str]], onset: Any) -> Any:
    from fractions import Fraction

    onsets = [o for o, _ in cells] + [Fraction(4)]
    return onsets[onsets.index(onset) + 1] - onset


async def test_a_result_that_makes_the_voice_leading_worse_is_not_offered(world: World) -> None:
    brain = Parallels(world.ids["measures"], world.ids["parts"])
    finished, session = await world.run(brain)
    assert finished.record.status == "failed" and "not offered" in finished.record.error
    assert session.doc.raw_suggestions() == {}
    report = finished.record.report
    assert (
        report["after"]["counts"]["parallel_fifths"] > report["before"]["counts"]["parallel_fifths"]
    )
    direct, session2 = await world.run(brain, mode="direct")
    assert direct.record.status == "failed"
    assert {n.part for n in session2.doc.read().notes.values()} == {world.ids["parts"][0]}
    await session.leave()
    await session2.leave()


async def test_limits_stop_a_task_and_withdraw_its_writes(world: World) -> None:
    finished, session = await world.run(OfflineBrain(), config=AgentConfig(max_notes=10))
    assert finished.record.status == "failed" and "at most 10 notes" in finished.record.error
    assert session.doc.raw_suggestions() == {}
    chat = session.doc.raw_chat()
    assert chat[-1]["text"].startswith("I stopped") and chat[-1]["author"] == "Aureon"
    await session.leave()

    class Slow:
        async def run(self, ctx: TaskContext) -> BrainResult:
            await ctx.status("thinking", Focus())
            await asyncio.sleep(5)
            return BrainResult("late")

    timed, session = await world.run(Slow(), config=AgentConfig(max_seconds=0.2))
    assert timed.record.status == "failed" and "time" in timed.record.error
    await session.leave()


async def test_cancelling_stops_at_the_next_step(world: World) -> None:
    record = TaskRecord("s1", "aureon", "harmonise")
    session = await world.session(record)
    await world.board.cancel(record.id)
    finished = await run_task(
        session,
        TaskRequest(AUREON, "harmonise"),
        OfflineBrain(),
        record=record,
        board=world.board,
        config=AgentConfig(),
    )
    assert finished.record.status == "cancelled"
    assert session.doc.raw_suggestions() == {} and len(session.room.presence) == 0
    await session.leave()


class Talker:
    """A brain that only talks (never writes, so never calls ``check``) until cancelled."""

    async def run(self, ctx: TaskContext) -> BrainResult:
        while not ctx.cancelled:
            await asyncio.sleep(0.02)
        return BrainResult(summary="")


async def test_a_brain_that_only_talks_sees_a_cancel_while_it_runs(world: World) -> None:
    record = TaskRecord("s1", "mia", "explain")
    session = await world.session(record)
    running = asyncio.create_task(
        run_task(
            session,
            TaskRequest(AUREON, "explain"),
            Talker(),
            record=record,
            board=world.board,
            config=AgentConfig(),
        )
    )
    await asyncio.sleep(0.1)
    assert not running.done()
    await world.board.cancel(record.id)
    finished = await asyncio.wait_for(running, 5)
    assert finished.record.status == "cancelled"
    await session.leave()


class EditsWhileWriting:
    """The real offline brain; when it starts writing measure 2, a person edits measure 1,
    which the agent has just written (a concurrent edit in the agent's measures)."""

    def __init__(self, world: World) -> None:
        self.inner = OfflineBrain()
        self.world = world
        self.person: dict[str, str] = {}

    async def run(self, ctx: TaskContext) -> BrainResult:
        m1, m2 = self.world.ids["measures"][:2]
        alto = self.world.ids["parts"][1]
        original = ctx.write

        async def write(measure: str, part: str, notes: list[NoteSpec]) -> None:
            if measure == m2 and not self.person:
                person = ScoreEditor(ctx.session.doc, PERSON)
                agent_note = next(
                    n
                    for n in ctx.session.doc.read().notes.values()
                    if n.measure == m1 and n.part == alto
                )
                # musically neutral (the gate must still pass): a lyric on the agent's
                # note, and a rest in another voice
                person.set_lyric(agent_note.id, "Ah")
                self.person = {
                    "changed": agent_note.id,
                    "added": person.add_rest(m1, alto, 0, 4, voice=2),
                }
            await original(measure, part, notes)

        ctx.write = write  # type: ignore[method-assign]
        return await self.inner.run(ctx)


async def test_undo_keeps_edits_people_made_while_the_agent_was_writing(world: World) -> None:
    brain = EditsWhileWriting(world)
    finished, session = await world.run(brain, mode="direct")
    assert finished.record.status == "done", finished.record.error
    assert undo_all(finished.undo) > 0
    await session.flushed()
    notes = session.doc.read().notes
    soprano = world.ids["parts"][0]
    others = {n.id for n in notes.values() if n.part != soprano}
    assert others == {brain.person["changed"], brain.person["added"]}
    assert notes[brain.person["changed"]].lyric == "Ah"  # the person's version stays
    assert notes[brain.person["added"]].is_rest
    await session.leave()


@pytest.mark.parametrize(
    ("persona", "instruction", "writes"),
    [
        ("aureon", "harmonise", True),
        ("aureon", "transpose up a major second", True),
        ("aureon", "revoice for violin", True),
        ("jeremyai", "continue the melody", True),
        ("jeremyai", "write a bass line", True),
        ("jeremyai", "a countermelody please", True),
        ("mia", "analyse the cadences", False),
        ("miette", "what is going on here?", False),
    ],
)
async def test_every_offline_ability_on_a_lone_melody(
    persona: str, instruction: str, writes: bool
) -> None:
    backend = await make_backend()
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.server("test"))
    ids = editor.create_score(title="Tune", parts=["Flute"], measures=4, time="4/4")
    from tests.agents.chorale import fill_melody

    fill_melody(editor, ids, 4)
    await backend.documents.create("s1", "Tune", None, score.encode_state())
    rooms = RoomManager(backend.hooks)
    chosen = load_personas()[persona]
    record = TaskRecord("s1", persona, instruction)
    session = await ParticipantHub(rooms).join(
        "s1", Profile(chosen.display_name, chosen.color), Origin.agent(f"{persona}:{record.id}")
    )
    finished = await run_task(
        session,
        TaskRequest(chosen, instruction),
        OfflineBrain(),
        record=record,
        board=MemoryTaskBoard(),
        config=AgentConfig(),
    )
    assert finished.record.status == "done", finished.record.error
    assert finished.record.summary
    assert bool(finished.record.suggestions) == writes
    assert all(s.status == "pending" for s in suggestions(session.doc).values())
    chat = session.doc.raw_chat()
    assert chat[-1]["author"] == chosen.display_name and chat[-1]["task"] == record.id
    await session.leave()
    await rooms.close()
    await backend.documents.close()
