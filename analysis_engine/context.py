"""What analyses share: the note table, settings, a memo, and derived products.

An :class:`AnalysisContext` wraps one :class:`NoteTable`. Products several analyses need
(the vertical slices, per-measure statistics, the key timeline) are computed once per
context on first use. They are plain functions of their inputs and never see the context,
so none of their modules imports this one. The :class:`~analysis_engine.memo.Memo`
outlives the context in incremental use, so a product recomputes only the measures whose
inputs changed.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property

import numpy as np

from analysis_engine.key import KeyTimeline, key_timeline
from analysis_engine.learned.chord_model import (
    Features,
    measure_features,
    neighbourhood_keys,
    relabelled,
)
from analysis_engine.learned.key_model import learned_timeline
from analysis_engine.learned.sequence import MeasureOutputs, load_sequence, measure_outputs
from analysis_engine.learned.turns import change_point, measure_keys, place_changes
from analysis_engine.learned.weights import load_weights
from analysis_engine.memo import Memo
from analysis_engine.notetable import NoteTable
from analysis_engine.settings import AnalysisSettings
from analysis_engine.slices import SliceSet, slice_set
from analysis_engine.stats import MeasureStats, measure_stats


class AnalysisContext:
    """A note table with the settings, the memo and the shared products of one run."""

    def __init__(
        self, table: NoteTable, settings: AnalysisSettings | None = None, memo: Memo | None = None
    ) -> None:
        self.table = table
        self.settings = settings or AnalysisSettings()
        self.memo = memo if memo is not None else Memo()

    @cached_property
    def rule_slices(self) -> SliceSet:
        """The slices labelled by the rules (:mod:`analysis_engine.chords`)."""
        return slice_set(self.table, self.memo)

    @cached_property
    def feature_keys(self) -> list[Hashable]:
        """Per measure, what the learned chord features depend on."""
        return neighbourhood_keys(self.rule_slices, self.table.grid)

    @cached_property
    def chord_features(self) -> list[Features]:
        """Per measure, the learned networks' chord features of its slices."""
        return measure_features(self.rule_slices, self.table.grid, self.feature_keys, self.memo)

    @cached_property
    def sequence(self) -> MeasureOutputs | None:
        """The sequence model's keys and chords per slice (None unless ``settings.learned``
        and ``settings.sequence``)."""
        if not (self.settings.learned and self.settings.sequence):
            return None
        return measure_outputs(self.feature_keys, self.chord_features, self.memo, load_sequence())

    @cached_property
    def slices(self) -> SliceSet:
        """The slices, labelled by the learned model unless ``settings.learned`` is off."""
        if not self.settings.learned:
            return self.rule_slices
        return relabelled(
            self.rule_slices,
            self.feature_keys,
            self.chord_features,
            self.memo,
            load_weights(),
            self.sequence,
        )

    @cached_property
    def stats(self) -> MeasureStats:
        return measure_stats(self.table, self.rule_slices, self.memo)

    @cached_property
    def keys(self) -> KeyTimeline:
        rule = key_timeline(self.table, self.settings, self.memo, self.stats, self.rule_slices)
        if not self.settings.learned:
            return rule
        sequence = self.sequence
        return learned_timeline(
            rule,
            self.table.grid,
            self.stats.pc_time,
            self.rule_slices,
            self.memo,
            load_weights(),
            None if sequence is None else sequence.measure_key_scores(),
        )

    @cached_property
    def slice_keys(self) -> list[np.ndarray]:
        """The key of every slice, per measure (0-11 major, 12-23 minor tonics): the
        measure's key, except that the learned model places each change of key at the
        slice of its two measures where it falls (:mod:`analysis_engine.learned.turns`)."""
        path = self.keys.path
        measures = self.rule_slices.measures
        turns = load_weights().turns if self.settings.learned else None
        if turns is None:
            return measure_keys(path, measures)

        def points(changes: list[int]) -> list[int]:
            pairs = [(m, int(path[m]), int(path[m + 1])) for m in changes]

            def compute(missing: list[int]) -> list[int]:
                return [
                    change_point(measures[m], measures[m + 1], old, new, turns)
                    for m, old, new in (pairs[i] for i in missing)
                ]

            keys = [(measures[m].stamp, measures[m + 1].stamp, old, new) for m, old, new in pairs]
            return self.memo.many("learned.turns", keys, compute)

        return place_changes(path, measures, turns, points)
