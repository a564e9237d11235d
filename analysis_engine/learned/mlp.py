"""The network: dense layers with ReLU, forward pass only (training is in bench/)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis_engine.learned.rotate import first_layer


def forward(
    x: np.ndarray, layers: Sequence[tuple[np.ndarray, np.ndarray]], relu_first: bool = False
) -> np.ndarray:
    """Logits of ``x`` (``[N, D]``) through ``(weight, bias)`` layers, ReLU between them
    (and on ``x`` itself with ``relu_first``: ``x`` is then a layer's pre-activation)."""
    h = x.astype(np.float32, copy=False)
    if relu_first:
        h = np.maximum(h, 0.0)
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def equivariant_forward(
    channels: np.ndarray,
    scalars: np.ndarray,
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    unrolled: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """:func:`forward` of the :func:`~analysis_engine.learned.rotate.rotated` inputs
    (``[N * 12, K]``), the first layer through its unrolled weights."""
    h = first_layer(channels, scalars, unrolled, layers[0][1])
    return forward(h, layers[1:], relu_first=len(layers) > 1) if len(layers) > 1 else h


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities (``[N, K]``)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
