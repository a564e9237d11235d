"""The trained weights, shipped as package data (``weights.npz``) and loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis_engine.learned.features import CHORD_CHANNELS, KEY_CHANNELS
from analysis_engine.learned.rotate import rotated_weights
from analysis_engine.learned.turns import TurnModel

WEIGHTS_PATH = Path(__file__).with_name("weights.npz")
Layers = tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclass(frozen=True, eq=False)
class Weights:
    """The key network, the chord network (``(weight, bias)`` per layer), the key
    change cost the training chose and where changes fall inside the bar (None in a
    weights file without it)."""

    key: Layers
    chord: Layers
    key_change_cost: float
    key_unrolled: tuple[np.ndarray, np.ndarray]  # first layers over the 12 rotations
    chord_unrolled: tuple[np.ndarray, np.ndarray]
    turns: TurnModel | None = None


def layers(arrays: dict[str, np.ndarray], prefix: str) -> Layers:
    """``prefix_w0, prefix_b0, prefix_w1, ...`` as ``(weight, bias)`` pairs (float32)."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while f"{prefix}_w{len(out)}" in arrays:
        i = len(out)
        out.append(
            (
                arrays[f"{prefix}_w{i}"].astype(np.float32),
                arrays[f"{prefix}_b{i}"].astype(np.float32),
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def load_weights(path: Path = WEIGHTS_PATH) -> Weights:
    """The weights in ``path`` (by default the packaged ones)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    key, chord = layers(arrays, "key"), layers(arrays, "chord")
    return Weights(
        key,
        chord,
        float(arrays["key_change_cost"]),
        rotated_weights(key[0][0], KEY_CHANNELS),
        rotated_weights(chord[0][0], CHORD_CHANNELS),
        TurnModel(
            arrays["turn_pitch"].astype(np.float64),
            arrays["turn_chord"].astype(np.float64),
            float(arrays["turn_cost"]),
        )
        if "turn_cost" in arrays
        else None,
    )
