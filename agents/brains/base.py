"""The brain protocol: a brain reads a task, the score and its analysis through a
:class:`TaskContext` and writes notes through it; the runtime does the rest (presence,
suggestions or direct edits, stale protection, the quality gate, limits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Protocol

from agents.personas import Persona
from agents.session import ScoreSession
from score_model.schema import format_fraction

Mode = Literal["suggest", "direct"]
Status = Literal["reading", "thinking", "writing", "waiting_for_review"]


@dataclass(frozen=True, slots=True)
class NoteSpec:
    """A note to write into one measure and part (the note value of docs/score-schema.md
    without its measure and part): onset and duration in quarters, pitches (``()`` a rest)."""

    onset: Fraction
    duration: Fraction
    pitches: tuple[str, ...] = ()
    voice: int = 1
    ties: tuple[str | None, ...] = ()
    articulations: tuple[str, ...] = ()

    def to_json(self, measure: str, part: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "measure": measure,
            "part": part,
            "onset": format_fraction(self.onset),
            "duration": format_fraction(self.duration),
            "pitches": list(self.pitches),
        }
        if self.voice != 1:
            out["voice"] = self.voice
        if any(self.ties):
            out["ties"] = list(self.ties)
        if self.articulations:
            out["articulations"] = list(self.articulations)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> NoteSpec:
        return cls(
            Fraction(str(raw["onset"])),
            Fraction(str(raw["duration"])),
            tuple(raw.get("pitches", ())),
            int(raw.get("voice", 1)),
            tuple(raw.get("ties", ())),
            tuple(raw.get("articulations", ())),
        )


@dataclass(frozen=True, slots=True)
class Focus:
    """Where an agent works: measure and part ids (shown by clients as a highlight)."""

    measures: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"measures": list(self.measures), "parts": list(self.parts)}


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """What was asked of an agent."""

    persona: Persona
    instruction: str
    measure_ids: tuple[str, ...] | None = None
    part_ids: tuple[str, ...] | None = None
    mode: Mode = "suggest"


@dataclass
class BrainResult:
    """What a brain reports when it is done."""

    summary: str
    notes_written: int = 0
    tokens_used: int = 0
    details: dict[str, Any] = field(default_factory=dict)


class TaskContext(Protocol):
    """What a brain can do while it runs one task."""

    @property
    def request(self) -> TaskRequest: ...

    @property
    def session(self) -> ScoreSession: ...

    @property
    def cancelled(self) -> bool: ...

    async def status(self, status: Status, focus: Focus | None = None) -> None:
        """Show what the agent is doing (its presence)."""
        ...

    async def say(self, text: str) -> None:
        """Post to the score's chat as the agent."""
        ...

    async def stream(self, text: str) -> None:
        """Show a piece of the agent's text as it is produced (task progress, not chat)."""
        ...

    async def write(self, measure_id: str, part_id: str, notes: list[NoteSpec]) -> None:
        """Propose (suggest mode) or write (direct mode) the notes of one cell, replacing
        what is there. The runtime records what the agent read, skips stale cells and
        checks quality."""
        ...

    def read_measures(self, measure_ids: list[str] | None = None) -> str:
        """A compact text reading of measures (all, or the task's range)."""
        ...

    def analysis(self) -> dict[str, Any]:
        """Analysis results of the score (key, harmony, voice-leading issues...)."""
        ...

    def use_tokens(self, count: int) -> None:
        """Count model tokens against the task's budget; raises when it is spent."""
        ...


class Brain(Protocol):
    async def run(self, ctx: TaskContext) -> BrainResult: ...
