"""The export error, shared by the exporter and the engraver."""

from __future__ import annotations

__all__ = ["ExportError"]


class ExportError(ValueError):
    """A score that cannot be written in the requested format."""
