"""The texts semantic search embeds, as pure functions.

- ``description``: the title, the composer and the part names, as one sentence;
- ``analysis``: the latest analysis result in words (key, parts, length, texture,
  cadences, voice-leading problems);
- ``chat``: each chat message; ``comment``: each comment.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from persistence.vectors.base import VectorKind
from score_model.document import ScoreData

Text = tuple[VectorKind, str, str]  # kind, ref, text


def document_texts(data: ScoreData, chat: Sequence[Any], comments: dict[str, Any]) -> list[Text]:
    """The description, chat and comment texts of a decoded score."""
    meta = data.meta
    parts = ", ".join(p.name for p in data.parts if getattr(p, "name", ""))
    description = ". ".join(
        s
        for s in (
            meta.title,
            f"by {meta.composer}" if meta.composer else "",
            f"for {parts}" if parts else "",
        )
        if s
    )
    texts: list[Text] = [("description", "", description)]
    for message in chat:
        if isinstance(message, dict) and isinstance(message.get("text"), str):
            texts.append(("chat", str(message.get("id", "")), message["text"]))
    for comment_id, comment in comments.items():
        if isinstance(comment, dict) and isinstance(comment.get("text"), str):
            texts.append(("comment", str(comment_id), comment["text"]))
    return texts


def analysis_text(result_json: str | None) -> str:
    """A stored analysis result (``{"analyses": {name: {"result": ...}}}``) in words;
    ``""`` if there is none or it holds nothing to say."""
    if not result_json:
        return ""
    try:
        analyses = json.loads(result_json).get("analyses") or {}
    except (ValueError, AttributeError):
        return ""

    def result(name: str) -> dict[str, Any]:
        envelope = analyses.get(name)
        value = envelope.get("result") if isinstance(envelope, dict) else None
        return value if isinstance(value, dict) else {}

    sentences = []
    key = result("key")
    if key.get("label") or key.get("key"):
        sentences.append(f"In {key.get('label') or key.get('key')}.")
    summary = result("summary")
    if summary.get("parts"):
        names = [p.get("name") for p in summary.get("per_part", []) if p.get("name")]
        sentences.append(
            f"{summary['parts']} part{'s' if summary['parts'] != 1 else ''} ({', '.join(names)}), "
            f"{summary.get('measures', 0)} measures, {summary.get('notes', 0)} notes."
        )
    hint = (summary.get("texture") or {}).get("hint")
    if hint:
        sentences.append(f"The texture is {hint}.")
    cadences = Counter(
        c.get("label") or c.get("type")
        for c in result("harmony").get("cadences", [])
        if isinstance(c, dict)
    )
    if cadences:
        sentences.append("Cadences: " + ", ".join(f"{n} {k}" for k, n in cadences.items()) + ".")
    issues = Counter(
        i.get("label") or i.get("type")
        for i in result("voice_leading").get("issues", [])
        if isinstance(i, dict)
    )
    if issues:
        sentences.append(
            "Voice-leading problems: " + ", ".join(f"{n} {k}" for k, n in issues.items()) + "."
        )
    return " ".join(sentences)
