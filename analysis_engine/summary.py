"""Summary: note counts, length, pitch-class histogram and texture.

Sums of per-measure statistics (:mod:`analysis_engine.stats`, cached per measure).
Texture is the average number of voices (part and voice streams) sounding while anything
sounds, and a homophony index: of the attacks made while several voices sound, the share
in which all sounding voices attack together (1 when all voices move in the same rhythm,
0 in a canon whose voices never coincide). The hint reads: monophonic below 1.25 voices on
average, homophonic from an index of 0.7, polyphonic below 0.4, mixed between.

Reference: D. Huron, "Characterizing musical textures", ICMC 1989 (onset synchrony as a
measure of textural density and homophony).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis_engine.context import AnalysisContext
from analysis_engine.registry import analysis
from analysis_engine.stats import TEXTURE_FIELDS
from analysis_engine.units import TPQ

PC_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def texture_hint(average_voices: float, homophony: float) -> str:
    if average_voices < 1.25:
        return "monophonic"
    if homophony >= 0.7:
        return "homophonic"
    if homophony < 0.4:
        return "polyphonic"
    return "mixed"


@analysis("summary")
def summary_analysis(ctx: AnalysisContext) -> dict[str, Any]:
    """Counts, duration, pitch-class histogram and texture of the whole score."""
    table, stats = ctx.table, ctx.stats
    grid = table.grid
    texture = (
        dict(zip(TEXTURE_FIELDS, stats.texture.sum(axis=0).tolist(), strict=True))
        if (grid.size)
        else dict.fromkeys(TEXTURE_FIELDS, 0)
    )
    max_voices = int(stats.texture[:, 2].max()) if grid.size else 0
    average = texture["voice_time"] / texture["sound_time"] if texture["sound_time"] else 0.0
    homophony = (
        texture["together"] / texture["shared_attacks"] if texture["shared_attacks"] else 1.0
    )
    pc_time = stats.pc_time.sum(axis=0) if grid.size else np.zeros(12, dtype=np.int64)
    pc_attacks = stats.pc_attacks.sum(axis=0) if grid.size else np.zeros(12, dtype=np.int64)
    per_part = []
    for p, part_id in enumerate(table.part_ids):
        per_part.append(
            {
                "part": part_id,
                "name": table.part_names[p],
                "notes": int(stats.notes[:, p].sum()),
                "attacks": int(stats.attacks[:, p].sum()),
                "pitches": int(stats.pitches[:, p].sum()),
            }
        )
    total_time = float(pc_time.sum()) or 1.0
    return {
        "measures": grid.size,
        "parts": len(table.part_ids),
        "notes": int(stats.notes.sum()),
        "attacks": int(stats.attacks.sum()),
        "pitches": int(stats.pitches.sum()),
        "duration": round(float(grid.start[-1]) / TPQ, 6) if grid.size else 0.0,
        "sounding": round(texture["sound_time"] / TPQ, 6),
        "per_part": per_part,
        "pitch_classes": {
            "names": list(PC_NAMES),
            "duration": [round(x / TPQ, 6) for x in pc_time.tolist()],
            "share": [round(x / total_time, 4) for x in pc_time.tolist()],
            "attacks": pc_attacks.tolist(),
        },
        "texture": {
            "average_voices": round(average, 4),
            "max_voices": max_voices,
            "homophony": round(homophony, 4),
            "hint": texture_hint(average, homophony),
        },
    }
