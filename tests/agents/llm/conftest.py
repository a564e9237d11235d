"""Fixtures for the LLM brain and tool tests: a small score in an in-memory session."""

from __future__ import annotations

import pytest

from agents.brains.base import TaskRequest
from agents.config import AgentConfig
from agents.personas import get_persona
from agents.tools.context import DirectContext
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.agents.llm.doc_session import DocSession


@pytest.fixture
def score() -> ScoreDoc:
    """Soprano and Bass, two bars of 4/4 in C; the soprano sings C5 D5 E5 F5 in m1."""
    doc = ScoreDoc()
    editor = ScoreEditor(doc)
    ids = editor.create_score(title="Test", parts=["Soprano", "Bass"], measures=2)
    for onset, pitch in enumerate(("C5", "D5", "E5", "F5")):
        editor.add_note(ids["measures"][0], ids["parts"][0], onset, 1, pitch)
    return doc


@pytest.fixture
def session(score: ScoreDoc) -> DocSession:
    return DocSession(score, Origin.agent("aureon:t1"), name="aureon")


def make_context(
    session: DocSession,
    persona: str = "aureon",
    instruction: str = "help",
    config: AgentConfig | None = None,
) -> DirectContext:
    request = TaskRequest(get_persona(persona), instruction, mode="direct")
    return DirectContext(session, request, config=config)


def cell(doc: ScoreDoc, measure: int, part: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """(onset, duration, pitches) of a cell, by 0-based measure and part index."""
    data = doc.read()
    key = (data.measures[measure].id, data.parts[part].id)
    return [(str(n.onset), str(n.duration), n.pitches) for n in data.notes_by_cell().get(key, [])]
