"""Where the CPU work of analysis jobs runs: the :class:`AnalysisCompute` boundary.

The jobs (:mod:`analysis_engine.jobs`) do the I/O (storage reads, result saves,
announcements) and hand everything else to an ``AnalysisCompute``: warm scores, applying
log entries, the analyses themselves and the JSON text they produce
(:class:`~analysis_engine.warm.WarmScores`). Two implementations:

- :class:`LocalCompute` (here): in this process, on one thread of its own. What
  ``orpheus worker`` uses (it is a process of its own already) and what unit tests use.
- :class:`~analysis_engine.compute_process.ProcessCompute`: in a child process speaking
  a framed protocol over a pipe, so that a server analysing in-process (the embedded
  mode) never runs analysis under its event loop's GIL.

Both raise :class:`AnalysisWorkerLost` when the warm state a job relied on is gone (the
child died and was restarted, or another job's loss reset it): the job starts again
from storage. An analysis that raises is reported as :class:`AnalysisFailed` by the
child, or as its own exception here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from analysis_engine.warm import Entry, NotHeld, WarmScores
from persistence.results.base import DocVersion, EncodedJson

T = TypeVar("T")


class AnalysisWorkerLost(RuntimeError):
    """The analysis process died (it is restarted) or no longer holds the score."""


class AnalysisFailed(Exception):
    """An analysis raised in the child process: its exception's type name and message."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.traceback = traceback


class AnalysisCompute(Protocol):
    """The warm scores of one worker, wherever they live (see the module doc)."""

    async def held(self, score_id: str) -> tuple[DocVersion, bool] | None:
        """The version held for the score and whether it was analysed, or ``None``."""
        ...

    async def load(self, score_id: str, state: bytes, version: DocVersion) -> None:
        """Hold the score from a full state (least recently used scores are dropped)."""
        ...

    async def apply(self, score_id: str, entries: Sequence[Entry]) -> None:
        """Apply consecutive log entries after the held version."""
        ...

    async def analyse(self, score_id: str) -> EncodedJson:
        """Analyse the held version (incrementally); the stored JSON text."""
        ...

    async def analyse_state(self, state: bytes, version: DocVersion) -> EncodedJson:
        """Analyse a full state from scratch; nothing is kept."""
        ...

    async def forget(self, score_id: str) -> None:
        """Drop the score if held."""
        ...

    async def close(self) -> None:
        """Stop (pending calls may fail); idempotent."""
        ...


class LocalCompute:
    """:class:`AnalysisCompute` in this process, on a thread of its own (every call,
    so the warm scores are only ever touched there)."""

    def __init__(self, capacity: int = 32, analyses: Sequence[str] | None = None) -> None:
        self.scores = WarmScores(capacity, analyses)
        self._cpu = ThreadPoolExecutor(1, thread_name_prefix="orpheus-analysis")

    async def held(self, score_id: str) -> tuple[DocVersion, bool] | None:
        return await self._run(self.scores.held, score_id)

    async def load(self, score_id: str, state: bytes, version: DocVersion) -> None:
        await self._run(self.scores.load, score_id, state, version)

    async def apply(self, score_id: str, entries: Sequence[Entry]) -> None:
        await self._run(self.scores.apply, score_id, entries)

    async def analyse(self, score_id: str) -> EncodedJson:
        text: EncodedJson = await self._run(self.scores.analyse, score_id)
        return text

    async def analyse_state(self, state: bytes, version: DocVersion) -> EncodedJson:
        text: EncodedJson = await self._run(self.scores.analyse_state, state, version)
        return text

    async def forget(self, score_id: str) -> None:
        await self._run(self.scores.forget, score_id)

    async def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """:meth:`close` for synchronous callers."""
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)
        except NotHeld as exc:
            raise AnalysisWorkerLost(f"score {exc.args[0]!r} is not held") from None
