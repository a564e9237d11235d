"""Converted score content (schema values not yet in a document), and writing it into a
:class:`ScoreDoc` in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pycrdt import Map

from score_model.document import ScoreDoc
from score_model.origin import Origin
from score_model.schema import Measure, Note, Part
from score_model.text import clean_text

__all__ = ["IMPORT_ORIGIN", "ScoreContent", "write_content"]

IMPORT_ORIGIN = Origin.server("import")


@dataclass
class ScoreContent:
    """A converted score as schema values, before it is written into a document."""

    meta: dict[str, Any]
    parts: list[Part]
    measures: list[Measure]
    notes: list[Note]
    warnings: list[str] = field(default_factory=list)


def write_content(
    content: ScoreContent, into: ScoreDoc | None = None, origin: Origin = IMPORT_ORIGIN
) -> ScoreDoc:
    """Write converted content into a new (or the given empty) document in one
    transaction. Texts (titles, names, lyrics, tempo texts) lose their control characters
    (:mod:`score_model.text`): importers build schema values directly."""
    score = into if into is not None else ScoreDoc()
    with score.doc.transaction(origin=origin):
        score.meta.update(_clean(content.meta))
        for part in content.parts:
            score.parts.append(Map(_clean(part.to_json())))
        for measure in content.measures:
            score.measures.append(Map(_clean(measure.to_json())))
        for note in content.notes:
            score.notes[note.id] = _clean(note.to_json())
    return score


_TEXTS = frozenset({"title", "composer", "name", "abbreviation", "instrument", "lyric", "text"})


def _clean(value: dict[str, Any]) -> dict[str, Any]:
    return {
        key: clean_text(item)
        if key in _TEXTS and isinstance(item, str)
        else _clean(item)
        if isinstance(item, dict)
        else item
        for key, item in value.items()
    }
