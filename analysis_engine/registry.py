"""Analyses registered by name, and the envelope every result travels in.

An analysis is a pure function of an :class:`~analysis_engine.context.AnalysisContext`
returning JSON-ready data::

    @analysis("key")
    def key_analysis(ctx: AnalysisContext) -> dict[str, Any]: ...

    run("key", table, version="v42")
    # {"analysis": "key", "version": "v42", "format": 1, "result": {...}}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analysis_engine.context import AnalysisContext
from analysis_engine.notetable import NoteTable
from analysis_engine.settings import AnalysisSettings

RESULT_FORMAT = 1
BUILTIN_MODULES = ("summary", "tonality", "harmony", "melody", "rhythm", "voice_leading")

AnalysisFunction = Callable[[AnalysisContext], dict[str, Any]]


class UnknownAnalysis(KeyError):
    """No analysis is registered under that name."""

    def __str__(self) -> str:
        return f"no analysis named {self.args[0]!r}; known: {', '.join(names())}"


@dataclass(frozen=True, slots=True)
class Analysis:
    name: str
    function: AnalysisFunction
    description: str


_REGISTRY: dict[str, Analysis] = {}
_loaded = False


def analysis(name: str) -> Callable[[AnalysisFunction], AnalysisFunction]:
    """Register a function as the analysis ``name`` (a name is registered once)."""

    def register(function: AnalysisFunction) -> AnalysisFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.function is not function:
            raise ValueError(f"analysis {name!r} is already registered")
        doc = (function.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Analysis(name, function, doc[0] if doc else "")
        return function

    return register


def unregister(name: str) -> None:
    """Remove an analysis (for plug-ins and tests); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def load_builtins() -> None:
    """Import the built-in analysis modules (each registers itself)."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(f"analysis_engine.{module}")
        _loaded = True


def names() -> list[str]:
    """Registered analyses by name: the order results are stored in does not depend on
    which module happened to be imported first (a worker process and the server agree
    byte for byte)."""
    load_builtins()
    return sorted(_REGISTRY)


def get(name: str) -> Analysis:
    load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownAnalysis(name) from None


def envelope(name: str, version: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a result travels in, naming the document version it describes."""
    return {"analysis": name, "version": version, "format": RESULT_FORMAT, "result": result}


def run(
    name: str,
    table: NoteTable | AnalysisContext,
    *,
    version: Any = None,
    settings: AnalysisSettings | None = None,
) -> dict[str, Any]:
    """Run one analysis from scratch on a note table (or a prepared context)."""
    entry = get(name)
    ctx = table if isinstance(table, AnalysisContext) else AnalysisContext(table, settings)
    return envelope(name, version, entry.function(ctx))


def run_all(
    table: NoteTable | AnalysisContext,
    *,
    version: Any = None,
    settings: AnalysisSettings | None = None,
    only: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run several analyses (default: all) sharing one context."""
    ctx = table if isinstance(table, AnalysisContext) else AnalysisContext(table, settings)
    return {name: run(name, ctx, version=version) for name in (only or names())}
