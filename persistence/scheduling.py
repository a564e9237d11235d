"""How the process's helper threads are scheduled beside the event loop's thread."""

from __future__ import annotations

import contextlib
import os


def background_thread() -> None:
    """Give the calling thread Linux's ``SCHED_BATCH`` policy (elsewhere, or if refused,
    nothing): when a job wakes it, it waits for a free core instead of preempting the
    thread that woke it. That thread is the event loop's, and it holds the GIL, so the
    preempted loop stalled every connection while the woken thread could not run Python
    either; with the policy, handing a commit to the SQLite thread took 8-9 us of the
    loop's time at the median instead of 18-21, and 3-10 ms per 100 hand-offs in a
    fan-out burst instead of 10-23 (docs/benchmarks.md).
    """
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, policy, os.sched_param(0))
