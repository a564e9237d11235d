"""all-MiniLM-L6-v2 in numpy against reference vectors made once by
sentence-transformers 6.3 (torch, CPU) with ``encode(..., normalize_embeddings=True)``:
minilm_reference.json (six texts: short, empty, accented, longer than 256 tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis_engine.embeddings.minilm import MiniLmEmbedder

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder()


def test_vectors_match_sentence_transformers(embedder: MiniLmEmbedder) -> None:
    got = embedder.embed(REFERENCE["sentences"])
    want = np.array(REFERENCE["vectors"], np.float32)
    assert got.shape == (6, 384) and got.dtype == np.float32
    cosine = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() > 1 - 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_vectors(embedder: MiniLmEmbedder) -> None:
    texts = REFERENCE["sentences"][:3]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert embedder.embed([]).shape == (0, 384)


def test_similar_meanings_are_closer(embedder: MiniLmEmbedder) -> None:
    a, b, c = embedder.embed(
        ["a sad slow piece in a minor key", "a melancholy adagio", "invoice for car repairs"]
    )
    assert a @ b > a @ c + 0.2
