"""One dedicated thread running blocking calls in order, awaited from an event loop.

What ``loop.run_in_executor`` on a one-thread ``ThreadPoolExecutor`` does, with less per
call: no executor locks, no ``concurrent.futures.Future`` chained to the asyncio one. The
job goes on a ``SimpleQueue``; its result comes back with ``call_soon_threadsafe``. A
caller that stops waiting (cancelled) does not stop its job, as with the executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from persistence.scheduling import background_thread

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class WorkerThread:
    """Runs submitted calls one after another on its own thread, started at the first
    (a :func:`background_thread`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.busy = 0  # calls submitted and not answered yet (a hint, kept by the callers)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the thread; its result, or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            self._start()
        self._jobs.put((loop, future, fn))
        self.busy += 1
        try:
            return await future
        finally:
            self.busy -= 1

    async def close(self) -> None:
        """Finish the jobs already submitted, then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._jobs.put(None)
        await asyncio.to_thread(thread.join)
        self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        background_thread()
        while (job := self._jobs.get()) is not None:
            loop, future, fn = job
            try:
                result = fn()
            except BaseException as exc:  # handed to the caller, whatever it is
                _post(loop, _fail, future, exc)
            else:
                _post(loop, _succeed, future, result)


def _post(loop: asyncio.AbstractEventLoop, how: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(how, *args)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
