"""Running one agent task: the :class:`~agents.brains.base.TaskContext` a brain works
through, and everything around the brain.

What :func:`run_task` guarantees, whatever the brain:

- **Presence**: the agent's awareness entry shows its status (reading, thinking, writing,
  waiting for review) and focus (measure and part ids); it is removed when the task ends.
- **Streaming**: each :meth:`TaskRun.write` is one transaction under the task's origin
  ``agent:<persona>:<task>``, so notes (or suggestions) appear cell by cell.
- **Suggestions by default**: in ``suggest`` mode writes become ``draft`` suggestions
  (schema v2); in ``direct`` mode they replace the cell's notes.
- **Stale protection**: what the agent read of each measure is recorded when the task
  starts (:func:`~score_model.suggestions.measure_base`); a write to a measure a person
  changed since is not applied (direct) or is stored as ``stale`` (suggest).
- **Quality gate**: when the brain is done, the voice-leading faults of the task's
  measures before and after its writes are counted (``agents.music.quality``). A result
  that makes them worse is not offered (drafts deleted; direct writes undone); otherwise
  drafts become ``pending`` with the report and a one-line reason, and a comment with
  the reason is anchored to the first measure.
- **Undo**: a pycrdt ``UndoManager`` scoped to the task's origin records exactly the
  agent's changes; :func:`undo` reverts them and keeps everything people did meanwhile.
- **Limits** (:class:`~agents.config.AgentConfig`): notes per task, model tokens, wall time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pycrdt import UndoManager

from agents.brains.base import (
    Brain,
    BrainResult,
    Focus,
    NoteSpec,
    Status,
    TaskRequest,
)
from agents.config import AgentConfig
from agents.gate import Checker, quality_counts, reason, with_suggestions, worse
from agents.memory import Memory
from agents.reading import read_measures
from agents.session import ScoreSession
from agents.tasks import TaskBoard, TaskRecord
from agents.undo import track, undo_all
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.suggestions import Suggestion, measure_base

log = logging.getLogger("orpheus.agents")


class TaskLimit(Exception):
    """A task went over one of its limits."""


class TaskCancelled(Exception):
    """The task was cancelled."""


@dataclass
class TaskRun:
    """The :class:`~agents.brains.base.TaskContext` of one running task."""

    request: TaskRequest
    session: ScoreSession
    record: TaskRecord
    board: TaskBoard
    config: AgentConfig
    memory: Memory | None = None
    bases: dict[str, str] = field(default_factory=dict)
    written: dict[tuple[str, str], str] = field(default_factory=dict)  # cell -> suggestion
    measures_written: list[str] = field(default_factory=list)
    notes_written: int = 0
    tokens_used: int = 0
    started: float = field(default_factory=time.monotonic)
    _cancelled: bool = False
    _status: str = ""
    _focus: Focus | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def check(self) -> None:
        """Raise if the task was cancelled or ran out of time."""
        if await self.board.cancel_requested(self.record.id):
            self._cancelled = True
        if self._cancelled:
            raise TaskCancelled(self.record.id)
        if time.monotonic() - self.started > self.config.max_seconds:
            raise TaskLimit(f"the task ran longer than {self.config.max_seconds:g} s")

    # --- presence and chat ---------------------------------------------------------------

    async def status(self, status: Status, focus: Focus | None = None) -> None:
        await self.check()
        self._status, self._focus = status, focus
        await self.session.set_presence(self.presence())
        await self.board.emit(
            self.record.id,
            "status",
            {"status": status, "focus": focus.to_json() if focus else None},
        )

    def presence(self) -> dict[str, Any]:
        persona = self.request.persona
        return {
            "status": self._status,
            "task": self.record.id,
            "agent": persona.name,
            "focus": self._focus.to_json() if self._focus else None,
        }

    async def say(self, text: str) -> None:
        """Post to the chat as the agent; for someone who may only read the score, the
        answer goes to the task's events alone (the agent never writes for a viewer)."""
        if self.session.can_edit:
            await self.session.post_chat(text, task=self.record.id, agent=self.request.persona.name)
        await self.board.emit(self.record.id, "say", {"text": text})
        if self.memory is not None:
            await self.memory.remember_agent(self.request.persona.name, text, task=self.record.id)

    async def stream(self, text: str) -> None:
        """A piece of the agent's text as it is produced: a ``text`` event of the task."""
        await self.board.emit(self.record.id, "text", {"text": text})

    # --- reading -------------------------------------------------------------------------

    def read_measures(self, measure_ids: list[str] | None = None) -> str:
        ids = measure_ids if measure_ids is not None else self.request.measure_ids
        return read_measures(self.session.doc.read(), ids)

    def analysis(self) -> dict[str, Any]:
        from agents.music.explain import analyse

        return analyse(self.session.doc.read())

    def use_tokens(self, count: int) -> None:
        self.tokens_used += count
        if self.tokens_used > self.config.max_tokens:
            raise TaskLimit(f"the task used more than {self.config.max_tokens} model tokens")

    def remember_bases(self, measure_ids: Sequence[str] | None = None) -> None:
        """Record what the agent reads of the measures (all of them by default)."""
        raw = self.session.doc.raw_notes()
        ids = (
            measure_ids
            if measure_ids is not None
            else [m["id"] for m in self.session.doc.raw_measures() if isinstance(m, dict)]
        )
        for measure in ids:
            self.bases.setdefault(measure, measure_base(raw, measure))

    # --- writing -------------------------------------------------------------------------

    async def write(self, measure_id: str, part_id: str, notes: list[NoteSpec]) -> None:
        await self.check()
        if self.notes_written + len(notes) > self.config.max_notes:
            raise TaskLimit(f"the task may write at most {self.config.max_notes} notes")
        if (
            self._status != "writing"
            or self._focus is None
            or (measure_id not in self._focus.measures)
        ):
            await self.status("writing", Focus((measure_id,), (part_id,)))
        if measure_id not in self.bases:
            self.remember_bases([measure_id])
        current = measure_base(self.session.doc.raw_notes(), measure_id)
        stale = current != self.bases[measure_id]
        values = [n.to_json(measure_id, part_id) for n in notes]
        if self.request.mode == "direct":
            if stale:
                await self._stale(measure_id)
                return
            await self.session.edit(lambda ed: _replace_cell(ed, measure_id, part_id, values))
            self.bases[measure_id] = measure_base(self.session.doc.raw_notes(), measure_id)
            suggestion = None
        else:
            bare = [
                {k: v for k, v in value.items() if k not in ("measure", "part")} for value in values
            ]
            previous = self.written.get((measure_id, part_id))

            def propose(ed: ScoreEditor) -> str:
                if previous is not None and previous in ed.score.suggestions:
                    ed.delete_suggestion(previous)
                return ed.add_suggestion(
                    task=self.record.id,
                    agent=self.request.persona.name,
                    measure=measure_id,
                    part=part_id,
                    notes=bare,
                    base=self.bases[measure_id],
                    status="stale" if stale else "draft",
                )

            suggestion = await self.session.edit(propose)
            self.written[(measure_id, part_id)] = suggestion
            if stale:
                await self._stale(measure_id)
        if measure_id not in self.measures_written:
            self.measures_written.append(measure_id)
        self.notes_written += len(notes)
        await self.board.emit(
            self.record.id,
            "write",
            {
                "measure": measure_id,
                "part": part_id,
                "notes": len(notes),
                "suggestion": suggestion,
                "stale": stale,
            },
        )

    async def _stale(self, measure_id: str) -> None:
        if measure_id not in self.record.stale_measures:
            self.record.stale_measures.append(measure_id)
        await self.board.emit(self.record.id, "stale", {"measure": measure_id})


