"""Analysis in a child process (:class:`ProcessCompute`): the same results as in-process
analysis, a child killed mid-job replaced and the job completed, nothing left behind."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from analysis_engine import jobs
from analysis_engine.compute import AnalysisFailed, AnalysisWorkerLost
from analysis_engine.compute_child import encode, read_frame
from analysis_engine.compute_process import ProcessCompute
from analysis_engine.jobs import AnalysisJobs, analyse_document
from analysis_engine.warm import dumps
from persistence.documents.store import DocumentStore
from persistence.drivers.memory import MemoryStorage
from persistence.results.base import DocVersion, EncodedJson
from persistence.results.memory import MemoryResultStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.analysis_engine.ae_scores import new_score
from tests.collab_server.processes import gone, parent_of

ORIGIN = Origin.server("test")


async def edit(
    documents: DocumentStore, score: ScoreDoc, change: Callable[[ScoreEditor], Any]
) -> int:
    """Apply ``change`` to ``score`` and append its update to the log; the new seq."""
    before = score.doc.get_state()
    change(ScoreEditor(score, ORIGIN))
    return await documents.append("s1", 1, [score.doc.get_update(before)])


def from_scratch(score: ScoreDoc, version: DocVersion) -> Any:
    return json.loads(dumps(version, analyse_document(score.read(), version.token)))


@pytest.fixture
async def documents() -> Any:
    storage = MemoryStorage()
    documents = DocumentStore(storage, commit_window=0.001)
    yield documents
    await documents.close()


async def test_results_equal_in_process_ones_over_a_sequence_of_edits(
    documents: DocumentStore,
) -> None:
    storage = documents.storage
    score, ids = await new_score(documents)
    (m1, m2, _, _), (sop, bass) = ids["measures"], ids["parts"]
    local = AnalysisJobs(storage, MemoryResultStore())
    child = ProcessCompute()
    remote = AnalysisJobs(storage, MemoryResultStore(), compute=child)
    notes = sorted(score.raw_notes())
    edits: list[Callable[[ScoreEditor], Any]] = [
        lambda e: e.set_pitches(notes[0], "A4"),
        lambda e: e.add_note(m1, sop, 0, 1, "G4"),
        lambda e: e.set_duration(notes[1], 2),
        lambda e: e.add_note(e.append_measures(1)[0], bass, 0, 4, "G2"),  # structure
        lambda e: e.delete_note(notes[2]),
        lambda e: e.set_key(m2, -1),
        lambda e: e.set_pitches(notes[3], ["C4", "E4", "G4"]),
    ]
    try:
        version = DocVersion(1, 0)
        for change in [None, *edits]:
            if change is not None:
                version = DocVersion(1, await edit(documents, score, change))
            here = await jobs.analyze_score(local, "s1")
            there = await jobs.analyze_score(remote, "s1")
            assert here is not None and there is not None
            assert there.version == here.version == version
            assert there.result_json == here.result_json
            assert isinstance(there.result_json, EncodedJson)  # saved without a parse
            assert json.loads(there.result_json) == from_scratch(score, version)
        # the child kept the score warm: one cold start, then incremental catch-ups
        assert remote.stats == local.stats
        assert remote.stats["cold"] == 1 and remote.stats["caught_up"] == len(edits)
        assert child.starts == 1
        # a named version is analysed from scratch there too
        named = await storage.versions.create_version(
            "s1", name="v", author=None, epoch=1, state=score.encode_state()
        )
        here = await jobs.analyze_version(local, "s1", named.id)
        there = await jobs.analyze_version(remote, "s1", named.id)
        assert here is not None and there is not None
        assert there.result_json == here.result_json
    finally:
        await child.close()
        local.close()


async def test_a_child_killed_mid_job_is_replaced_and_the_job_completes(
    documents: DocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orpheus.analysis")
    score, _ = await new_score(documents)
    child = ProcessCompute()
    context = AnalysisJobs(documents.storage, MemoryResultStore(), compute=child)
    try:
        assert await jobs.analyze_score(context, "s1") is not None
        first = child.pid
        assert first is not None and parent_of(first) == os.getpid()

        # Stopped, the child cannot answer: the job's request is in flight when it dies.
        note = sorted(score.raw_notes())[0]
        seq = await edit(documents, score, lambda e: e.set_pitches(note, "B4"))
        os.kill(first, signal.SIGSTOP)
        job = asyncio.get_running_loop().create_task(jobs.analyze_score(context, "s1"))
        async with asyncio.timeout(10):
            while not child.in_flight:
                await asyncio.sleep(0.005)
        os.kill(first, signal.SIGKILL)
        async with asyncio.timeout(60):
            result = await job
        assert result is not None and result.version == DocVersion(1, seq)
        assert json.loads(result.result_json) == from_scratch(score, result.version)
        assert context.stats["lost"] == 1 and context.stats["cold"] == 2
        assert child.starts == 2 and child.pid not in (None, first)
        assert gone(first)
        messages = [record.getMessage() for record in caplog.records]
        assert any(f"(pid {first}) was killed by SIGKILL" in m for m in messages), messages
        assert any("retrying once" in m for m in messages), messages

        # Killed while idle: noticed at once, and the next job starts a new child.
        second = child.pid
        assert second is not None
        os.kill(second, signal.SIGKILL)
        async with asyncio.timeout(10):
            while child.pid is not None:
                await asyncio.sleep(0.005)
        seq = await edit(documents, score, lambda e: e.set_duration(note, 2))
        result = await jobs.analyze_score(context, "s1")
        assert result is not None and result.version == DocVersion(1, seq)
        assert json.loads(result.result_json) == from_scratch(score, result.version)
        assert child.starts == 3 and context.stats["lost"] == 1 and gone(second)
    finally:
        await child.close()


async def test_close_stops_the_child_and_leaves_no_process(documents: DocumentStore) -> None:
    await new_score(documents)
    child = ProcessCompute()
    context = AnalysisJobs(documents.storage, MemoryResultStore(), compute=child)
    assert child.pid is None  # started on first use
    assert await jobs.analyze_score(context, "s1") is not None
    pid = child.pid
    assert pid is not None
    if hasattr(os, "SCHED_BATCH"):  # a request does not preempt the server's loop
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH
    await child.close()
    assert child.pid is None and gone(pid)
    with pytest.raises(AnalysisWorkerLost):
        await child.held("s1")
    await child.close()  # idempotent


async def test_an_analysis_that_raises_in_the_child_leaves_it_serving() -> None:
    child = ProcessCompute()
    try:
        with pytest.raises(AnalysisFailed) as failed:
            await child.load("s1", b"not a Yjs update", DocVersion(1, 0))
        assert failed.value.type_name and "Traceback" in failed.value.traceback
        pid = child.pid
        assert await child.held("s1") is None
        with pytest.raises(AnalysisWorkerLost):  # not held: the job starts again cold
            await child.analyse("s1")
        assert child.pid == pid and child.starts == 1
    finally:
        await child.close()


def test_the_child_exits_when_its_input_ends() -> None:
    """As when the server is killed outright: the pipe closes and the child exits."""
    process = subprocess.Popen(
        [sys.executable, "-m", "analysis_engine.compute_child", '{"capacity": 2}'],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(encode(("held", ("s1",))) + encode(("reboot", ())))
    process.stdin.flush()
    assert read_frame(process.stdout) == ("ok", None)
    assert read_frame(process.stdout) == ("error", "ValueError", "unknown operation 'reboot'", "")
    process.stdin.close()
    assert process.wait(timeout=60) == 0
    process.stdout.close()
