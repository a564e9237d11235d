"""The network: dense layers with ReLU, forward pass only (training is in bench/)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def forward(x: np.ndarray, layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Logits of ``x`` (``[N, D]``) through ``(weight, bias)`` layers, ReLU between them."""
    h = x.astype(np.float32, copy=False)
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities (``[N, K]``)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
