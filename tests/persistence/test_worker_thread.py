"""The embedded database's worker thread (persistence/drivers/worker_thread.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from persistence.drivers.worker_thread import WorkerThread


async def test_calls_run_in_order_on_one_other_thread() -> None:
    worker = WorkerThread("test-worker")
    seen: list[tuple[int, str]] = []

    def job(number: int) -> int:
        seen.append((number, threading.current_thread().name))
        return number * 2

    results = await asyncio.gather(*(worker.run(lambda n=n: job(n)) for n in range(20)))
    assert results == [n * 2 for n in range(20)]
    assert [n for n, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test-worker"}
    assert threading.current_thread().name != "test-worker"
    await worker.close()


async def test_an_exception_reaches_its_caller_and_the_thread_goes_on() -> None:
    worker = WorkerThread("test-worker")

    def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await worker.run(fail)
    assert await worker.run(lambda: "still here") == "still here"
    await worker.close()


async def test_a_cancelled_caller_does_not_stop_its_job_and_close_waits_for_it() -> None:
    worker = WorkerThread("test-worker")
    done: list[str] = []

    def slow() -> None:
        time.sleep(0.2)
        done.append("slow")

    waiting = asyncio.ensure_future(worker.run(slow))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await worker.close()  # the job already submitted finishes first
    assert done == ["slow"]
    assert await worker.run(lambda: 1) == 1  # a closed worker starts again when used
    await worker.close()


def test_a_result_for_a_loop_that_has_closed_is_dropped() -> None:
    worker = WorkerThread("test-worker")
    release = threading.Event()
    loop = asyncio.new_event_loop()

    async def submit() -> None:
        pending = asyncio.ensure_future(worker.run(release.wait))
        await asyncio.sleep(0.01)
        pending.cancel()  # the caller gives up; its loop then closes

    loop.run_until_complete(submit())
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    release.set()  # the job ends after its loop: no error in the worker, which goes on
    assert asyncio.run(worker.run(lambda: "next")) == "next"
    asyncio.run(worker.close())


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
async def test_the_thread_is_a_batch_thread_and_its_caller_is_not() -> None:
    worker = WorkerThread("test-worker")
    assert await worker.run(lambda: os.sched_getscheduler(0)) == os.SCHED_BATCH
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the policy is the thread's own
    await worker.close()
