"""MusicXML written straight from the decoded document (no music21 projection)."""

from score_model.musicxml.writer import write_musicxml

__all__ = ["write_musicxml"]
