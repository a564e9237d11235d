"""Helper threads' scheduling policy (persistence/scheduling.py)."""

from __future__ import annotations

import os
import threading

import pytest

from persistence.scheduling import background_thread


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_background_thread_changes_only_the_calling_thread() -> None:
    seen: list[int] = []

    def other() -> None:
        background_thread()
        seen.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
