"""The chord classes the model scores relative to a candidate root: every quality of
:data:`analysis_engine.chords.QUALITIES` with each of its inversions (32 in all)."""

from __future__ import annotations

import numpy as np

from analysis_engine.chords import QUALITIES

CLASSES: tuple[tuple[int, int], ...] = tuple(
    (quality, inversion)
    for quality, (_, intervals) in enumerate(QUALITIES)
    for inversion in range(len(intervals))
)
CLASS_QUALITY = np.array([q for q, _ in CLASSES], dtype=np.int64)
CLASS_INVERSION = np.array([i for _, i in CLASSES], dtype=np.int64)
CLASS_INDEX = {pair: index for index, pair in enumerate(CLASSES)}


def decode(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root pitch class, quality and inversion from indices into ``[12 roots x CLASSES]``."""
    flat = np.asarray(flat, dtype=np.int64)
    root, index = np.divmod(flat, len(CLASSES))
    return root, CLASS_QUALITY[index], CLASS_INVERSION[index]