def _replace_cell(
    editor: ScoreEditor, measure: str, part: str, values: list[dict[str, Any]]
) -> None:
    """Replace the notes of the voices ``values`` write in one cell."""
    voices = {int(v.get("voice", 1)) for v in values} or {1}
    for note_id, raw in editor.score.raw_notes().items():
        if (
            isinstance(raw, dict)
            and raw.get("measure") == measure
            and raw.get("part") == part
            and int(raw.get("voice", 1)) in voices
        ):
            editor.delete_note(note_id)
    for value in values:
        extra = {k: value[k] for k in ("voice", "ties", "articulations") if k in value}
        editor.add_note(measure, part, value["onset"], value["duration"], value["pitches"], **extra)


# --- the whole task ----------------------------------------------------------------------


@dataclass
class Finished:
    """A finished run: its record and the undo manager of its origin (kept by whoever
    offers undo)."""

    record: TaskRecord
    undo: UndoManager | None
    waiting: bool = False  # suggestions wait for review; the agent's presence says so


async def _watch_cancel(run: TaskRun, every: float = 0.25) -> None:
    """Raise the run's ``cancelled`` flag as soon as a cancel is requested, so a brain
    that only reads or talks (and so never calls ``check``) sees it between its steps."""
    while not run._cancelled:
        await asyncio.sleep(every)
        if await run.board.cancel_requested(run.record.id):
            run._cancelled = True


