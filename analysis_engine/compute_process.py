""":class:`ProcessCompute`: analysis in a child process (the embedded server's choice).

The warm scores and every analysis live in one child process
(:mod:`analysis_engine.compute_child`), started on first use, so the server's event loop
and threads never run analysis under the process's GIL; the parent only writes a
request and awaits its reply on a pipe (asyncio streams, no thread). One request at a
time: the child is a single worker, as the in-process thread was.

Crash safety:

- a child that dies (killed, out of memory, a crash in native code) is noticed by a
  watcher task at once, logged with its exit status, and replaced on the next request;
  the request that was in flight raises
  :class:`~analysis_engine.compute.AnalysisWorkerLost` and the job runs once more from
  storage (:mod:`analysis_engine.jobs`);
- a request cancelled while in flight (Dramatiq's time limit, shutdown) would leave the
  stream out of step, so that child is killed and a new one starts on the next request;
- :meth:`ProcessCompute.close` closes the child's stdin (it finishes the request at
  hand and exits), waits for it, and kills it after ``stop_timeout``; the exit status is
  collected, so no zombie is left. A parent killed outright closes the pipe too: the
  child sees the end of its input and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from typing import Any

from analysis_engine.compute import AnalysisFailed, AnalysisWorkerLost
from analysis_engine.compute_child import HEADER, encode
from analysis_engine.warm import Entry
from persistence.results.base import DocVersion, EncodedJson

log = logging.getLogger("orpheus.analysis")

CHILD_MODULE = "analysis_engine.compute_child"


class ProcessCompute:
    """:class:`~analysis_engine.compute.AnalysisCompute` in a child process."""

    def __init__(
        self,
        capacity: int = 32,
        analyses: Sequence[str] | None = None,
        *,
        python: str = sys.executable,
        stop_timeout: float = 5.0,
    ) -> None:
        self._config = json.dumps(
            {"capacity": capacity, "analyses": list(analyses) if analyses is not None else None}
        )
        self._python = python
        self._stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one request at a time
        self._closed = False
        self.starts = 0  # child processes started so far
        self.in_flight: str | None = None  # the operation awaiting its reply

    @property
    def pid(self) -> int | None:
        """The running child's process id (``None``: none running)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> int:
        """Start the child now rather than on the first request; its process id."""
        async with self._lock:
            return (await self._ensure()).pid

    async def held(self, score_id: str) -> tuple[DocVersion, bool] | None:
        held: tuple[DocVersion, bool] | None = await self._call("held", score_id)
        return held

    async def load(self, score_id: str, state: bytes, version: DocVersion) -> None:
        await self._call("load", score_id, state, version)

    async def apply(self, score_id: str, entries: Sequence[Entry]) -> None:
        await self._call("apply", score_id, list(entries))

    async def analyse(self, score_id: str) -> EncodedJson:
        text: EncodedJson = await self._call("analyse", score_id)
        return text

    async def analyse_state(self, state: bytes, version: DocVersion) -> EncodedJson:
        text: EncodedJson = await self._call("analyse_state", state, version)
        return text

    async def forget(self, score_id: str) -> None:
        if self.pid is not None:  # nothing held without a child
            await self._call("forget", score_id)

    async def close(self) -> None:
        """Stop the child (see the module doc); idempotent."""
        self._closed = True
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout)
            except TimeoutError:
                log.warning(
                    "the analysis process (pid %d) did not stop in %.0f s: killed",
                    process.pid,
                    self._stop_timeout,
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for watcher in list(self._watchers):
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    # --- internals ---------------------------------------------------------------------

    async def _call(self, operation: str, *args: Any) -> Any:
        async with self._lock:
            if self._closed:
                raise AnalysisWorkerLost("the analysis process is stopped")
            process = await self._ensure()
            assert process.stdin is not None and process.stdout is not None
            self.in_flight = operation
            try:
                process.stdin.write(encode((operation, args)))
                await process.stdin.drain()
                (size,) = HEADER.unpack(await process.stdout.readexactly(HEADER.size))
                reply = pickle.loads(await process.stdout.readexactly(size))
            except (ConnectionError, asyncio.IncompleteReadError):
                status = await self._ended(process)
                raise AnalysisWorkerLost(
                    f"the analysis process (pid {process.pid}) {status}"
                ) from None
            except BaseException:  # cancelled mid-request: the stream is out of step
                self._kill(process, "a request was cancelled while in flight")
                raise
            finally:
                self.in_flight = None
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "not_held":
            raise AnalysisWorkerLost(f"score {reply[1]!r} is not held by the analysis process")
        raise AnalysisFailed(reply[1], reply[2], reply[3])

    async def _ensure(self) -> asyncio.subprocess.Process:
        """The running child, started if there is none."""
        process = self._process
        if process is not None and process.returncode is None:
            return process
        process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            CHILD_MODULE,
            self._config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={
                # one BLAS thread: the learned models' matrices are small, and threads
                # that spin between them only take the CPU from the server
                "OPENBLAS_NUM_THREADS": "1",
                **os.environ,
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            },
        )
        self._process = process
        self.starts += 1
        watcher = asyncio.get_running_loop().create_task(self._watch(process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        log.info("analysis process started (pid %d)", process.pid)
        return process

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        """Log a child that ends while it is the current one (not when closed)."""
        code = await process.wait()
        if process is self._process and not self._closed:
            self._process = None
            log.warning(
                "the analysis process (pid %d) %s; a new one starts for the next job",
                process.pid,
                describe_exit(code),
            )

    async def _ended(self, process: asyncio.subprocess.Process) -> str:
        """After the pipe broke: the child's exit, collected (killed if it lingers)."""
        try:
            code = await asyncio.wait_for(process.wait(), self._stop_timeout)
        except TimeoutError:
            self._kill(process, "its pipe broke")
            code = await process.wait()
        if process is self._process:
            self._process = None
        return describe_exit(code)

    def _kill(self, process: asyncio.subprocess.Process, why: str) -> None:
        if process is self._process:
            self._process = None
        if process.returncode is None:
            log.warning("the analysis process (pid %d) is killed: %s", process.pid, why)
            with contextlib.suppress(ProcessLookupError):
                process.kill()


def describe_exit(code: int) -> str:
    """``exited with status 1`` or ``was killed by SIGKILL``."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"
