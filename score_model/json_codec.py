"""The document's own JSON: export a :class:`ScoreDoc` whole (ids, comments and chat
included) and import it back, decoding strictly against the schema."""

from __future__ import annotations

import json
import re
from typing import Any

from score_model.content import IMPORT_ORIGIN, ScoreContent, write_content
from score_model.document import ScoreDoc
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    check_counts,
    check_note_length,
    check_size,
)
from score_model.schema import SCHEMA_VERSION, Measure, Meta, Note, Part, SchemaError
from score_model.text import clean_text

__all__ = ["export_json", "import_json"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def export_json(score: ScoreDoc) -> bytes:
    """The document as one JSON object: ``schema_version``, ``meta``, ``parts``,
    ``measures``, ``notes``, ``comments`` and ``chat``, exactly as stored. The keys of
    every map are sorted (Yjs does not keep their order), so equal documents export
    byte-identical JSON, whichever process or load order read them."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "meta": _sorted(score.raw_meta()),
        "parts": _sorted(score.raw_parts()),
        "measures": _sorted(score.raw_measures()),
        "notes": _sorted(score.raw_notes()),
        "comments": _sorted(score.raw_comments()),
        "chat": _sorted(score.raw_chat()),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def import_json(
    data: bytes | str, *, limits: ImportLimits = DEFAULT_LIMITS, into: ScoreDoc | None = None
) -> ScoreDoc:
    """Load a document exported as JSON (see :func:`export_json`).

    Every part, measure and note is decoded strictly against the schema and every note
    must point at an existing part and measure; ids are kept.
    """
    raw_bytes = data.encode() if isinstance(data, str) else bytes(data)
    check_size(raw_bytes, limits)
    if raw_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not JSON")
    try:
        raw = json.loads(raw_bytes)
    except json.JSONDecodeError as exc:
        truncated = _unclosed(raw_bytes)
        raise ScoreImportError(
            ImportFailure.TRUNCATED if truncated else ImportFailure.INVALID,
            f"not valid JSON: {exc}",
        ) from None
    except UnicodeDecodeError:
        raise ScoreImportError(ImportFailure.NOT_MUSIC, "this is not JSON (not UTF-8)") from None
    except (RecursionError, ValueError) as exc:
        raise ScoreImportError(ImportFailure.INVALID, f"not valid JSON: {exc}") from None
    content, comments, chat = _decode_json(raw, limits)
    with_ids = ScoreContent(content.meta, content.parts, content.measures, content.notes)
    score = into if into is not None else ScoreDoc()
    with score.doc.transaction(origin=IMPORT_ORIGIN):
        write_content(with_ids, score)
        for comment_id, comment in comments.items():
            score.comments[comment_id] = comment
        for message in chat:
            score.chat.append(message)
    return score


def _unclosed(text: bytes) -> bool:
    """Does JSON text stop inside a string, an object or an array?"""
    depth, in_string, escaped = 0, False, False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return in_string or depth > 0


def _decode_json(raw: Any, limits: ImportLimits) -> tuple[ScoreContent, dict[str, Any], list[Any]]:
    def invalid(message: str) -> ScoreImportError:
        return ScoreImportError(ImportFailure.INVALID, message)

    if not isinstance(raw, dict) or not {"parts", "measures", "notes"} <= set(raw):
        raise ScoreImportError(
            ImportFailure.NOT_MUSIC,
            "this JSON is not an Orpheus score (it needs parts, measures and notes)",
        )
    version = raw.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise ScoreImportError(
            ImportFailure.UNSUPPORTED_FORMAT,
            f"schema version {version!r} is newer than this server's ({SCHEMA_VERSION})",
        )
    meta_raw, parts_raw, measures_raw = raw.get("meta", {}), raw["parts"], raw["measures"]
    notes_raw, comments, chat = raw["notes"], raw.get("comments", {}), raw.get("chat", [])
    if not (
        isinstance(meta_raw, dict)
        and isinstance(parts_raw, list)
        and isinstance(measures_raw, list)
        and isinstance(notes_raw, dict)
        and isinstance(comments, dict)
        and isinstance(chat, list)
    ):
        raise invalid("meta, notes and comments must be objects; parts, measures and chat lists")
    check_counts(limits, parts=len(parts_raw), measures=len(measures_raw), notes=len(notes_raw))
    try:
        meta = Meta.from_json(meta_raw)
        parts = [Part.from_json(p) for p in parts_raw]
        measures = [Measure.from_json(m) for m in measures_raw]
        notes = []
        for note_id, value in notes_raw.items():
            if not _ID.match(note_id):
                raise SchemaError(f"note id {note_id!r} is not a short id")
            try:
                notes.append(Note.from_json(note_id, value))
            except SchemaError as exc:
                raise SchemaError(f"note {note_id}: {exc}") from None
    except SchemaError as exc:
        raise invalid(f"off-schema content: {exc}") from None
    for kind, ids in (("part", [p.id for p in parts]), ("measure", [m.id for m in measures])):
        if len(set(ids)) != len(ids):
            raise invalid(f"a {kind} id appears twice")
    part_ids, measure_ids = {p.id for p in parts}, {m.id for m in measures}
    for note in notes:
        if note.part not in part_ids or note.measure not in measure_ids:
            raise invalid(f"note {note.id} points at a part or measure that does not exist")
        check_note_length(note.duration, limits, f"note {note.id}")
    if not all(
        isinstance(k, str) and _ID.match(k) and isinstance(v, dict) for k, v in comments.items()
    ):
        raise invalid("comments must map short ids to objects")
    if not all(isinstance(m, dict) for m in chat):
        raise invalid("chat must be a list of objects")
    meta_json: dict[str, Any] = {
        **meta.extra,
        "title": meta.title,
        "composer": meta.composer,
        "schema_version": SCHEMA_VERSION,
    }
    if meta.created is not None:
        meta_json["created"] = meta.created
    if meta.tempo is not None:
        meta_json["tempo"] = meta.tempo.to_json()
    comments = {key: _clean_message(value) for key, value in comments.items()}
    chat = [_clean_message(message) for message in chat]
    return ScoreContent(meta_json, parts, measures, notes), comments, chat


def _clean_message(message: dict[str, Any]) -> dict[str, Any]:
    """A comment or chat message with its text and author cleaned of control characters."""
    return {
        **message,
        **{
            key: clean_text(value, multiline=key == "text")
            for key, value in message.items()
            if key in ("text", "author") and isinstance(value, str)
        },
    }
