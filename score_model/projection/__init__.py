"""Projection of a score document into music21: full, incremental, and a comparable
description of the result. Importing this package imports music21 (about 1.2 s)."""

from score_model.projection.build import CellContext, build_measure, build_note, project_score
from score_model.projection.describe import describe, describe_element
from score_model.projection.incremental import IncrementalProjection, ProjectionChanges

__all__ = [
    "CellContext",
    "IncrementalProjection",
    "ProjectionChanges",
    "build_measure",
    "build_note",
    "describe",
    "describe_element",
    "project_score",
]
