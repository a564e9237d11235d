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


def rotated_weights(weight: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """A first layer ``[C * 12 + S, H]`` unrolled over the twelve rotations: ``[C * 12,
    12 * H]`` for the channels and ``[S, H]`` for the scalars, so that
    ``channels @ unrolled`` gives every rotation's pre-activation without building the
    rotated inputs (see :func:`first_layer`)."""
    hidden = weight.shape[1]
    pcs = weight[: channels * 12].reshape(channels, 12, hidden)
    # unrolled[c, j, t, :] = pcs[c, (j - t) % 12, :]
    unrolled = pcs[:, (np.arange(12)[:, None] - np.arange(12)[None, :]) % 12, :]
    return unrolled.reshape(channels * 12, 12 * hidden), weight[channels * 12 :]


def first_layer(
    channels: np.ndarray,
    scalars: np.ndarray,
    unrolled: tuple[np.ndarray, np.ndarray],
    bias: np.ndarray,
) -> np.ndarray:
    """The first layer's pre-activations ``[N * 12, H]`` of :func:`rotated` inputs, computed
    from the unrolled weights of :func:`rotated_weights`."""
    n, c, _ = channels.shape
    pcs, per_scalar = unrolled
    hidden = per_scalar.shape[1]
    flat = channels.reshape(n, c * 12).astype(np.float32, copy=False)
    h = (flat @ pcs).reshape(n, 12, hidden)
    h += (scalars.astype(np.float32, copy=False) @ per_scalar + bias)[:, None, :]
    return h.reshape(n * 12, hidden)