async def run_task(
    session: ScoreSession,
    request: TaskRequest,
    brain: Brain,
    *,
    record: TaskRecord,
    board: TaskBoard,
    config: AgentConfig,
    memory: Memory | None = None,
    checker: Checker = quality_counts,
) -> Finished:
    """Run ``brain`` on ``request`` in ``session`` and finish the task (gate, presence,
    chat, record). Never raises for the brain's failures: they end in the record."""
    run = TaskRun(request, session, record, board, config, memory)
    undo = track(session)
    before_doc = ScoreDoc.from_update(session.doc.encode_state())
    record.status = "running"
    await board.save(record)
    await board.emit(
        record.id,
        "started",
        {"agent": request.persona.name, "instruction": request.instruction, "mode": request.mode},
    )
    result: BrainResult | None = None
    try:
        run.remember_bases(request.measure_ids)
        await run.status("reading", Focus(request.measure_ids or (), request.part_ids or ()))
        watcher = asyncio.create_task(_watch_cancel(run))
        try:
            async with asyncio.timeout(config.max_seconds):
                result = await brain.run(run)
        finally:
            watcher.cancel()
        await run.check()
        if run.measures_written:
            await _gate(run, before_doc, undo, checker)
        record.status = "done"
        record.summary = result.summary
        if result.summary:
            await run.say(result.summary)
    except TaskCancelled:
        record.status = "cancelled"
        await _discard(run, undo)
    except (TaskLimit, TimeoutError) as exc:
        record.status, record.error = "failed", str(exc) or "the task ran out of time"
        await _discard(run, undo)
        await _say_quietly(run, f"I stopped: {record.error}.")
    except Exception as exc:
        log.exception("agent task failed", extra={"task": record.id})
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        await _discard(run, undo)
        await _say_quietly(run, "Sorry, something went wrong; nothing was changed.")
    record.notes_written = run.notes_written
    # A brain counts through ``use_tokens`` or reports its total, or both: the larger.
    record.tokens_used = max(run.tokens_used, result.tokens_used if result else 0)
    record.finished = time.time()
    record.suggestions = [s for s in run.written.values() if s in session.doc.suggestions]
    waiting = awaiting_review(session.doc, record.id)
    try:
        if waiting:  # the caller clears the presence once people have decided
            run._status, run._focus = "waiting_for_review", Focus(tuple(run.measures_written))
            await session.set_presence(run.presence())
        else:
            await session.set_presence(None)
    except Exception:
        log.warning("could not set the agent's presence", extra={"task": record.id})
    await board.save(record)
    await board.emit(
        record.id,
        record.status,
        {
            "summary": record.summary,
            "error": record.error,
            "notes_written": record.notes_written,
            "suggestions": record.suggestions,
            "stale_measures": record.stale_measures,
            "report": record.report,
        },
    )
    return Finished(record, undo, waiting)


def awaiting_review(score: ScoreDoc, task_id: str) -> bool:
    """Whether any suggestion of the task is still pending (or accepted, being applied)."""
    return any(
        isinstance(raw, dict)
        and raw.get("task") == task_id
        and raw.get("status") in ("pending", "accepted")
        for raw in score.raw_suggestions().values()
    )


def _status_of(score: ScoreDoc, suggestion_id: str) -> str | None:
    raw = score.suggestions.get(suggestion_id)
    return raw.get("status") if isinstance(raw, dict) else None


async def _gate(run: TaskRun, before_doc: ScoreDoc, undo: UndoManager, checker: Checker) -> None:
    """Count faults before and after the task's writes; offer or withdraw them."""
    await run.status("thinking", Focus(tuple(run.measures_written)))
    measures = run.measures_written
    session = run.session
    if run.request.mode == "direct":
        before = checker(before_doc, measures)
        after = checker(session.doc, measures)
    else:
        before = checker(session.doc, measures)
        drafts = [s for s in run.written.values() if _status_of(session.doc, s) == "draft"]
        after = checker(with_suggestions(session.doc, drafts), measures)
    report = {"before": before, "after": after}
    run.record.report = report
    persona = run.request.persona
    if worse(after, before):
        await run.board.emit(run.record.id, "gate", {"offered": False, **report})
        await _discard(run, undo)
        run.record.suggestions = []
        raise TaskLimit(
            "the result would make the voice leading worse "
            f"(faults {before.get('score', 0)} -> {after.get('score', 0)}); "
            "it was not offered"
        )
    why = reason(persona.display_name, run.request.instruction, before, after)
    await run.board.emit(run.record.id, "gate", {"offered": True, "reason": why, **report})

    def offer(ed: ScoreEditor) -> None:
        for suggestion_id in run.written.values():
            if _status_of(ed.score, suggestion_id) == "draft":
                ed.update_suggestion(suggestion_id, status="pending", reason=why, report=report)
        ed.add_comment(persona.name, why, measure=measures[0])

    await session.edit(offer)


async def _discard(run: TaskRun, undo: UndoManager) -> None:
    """Withdraw whatever the task wrote (its origin only)."""
    if not run.measures_written and not run.written:
        return
    undo_all(undo)
    await run.session.flushed()


async def _say_quietly(run: TaskRun, text: str) -> None:
    try:
        await run.say(text)
    except Exception:
        log.warning("could not post to the chat", extra={"task": run.record.id})


def suggestions_of(score: ScoreDoc, task_id: str) -> list[Suggestion]:
    from score_model.suggestions import decode_suggestions

    decoded, _ = decode_suggestions(score.raw_suggestions())
    return [s for s in decoded.values() if s.task == task_id]
