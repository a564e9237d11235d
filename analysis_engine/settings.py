"""The tunable parameters of the analyses, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass

from analysis_engine.profiles import PROFILES


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Tunable parameters of the analyses (the defaults are what the docs measured)."""

    key_profile: str = "aarden"  # global key
    local_profile: str = "temperley"  # key of each measure
    key_window: int = 1  # measures either side of the one being judged
    modulation_cost: float = 0.1  # Viterbi cost of a key change ...
    modulation_distance_cost: float = 0.05  # ... plus this per step on the circle of fifths
    signature_weight: float = 0.05  # global key: bonus for agreeing with the notated signature
    final_weight: float = 0.05  # global key: bonus when the last bass note is the tonic
    vocal: bool | None = None  # force (True) or forbid (False) SATB rules; None: guess
    learned: bool = True  # local keys and chord labels from the learned model (docs/analysis.md)
    sequence: bool = True  # ... with the sequence model joining the MLPs (when learned)

    def __post_init__(self) -> None:
        for name in (self.key_profile, self.local_profile):
            if name not in PROFILES:
                raise ValueError(f"key profiles must be among {tuple(PROFILES)}, not {name!r}")
        if not 0 <= self.key_window <= 16:
            raise ValueError("key_window must be from 0 to 16 measures")
