"""What analyses share: the note table, settings, a memo, and derived products.

An :class:`AnalysisContext` wraps one :class:`NoteTable`. Products several analyses need
(the vertical slices, per-measure statistics, the key timeline) are computed once per
context on first use. The :class:`~analysis_engine.memo.Memo` outlives the context in
incremental use, so a product recomputes only the measures whose inputs changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from analysis_engine.memo import Memo
from analysis_engine.notetable import NoteTable

if TYPE_CHECKING:
    from analysis_engine.key import KeyTimeline
    from analysis_engine.slices import SliceSet
    from analysis_engine.stats import MeasureStats

PROFILES = ("aarden", "krumhansl", "temperley", "bellman")


@dataclass(frozen=True, slots=True)
class Settings:
    """Tunable parameters of the analyses (the defaults are what the docs measured)."""

    key_profile: str = "aarden"  # global key
    local_profile: str = "temperley"  # key of each measure
    key_window: int = 1  # measures either side of the one being judged
    modulation_cost: float = 0.1  # Viterbi cost of a key change ...
    modulation_distance_cost: float = 0.05  # ... plus this per step on the circle of fifths
    signature_weight: float = 0.05  # global key: bonus for agreeing with the notated signature
    final_weight: float = 0.05  # global key: bonus when the last bass note is the tonic
    vocal: bool | None = None  # force (True) or forbid (False) SATB rules; None: guess

    def __post_init__(self) -> None:
        for name in (self.key_profile, self.local_profile):
            if name not in PROFILES:
                raise ValueError(f"key profiles must be among {PROFILES}, not {name!r}")
        if not 0 <= self.key_window <= 16:
            raise ValueError("key_window must be from 0 to 16 measures")


class AnalysisContext:
    """A note table with the settings, the memo and the shared products of one run."""

    def __init__(self, table: NoteTable, settings: Settings | None = None,
                 memo: Memo | None = None) -> None:
        self.table = table
        self.settings = settings or Settings()
        self.memo = memo if memo is not None else Memo()

    @cached_property
    def slices(self) -> SliceSet:
        from analysis_engine.slices import slice_set

        return slice_set(self)

    @cached_property
    def stats(self) -> MeasureStats:
        from analysis_engine.stats import measure_stats

        return measure_stats(self)

    @cached_property
    def keys(self) -> KeyTimeline:
        from analysis_engine.key import key_timeline

        return key_timeline(self)
