"""The :class:`Embedder` protocol: texts in, unit-length float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Maps texts to rows of L2-normalised vectors (cosine similarity is a dot product).
    ``name`` identifies the model: vectors of different names are never compared."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row of ``dimension`` float32 per text (CPU-bound: call it in a thread)."""
        ...
