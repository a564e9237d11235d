""":class:`DirectContext`: a :class:`~agents.brains.base.TaskContext` over a
:class:`~agents.session.ScoreSession` that writes straight into the score (direct mode).

The MCP server uses it: an outside assistant acts like a person at a keyboard. Tasks
started in the score (chat, REST, CLI) get the runtime's context instead, which adds the
suggestion layer, stale protection and the quality gate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.brains.base import Focus, NoteSpec, Status, TaskRequest
from agents.config import AgentConfig
from agents.session import ScoreSession
from agents.tools.reading import read_text
from agents.tools.refs import ToolError
from score_model.document import ScoreData
from score_model.ops import ScoreEditor


class BudgetSpent(RuntimeError):
    """The task has used its model tokens."""


class DirectContext:
    """Run tools for ``request`` in ``session``; writes replace cells at once."""

    def __init__(
        self,
        session: ScoreSession,
        request: TaskRequest,
        *,
        config: AgentConfig | None = None,
        analyse: Callable[[ScoreData], dict[str, Any]] | None = None,
    ) -> None:
        self._session = session
        self._request = request
        self.config = config or AgentConfig()
        self._analyse = analyse
        self._cancelled = False
        self.tokens_used = 0
        self.notes_written = 0
        self.said: list[str] = []

    @property
    def request(self) -> TaskRequest:
        return self._request

    @property
    def session(self) -> ScoreSession:
        return self._session

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    async def status(self, status: Status, focus: Focus | None = None) -> None:
        persona = self._request.persona
        await self._session.set_presence(
            {
                "status": status,
                "agent": persona.name,
                "focus": focus.to_json() if focus is not None else None,
            }
        )

    async def say(self, text: str) -> None:
        self.said.append(text)
        await self._session.post_chat(text, kind="agent")

    async def stream(self, text: str) -> None:
        """Nothing shows a direct context's progress: its caller gets the final text."""

    async def write(self, measure_id: str, part_id: str, notes: list[NoteSpec]) -> None:
        if self.notes_written + len(notes) > self.config.max_notes:
            raise ToolError(f"this task may write at most {self.config.max_notes} notes")

        def replace_cell(editor: ScoreEditor) -> None:
            for note_id, raw in list(editor.score.raw_notes().items()):
                if (
                    isinstance(raw, dict)
                    and raw.get("measure") == measure_id
                    and raw.get("part") == part_id
                ):
                    editor.delete_note(note_id)
            for note in notes:
                raw = note.to_json(measure_id, part_id)
                editor.add_note(
                    measure_id,
                    part_id,
                    raw.pop("onset"),
                    raw.pop("duration"),
                    raw.pop("pitches"),
                    **{k: v for k, v in raw.items() if k not in ("measure", "part")},
                )

        await self._session.edit(replace_cell)
        self.notes_written += len(notes)

    def read_measures(self, measure_ids: list[str] | None = None) -> str:
        ids = measure_ids if measure_ids is not None else self._request.measure_ids
        return read_text(self._session.doc.read(), ids, self._request.part_ids)

    def analysis(self) -> dict[str, Any]:
        data = self._session.doc.read()
        if self._analyse is not None:
            return self._analyse(data)
        from analysis_engine.jobs import analyse_document

        return analyse_document(data)

    def use_tokens(self, count: int) -> None:
        self.tokens_used += count
        if self.tokens_used > self.config.max_tokens:
            raise BudgetSpent(f"{self.tokens_used} tokens used of {self.config.max_tokens}")
