"""Undo of an agent's own changes: a pycrdt ``UndoManager`` tracking only the session's
origin, so people's changes made meanwhile (in the same measures too) stay."""

from __future__ import annotations

from pycrdt import UndoManager

from agents.session import ScoreSession


def track(session: ScoreSession) -> UndoManager:
    """An undo manager recording exactly ``session``'s own changes."""
    doc = session.doc
    manager = UndoManager(
        scopes=[doc.notes, doc.measures, doc.parts, doc.suggestions, doc.comments],
        capture_timeout_millis=0,
    )
    manager.include_origin(session.origin)
    return manager


def undo_all(manager: UndoManager) -> int:
    """Revert everything ``manager`` recorded (a task's own changes; people's changes
    made since stay); return the number of steps. The caller waits for the room to store
    the result."""
    steps = 0
    while manager.can_undo():
        manager.undo()
        steps += 1
    manager.clear()
    return steps
