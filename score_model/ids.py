"""Stable, unique, short ids for parts, measures, notes, comments and chat messages."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijkmnpqrstuvwxyz"  # no 'l' or 'o'


def new_id(prefix: str) -> str:
    """A random id such as ``n_3kf9x0q2mz7w`` (60 bits: collisions are negligible)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(12))
