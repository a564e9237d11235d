"""Suggestions (schema version 2): notes an agent proposes for one (measure, part) cell,
kept beside the score until a person accepts or rejects them.

A suggestion is a JSON value in the ``suggestions`` root (Y.Map: id → value)::

    {"task": "t_…", "agent": "aureon", "measure": "m_…", "part": "p_…",
     "notes": [{"onset": "0", "duration": "1", "pitches": ["E4"]}, …],
     "base": "3f2a…", "status": "pending", "reason": "…", "report": {…}}

``base`` is :func:`measure_base` of the measure as the agent read it: a hash of every
note of the measure (all parts). Accepting applies the notes only while the measure still
has that base; otherwise the suggestion is *stale* and a person's notes are never
overwritten. See docs/score-schema.md, section "suggestions".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from score_model.schema import Note, SchemaError, _str_field

#: draft: the agent is still writing (not yet checked); pending: offered for review;
#: accepted: a person asked for it to be applied (the server applies it); applied: done;
#: stale: the measure changed since the agent read it; rejected: declined (may be deleted).
STATUSES = frozenset({"draft", "pending", "accepted", "applied", "stale", "rejected"})
OPEN = frozenset({"draft", "pending", "accepted"})
FIELDS = frozenset(
    {
        "task",
        "agent",
        "measure",
        "part",
        "notes",
        "base",
        "status",
        "reason",
        "report",
        "created",
        "by",
    }
)
MAX_NOTES = 256


@dataclass(frozen=True)
class Suggestion:
    """One cell's proposed notes (note values without ``measure`` and ``part``)."""

    id: str
    task: str
    agent: str
    measure: str
    part: str
    notes: tuple[dict[str, Any], ...]
    base: str
    status: str = "pending"
    reason: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "agent": self.agent,
            "measure": self.measure,
            "part": self.part,
            "notes": [dict(n) for n in self.notes],
            "base": self.base,
            "status": self.status,
            "reason": self.reason,
            "report": dict(self.report),
        }
        if self.by is not None:
            out["by"] = self.by
        return out

    def note_values(self) -> list[dict[str, Any]]:
        """The notes as full note values of the schema (with measure and part)."""
        return [{**n, "measure": self.measure, "part": self.part} for n in self.notes]

    @classmethod
    def from_json(cls, suggestion_id: str, raw: Any) -> Suggestion:
        """Decode a stored suggestion; :class:`SchemaError` if off-schema (its notes are
        checked as notes of the schema)."""
        if not isinstance(raw, dict):
            raise SchemaError("suggestion must be a JSON object", field_name="suggestion")
        unknown = set(raw) - FIELDS
        if unknown:
            raise SchemaError(
                f"unknown suggestion fields: {', '.join(sorted(unknown))}", field_name="suggestion"
            )
        strings = {
            name: _str_field(raw, name, required=True, max_length=200)
            for name in ("task", "agent", "measure", "part", "base")
        }
        status = raw.get("status")
        if status not in STATUSES:
            raise SchemaError(
                f"suggestion status {status!r} is not one of {sorted(STATUSES)}",
                field_name="suggestion",
            )
        notes = raw.get("notes")
        if not isinstance(notes, list) or len(notes) > MAX_NOTES:
            raise SchemaError(
                f"suggestion notes must be a list of at most {MAX_NOTES}", field_name="suggestion"
            )
        for index, note in enumerate(notes):
            if not isinstance(note, dict):
                raise SchemaError("suggestion notes must be objects", field_name="suggestion")
            Note.from_json(
                f"{suggestion_id}.{index}",
                {**note, "measure": strings["measure"], "part": strings["part"]},
            )
        reason, report = raw.get("reason", ""), raw.get("report", {})
        if not isinstance(reason, str) or not isinstance(report, dict):
            raise SchemaError(
                "reason must be a string and report an object", field_name="suggestion"
            )
        by = raw.get("by")
        return cls(
            suggestion_id,
            str(strings["task"]),
            str(strings["agent"]),
            str(strings["measure"]),
            str(strings["part"]),
            tuple(dict(n) for n in notes),
            str(strings["base"]),
            status,
            reason,
            dict(report),
            by if isinstance(by, str) else None,
        )


def measure_base(raw_notes: Mapping[str, Any], measure: str) -> str:
    """A hash of every note of ``measure`` (ids and values, all parts): what an agent
    read of it. Any change a person makes to the measure changes it."""
    cell = sorted(
        (note_id, value)
        for note_id, value in raw_notes.items()
        if isinstance(value, dict) and value.get("measure") == measure
    )
    text = json.dumps(cell, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def applied_note_id(suggestion_id: str, index: int) -> str:
    """The id the ``index``-th note of a suggestion gets when applied: derived from the
    suggestion, so two instances applying one acceptance write the same notes."""
    return f"n_{suggestion_id.removeprefix('g_')}{index:x}"[:64]


def decode_suggestions(raw: Mapping[str, Any]) -> tuple[dict[str, Suggestion], list[str]]:
    """Readable suggestions by id, and the ids of off-schema ones."""
    out: dict[str, Suggestion] = {}
    bad = []
    for suggestion_id, value in raw.items():
        try:
            out[suggestion_id] = Suggestion.from_json(suggestion_id, value)
        except SchemaError:
            bad.append(suggestion_id)
    return out, bad


def by_task(suggestions: Iterable[Suggestion], task: str) -> list[Suggestion]:
    return [s for s in suggestions if s.task == task]
