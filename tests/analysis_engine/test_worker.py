"""Analysis jobs and their Dramatiq actors, over real storage and real brokers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis

from analysis_engine import jobs, worker
from analysis_engine.compute import LocalCompute
from analysis_engine.jobs import AnalysisJobs, analyse_document
from analysis_engine.registry import analysis, unregister
from collab_server import redis_client
from collab_server.analysis.events import AnalysisEvents, relay_from_redis
from collab_server.analysis.hooks import ANALYZE_SCORE, ANALYZE_VERSION, QUEUE, DramatiqEnqueuer
from collab_server.analysis.runtime import RESULTS_CHANNEL
from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from persistence.drivers.memory import MemoryStorage
from persistence.errors import StorageError
from persistence.results.base import DocVersion
from persistence.results.memory import MemoryResultStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.analysis_engine.ae_scores import new_score
from tests.services import redis_service, redis_url  # noqa: F401

ORIGIN = Origin.server("test")
REDIS_DB = 11


def edit(score: ScoreDoc, change: Any) -> bytes:
    """Apply ``change(editor)`` and return the Yjs update it made."""
    before = score.doc.get_state()
    change(ScoreEditor(score, ORIGIN))
    return score.doc.get_update(before)


def expected(score: ScoreDoc) -> dict[str, Any]:
    return json.loads(json.dumps(analyse_document(score.read())))["key"]["result"]


def stored_results(text: str) -> dict[str, Any]:
    body = json.loads(text)
    assert "error" not in body, body
    return body["analyses"]


@pytest.fixture
async def setup() -> AsyncIterator[tuple[MemoryStorage, DocumentStore, AnalysisJobs]]:
    storage = MemoryStorage()
    documents = DocumentStore(storage, commit_window=0.001)
    context = AnalysisJobs(storage, MemoryResultStore(), capacity=2)
    yield storage, documents, context
    context.close()
    await documents.close()


async def test_worker_catches_up_from_the_log(setup: Any) -> None:
    _, documents, context = setup
    score, ids = await new_score(documents)
    first = await jobs.analyze_score(context, "s1")
    assert first is not None and first.version == DocVersion(1, 0)
    assert context.stats["cold"] == 1

    note = next(iter(score.raw_notes()))
    update = edit(score, lambda e: e.set_pitches(note, "A4"))
    seq = await documents.append("s1", 1, [update])
    second = await jobs.analyze_score(context, "s1")
    assert second is not None and second.version == DocVersion(1, seq)
    assert context.stats == {"cold": 1, "caught_up": 1, "unchanged": 0, "failed": 0, "lost": 0}
    results = stored_results(second.result_json)
    assert results["key"]["version"] == f"e1.{seq}"
    assert results["key"]["result"] == expected(score)
    assert results["summary"]["result"]["notes"] == 8

    # a structural edit (a measure added) and a new note, applied incrementally
    update = edit(score, lambda e: e.add_note(e.append_measures(1)[0], ids["parts"][0], 0, 4, "G4"))
    await documents.append("s1", 1, [update])
    third = await jobs.analyze_score(context, "s1")
    assert third is not None and context.stats["cold"] == 1
    assert stored_results(third.result_json)["summary"]["result"]["measures"] == 5
    assert stored_results(third.result_json)["key"]["result"] == expected(score)

    # nothing new: the stored result is returned without analysing again
    again = await jobs.analyze_score(context, "s1")
    assert again is not None and again.version == third.version
    assert context.stats["unchanged"] == 1


async def test_compacted_log_and_new_epoch_rebuild(setup: Any) -> None:
    _, documents, context = setup
    score, _ = await new_score(documents)
    await jobs.analyze_score(context, "s1")
    note = next(iter(score.raw_notes()))
    await documents.append("s1", 1, [edit(score, lambda e: e.set_pitches(note, "B4"))])
    await documents.append("s1", 1, [edit(score, lambda e: e.set_duration(note, 2))])
    await documents.compact("s1")  # the entries after our seq are gone from the log
    await documents.append("s1", 1, [edit(score, lambda e: e.set_pitches(note, "C5"))])
    result = await jobs.analyze_score(context, "s1")
    assert result is not None and result.version == DocVersion(1, 3)
    assert context.stats["cold"] == 2
    assert stored_results(result.result_json)["key"]["result"] == expected(score)

    fresh = ScoreDoc()
    ScoreEditor(fresh, ORIGIN).create_score(title="Reset", measures=1)
    epoch = await documents.reset("s1", fresh.encode_state())
    result = await jobs.analyze_score(context, "s1")
    assert result is not None and result.version == DocVersion(epoch, 0)
    assert stored_results(result.result_json)["summary"]["result"]["notes"] == 0


async def test_lru_keeps_recent_scores_only(setup: Any) -> None:
    _, documents, context = setup
    for score_id in ("a", "b", "c"):
        await new_score(documents, score_id)
        await jobs.analyze_score(context, score_id)
    assert isinstance(context.cpu, LocalCompute) and context.cpu.scores.ids() == ["b", "c"]
    assert await jobs.analyze_score(context, "gone") is None  # unknown score: dropped


async def test_stale_result_never_overwrites_newer(setup: Any) -> None:
    storage, documents, context = setup
    score, _ = await new_score(documents)
    note = next(iter(score.raw_notes()))
    await documents.append("s1", 1, [edit(score, lambda e: e.set_pitches(note, "B4"))])
    newer = await jobs.analyze_score(context, "s1")
    assert newer is not None and newer.version == DocVersion(1, 1)
    # a slower worker that read the document before the edit finishes last
    other = AnalysisJobs(storage, context.results)
    snapshot = await storage.snapshots.load_snapshot("s1")
    await other.cpu.load("s1", snapshot.state, DocVersion(1, 0))
    await storage.log.trim("s1", 1, 1)  # it cannot see the newer entry: stays at seq 0
    assert await jobs.analyze_score(other, "s1") is None
    latest = await context.results.get_latest("s1")
    assert latest is not None and latest.version == DocVersion(1, 1)
    other.close()


async def test_named_version_analysis(setup: Any) -> None:
    storage, documents, context = setup
    score, _ = await new_score(documents)
    version = await storage.versions.create_version(
        "s1", name="v", author=None, epoch=1, state=score.encode_state()
    )
    result = await jobs.analyze_version(context, "s1", version.id)
    assert result.version_id == version.id
    assert stored_results(result.result_json)["key"]["result"] == expected(score)
    assert (await context.results.get_for_version("s1", version.id)) is not None


# --- the actors on a Dramatiq worker -----------------------------------------------------


class FlakyCatalog:
    """A catalog whose reads fail ``failures`` times first."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def get_score(self, score_id: str) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("database restarting")
        return await self.inner.get_score(score_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def failing_analysis() -> Any:
    @analysis("test_boom")
    def boom(ctx: Any) -> dict[str, Any]:
        """Fails on scores with more than one part."""
        if len(ctx.table.part_ids) > 1:
            raise ZeroDivisionError("boom")
        return {}

    yield boom
    unregister("test_boom")


async def test_actor_reports_failures_retries_storage_errors_and_survives(
    failing_analysis: Any,
) -> None:
    storage = MemoryStorage()
    documents = DocumentStore(storage, commit_window=0.001)
    await new_score(documents, "bad")
    one_part = ScoreDoc()
    ScoreEditor(one_part, ORIGIN).create_score(title="One", measures=1)
    await documents.create("good", "One", None, one_part.encode_state())
    flaky = FlakyCatalog(storage.catalog, failures=2)
    storage.catalog = flaky  # type: ignore[assignment]
    announced: list[str] = []

    async def notify(result: Any) -> None:
        announced.append(result.score_id)

    context = AnalysisJobs(
        storage, MemoryResultStore(), notify=notify, analyses=["summary", "test_boom"]
    )
    broker = worker.make_broker()
    worker.declare_actors(broker, context, loop=asyncio.get_running_loop())
    running = await asyncio.to_thread(worker.start_worker, broker, threads=1, poll_ms=20)
    try:
        enqueuer = DramatiqEnqueuer(broker)
        await enqueuer.analyze_score("good", 1)  # fails twice on storage, then succeeds
        await enqueuer.analyze_score("bad", 1)  # the analysis raises
        await enqueuer.analyze_score("good", 1)  # the worker is still there
        async with asyncio.timeout(10):
            while len(announced) < 2 or broker.queues[QUEUE].unfinished_tasks:
                await asyncio.sleep(0.02)
        assert flaky.failures == 0
        bad = await context.results.get_latest("bad")
        assert bad is not None
        assert json.loads(bad.result_json)["error"] == {
            "type": "ZeroDivisionError",
            "message": "boom",
        }
        good = await context.results.get_latest("good")
        assert good is not None and "analyses" in json.loads(good.result_json)
        assert context.stats["failed"] == 1
        assert sorted(set(announced)) == ["bad", "good"]
        assert all(thread.is_alive() for thread in running.workers)
    finally:
        await asyncio.to_thread(running.stop)
        context.close()
        await documents.close()


def test_actor_names_are_the_servers() -> None:
    assert (worker.QUEUE, worker.ANALYZE_SCORE, worker.ANALYZE_VERSION) == (
        QUEUE,
        ANALYZE_SCORE,
        ANALYZE_VERSION,
    )
    assert worker.RESULTS_CHANNEL == RESULTS_CHANNEL
    assert worker.is_transient(0, StorageError()) and not worker.is_transient(0, KeyError())
    assert not worker.is_transient(worker.MAX_RETRIES, StorageError())


@pytest.mark.services
@pytest.mark.usefixtures("redis_service")
async def test_redis_broker_worker_and_announcements(tmp_path: Path) -> None:
    url = redis_url(REDIS_DB)
    redis.Redis.from_url(url).flushdb()
    config = BackendConfig(f"sqlite:///{tmp_path / 'o.db'}", f"file://{tmp_path / 'blobs'}")
    backend = await open_backend(config)
    documents = DocumentStore(backend.storage, commit_window=0.001)
    score, _ = await new_score(documents)
    results = backend.results
    server_redis = redis_client.connect(url)  # the server's one asyncio client
    events = AnalysisEvents()
    relay = asyncio.get_running_loop().create_task(
        relay_from_redis(server_redis, RESULTS_CHANNEL, events, ready := asyncio.Event())
    )
    await asyncio.wait_for(ready.wait(), 5)

    # the worker side: its own clients and broker, its own backend opened on Dramatiq's
    # event loop (where its asyncio Redis client is used too)
    worker_sync = redis_client.connect_sync(url)
    worker_broker = worker.make_broker(worker_sync)
    notify = worker.redis_notifier(redis_client.connect(url))
    worker_contexts: list[AnalysisJobs] = []

    async def build() -> AnalysisJobs:
        own = await open_backend(config)
        worker_contexts.append(AnalysisJobs(own.storage, own.results, notify=notify))
        return worker_contexts[-1]

    worker.declare_actors(worker_broker, build)
    running = await asyncio.to_thread(worker.start_worker, worker_broker, threads=1, poll_ms=50)
    server_sync = redis_client.connect_sync(url)
    server_broker = worker.make_broker(server_sync)  # the server's: no actors declared
    try:
        note = next(iter(score.raw_notes()))
        await documents.append("s1", 1, [edit(score, lambda e: e.set_pitches(note, "A4"))])
        await documents.flush()
        async with events.subscribe("s1") as subscription:
            await DramatiqEnqueuer(server_broker).analyze_score("s1", 1)
            assert await subscription.wait(15) == "e1.1"
        stored = await results.get_latest("s1")
        assert stored is not None and stored.version == DocVersion(1, 1)
        assert stored_results(stored.result_json)["key"]["result"] == expected(score)
    finally:
        await asyncio.to_thread(running.stop)
        relay.cancel()
        for context in worker_contexts:
            context.close()
        await documents.close()
        await backend.close()
        await server_redis.aclose()
        server_sync.close()
        worker_sync.close()
        redis.Redis.from_url(url).flushdb()
