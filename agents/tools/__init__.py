"""The tools a model may call in a score (the LLM brain and the MCP server share them):
typed note edits, analysis queries, a compact reading of measures, and the offline music
brain's operations as macros. See docs/agents.md."""

from __future__ import annotations

from agents.tools import edits, macros, queries
from agents.tools.refs import ToolError
from agents.tools.toolbox import Outcome, Tool, Toolbox


def default_toolbox(*, writes: bool = True) -> Toolbox:
    """Every tool; without the writing ones unless ``writes``."""
    return Toolbox.of((*queries.TOOLS, *edits.TOOLS, *macros.TOOLS)).only(writes=writes)


__all__ = ["Outcome", "Tool", "ToolError", "Toolbox", "default_toolbox"]
