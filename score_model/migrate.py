"""Migrations of stored documents to the current :data:`~score_model.schema.SCHEMA_VERSION`.

Version 1 → 2 adds the ``suggestions`` root. Yjs roots exist by name, so a version-1
document reads as a version-2 one with no suggestions; migrating only records the new
version in ``meta.schema_version`` (done when the document is first written with a
version-2 feature, or explicitly with :func:`migrate`).

Version 2 → 3 adds optional note fields (``slurs``, ``hairpins``, ``ornaments``,
``fingerings``, ``verses``): a version-2 note is a version-3 note without them, so the
migration is again only the recorded version (written with the first version-3 mark).

Version 3 → 4 adds the note field ``tuplets`` and the measure attribute
``chord_symbols``; a version-3 document is a version-4 one without them, and the recorded
version changes with the first tuplet or chord symbol an operation writes. (The version
still changes: a version-3 client would find a note with ``tuplets`` off-schema, so it
must see the higher version and stay read-only.)
"""

from __future__ import annotations

from score_model.document import ScoreDoc
from score_model.origin import Origin
from score_model.schema import SCHEMA_VERSION, normalise_number

MIGRATE_ORIGIN = Origin.server("migrate")


def schema_version(score: ScoreDoc) -> int:
    """The version the document was written with (1 when unrecorded or unreadable)."""
    version = normalise_number(score.meta.get("schema_version", 1))
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def migrate(score: ScoreDoc, origin: Origin = MIGRATE_ORIGIN) -> bool:
    """Bring an older document to the current version in one transaction; return whether
    anything changed. A document from a newer version is left alone."""
    if schema_version(score) >= SCHEMA_VERSION or not len(score.meta):
        return False
    with score.doc.transaction(origin=origin):
        score.meta["schema_version"] = SCHEMA_VERSION
    return True
