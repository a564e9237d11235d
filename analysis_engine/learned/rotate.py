"""Transposition equivariance: features rotated to every candidate pitch class.

Features come as pitch-class channels ``[N, C, 12]`` (chroma vectors, one-hot bass, ...)
and invariant scalars ``[N, S]``. For each candidate pitch class ``t`` (a key's tonic, a
chord's root) the channels are rotated so that ``t`` is index 0, and one network scores
the classes relative to ``t``: the same weights serve all twelve transpositions.
"""

from __future__ import annotations

import numpy as np

_INDEX = (np.arange(12)[:, None] + np.arange(12)[None, :]) % 12  # [t, i] -> (t + i) % 12


def rotated(channels: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """``[N * 12, C * 12 + S]`` inputs, row ``n * 12 + t`` seen from pitch class ``t``."""
    n, c, _ = channels.shape
    turned = channels[:, :, _INDEX]  # [N, C, 12 t, 12 i]
    turned = turned.transpose(0, 2, 1, 3).reshape(n * 12, c * 12)
    repeated = np.repeat(scalars, 12, axis=0)
    return np.concatenate([turned, repeated], axis=1)
