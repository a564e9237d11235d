"""The ``key`` analysis: the global key with its alternatives, the key of every measure
and the modulations, from the key timeline (:mod:`analysis_engine.key`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.key import key_mode
from analysis_engine.labels import key_label
from analysis_engine.registry import analysis


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
            modulations.append(
                {
                    "measure": grid.ids[m],
                    "number": int(grid.numbers[m]),
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


def _round(value: float) -> float:
    return round(float(value), 4)
