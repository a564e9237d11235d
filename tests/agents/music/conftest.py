"""Bach chorales from music21's corpus, imported once per test session."""

from __future__ import annotations

from functools import lru_cache

import pytest

from agents.music.corpus import corpus_dir
from agents.music.harmonise import Harmonisation, harmonise
from agents.music.view import ScoreView, extract_view
from score_model.document import ScoreDoc
from score_model.importer import import_score

CHORALES = ("bwv165.6", "bwv177.4")  # e minor and G major, both in the bench set


@lru_cache(maxsize=8)
def chorale_state(name: str) -> bytes:
    path = corpus_dir() / "bach" / f"{name}.mxl"
    return import_score(path.read_bytes(), path.name).encode_state()


def chorale_doc(name: str) -> ScoreDoc:
    """A fresh document holding the chorale (safe to edit)."""
    return ScoreDoc.from_update(chorale_state(name))


@lru_cache(maxsize=8)
def chorale_view(name: str) -> ScoreView:
    return extract_view(chorale_doc(name))


@lru_cache(maxsize=8)
def harmonised(name: str) -> Harmonisation:
    return harmonise(chorale_view(name), "Soprano")


@pytest.fixture(params=CHORALES)
def chorale(request: pytest.FixtureRequest) -> str:
    return str(request.param)
