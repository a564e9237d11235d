"""The ``key`` analysis: the global key with its alternatives, the key of every measure
and the modulations, from the key timeline (:mod:`analysis_engine.key`); a modulation is
reported where its new key starts, which may be inside a bar (the slices' keys,
:attr:`analysis_engine.context.AnalysisContext.slice_keys`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.key import key_mode
from analysis_engine.labels import key_label
from analysis_engine.registry import analysis
from analysis_engine.units import ticks_to_str


@analysis("key")
def key_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Global key with alternatives; the key of every measure; modulations."""
    keys = ctx.keys
    grid = ctx.table.grid
    ranked = np.argsort(-keys.scores, kind="stable")
    best = int(ranked[0])
    alternatives = [
        {"key": keys.name(int(k)), "correlation": _round(keys.correlations[k])} for k in ranked[1:5]
    ]
    timeline = []
    modulations = []
    previous = -1
    for m in range(grid.size):
        k = int(keys.path[m])
        name = keys.name(k, m)
        timeline.append(
            {
                "measure": grid.ids[m],
                "number": int(grid.numbers[m]),
                "key": name,
                "label": key_label(name),
                "confidence": _round(keys.windows[m, k]),
            }
        )
        if previous >= 0 and k != previous:
            at, onset = _change_at(ctx, m, k)
            modulations.append(
                {
                    "measure": grid.ids[at],
                    "number": int(grid.numbers[at]),
                    "onset": ticks_to_str(onset),
                    "beat": round((int(grid.phase[at]) + onset) / int(grid.beat[at]) + 1, 3),
                    "from": keys.name(previous, m),
                    "to": name,
                    "label": f"to {key_label(name)}",
                }
            )
        previous = k
    return {
        "key": keys.name(best),
        "label": key_label(keys.name(best)),
        "tonic": keys.name(best).split()[0].capitalize(),
        "mode": key_mode(best),
        "correlation": _round(keys.correlations[best]),
        "margin": _round(keys.scores[best] - keys.scores[int(ranked[1])]),
        "alternatives": alternatives,
        "profile": ctx.settings.key_profile,
        "local_profile": ctx.settings.local_profile,
        "window": 2 * ctx.settings.key_window + 1,
        "measures": timeline,
        "modulations": modulations,
    }


def _change_at(ctx: AnalysisContext, m: int, key: int) -> tuple[int, int]:
    """Where the change of key to ``key`` that the path puts at measure ``m`` starts:
    measure index and ticks into it (the slices' keys may place it inside the bar before
    ``m`` or inside ``m``)."""
    slice_keys, measures = ctx.slice_keys, ctx.rule_slices.measures
    before = slice_keys[m - 1].tolist()
    first = len(before)
    while first > 0 and before[first - 1] == key:
        first -= 1
    if first < len(before):
        return m - 1, int(measures[m - 1].start[first])
    here = slice_keys[m].tolist()
    if key not in here and m + 1 < len(slice_keys):
        return m + 1, 0  # the old key holds the whole bar
    i = here.index(key) if key in here else 0
    return m, int(measures[m].start[i]) if i else 0


def _round(value: float) -> float:
    return round(float(value), 4)
