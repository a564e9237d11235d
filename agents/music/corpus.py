"""The Bach chorales of music21's corpus, split once into a bench set and a learning set.

The bench (``bench/bench_harmonise.py``) scores the harmoniser on every tenth chorale in
name order; :mod:`agents.music.learn` learns its statistics only from the others, so the
bench never measures what was learned from it.
"""

from __future__ import annotations

import os
from pathlib import Path

BENCH_STRIDE = 10


def corpus_dir() -> Path:
    import music21

    return Path(os.path.dirname(music21.__file__)) / "corpus"


def chorales() -> list[Path]:
    """Every ``bach/bwv*.mxl`` of the corpus, sorted by name."""
    return sorted((corpus_dir() / "bach").glob("bwv*.mxl"))


def bench_chorales() -> list[Path]:
    """Every tenth chorale (41 of 410): the held-out bench set."""
    return chorales()[::BENCH_STRIDE]


def learning_chorales() -> list[Path]:
    """The chorales not in the bench set."""
    held_out = set(bench_chorales())
    return [p for p in chorales() if p not in held_out]
