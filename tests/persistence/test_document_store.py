"""DocumentStore over every backend: load, append, compaction, reset, failures."""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pycrdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from persistence_helpers import JitteryStorage, Writer, content, merged

from persistence.base import Storage
from persistence.documents.store import DocumentStore, client_ids
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore, MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage
from persistence.errors import NotFound, StaleEpoch, StorageError
from tests.services import reset_postgres


@pytest.fixture
async def documents(storage: Storage) -> AsyncIterator[DocumentStore]:
    store = DocumentStore(storage, commit_window=0.001, compact_every=1000)
    yield store
    await store.close()


async def test_load_unknown_score_raises_not_found(documents: DocumentStore) -> None:
    with pytest.raises(NotFound):
        await documents.load("nope")


async def test_create_and_load_empty_and_with_state(documents: DocumentStore) -> None:
    record = await documents.create("empty", "Empty", "ann")
    assert (record.id, record.title, record.owner, record.epoch) == ("empty", "Empty", "ann", 1)
    loaded = await documents.load("empty")
    assert (loaded.epoch, loaded.state, loaded.seq, loaded.retired_clients) == (
        1,
        b"",
        0,
        frozenset(),
    )
    writer = Writer()
    writer.set("k", "v")
    await documents.create("full", state=writer.doc.get_update())
    assert content((await documents.load("full")).state) == {"k": "v"}
    with pytest.raises(ValueError):
        await documents.create("bad", state=b"not a yjs update")
    with pytest.raises(NotFound):
        await documents.load("bad")


async def test_load_after_appends_equals_applying_every_update(documents: DocumentStore) -> None:
    await documents.create("s")
    writers = [Writer(f"w{i}") for i in range(3)]
    updates: list[bytes] = []
    seq = 0
    for i in range(30):
        writer = writers[i % 3]
        batch = [writer.set() for _ in range(1 + i % 2)]
        if i % 7 == 0:
            batch.append(writer.delete(f"{writer.name}:{writer.count}"))
        updates += batch
        seq = await documents.append("s", 1, batch)
    loaded = await documents.load("s")
    assert loaded.seq == seq == len(updates)
    assert content(loaded.state) == merged(updates)
    assert client_ids(loaded.state) == {w.client_id for w in writers}


async def test_compaction_trims_log_and_keeps_content(
    documents: DocumentStore, storage: Storage
) -> None:
    await documents.create("s")
    writer = Writer()
    updates = [writer.set(f"k{i}", "x" * 50) for i in range(40)]
    updates += [writer.delete(f"k{i}") for i in range(30)]
    for update in updates:
        await documents.append("s", 1, [update])
    raw_size = sum(map(len, updates))
    assert await documents.compact("s") == len(updates)
    assert await storage.log.read("s", 1) == []
    snapshot = await storage.snapshots.load_snapshot("s")
    assert snapshot is not None and snapshot.seq == len(updates)
    # deleted values were garbage-collected: only the 10 live ones keep their 50 bytes
    assert len(snapshot.state) < min(raw_size / 3, len(pycrdt.merge_updates(*updates)) / 2)
    loaded = await documents.load("s")
    assert loaded.seq == len(updates) and content(loaded.state) == merged(updates)
    assert await documents.compact("s") is None  # nothing new to fold
    more = writer.set("after", 1)
    assert await documents.append("s", 1, [more]) == len(updates) + 1
    assert content((await documents.load("s")).state) == merged([*updates, more])


async def test_compaction_runs_in_the_background_every_n_entries(storage: Storage) -> None:
    documents = DocumentStore(storage, commit_window=0.001, compact_every=10)
    await documents.create("s")
    writer = Writer()
    updates = [writer.set() for _ in range(25)]
    for update in updates:
        await documents.append("s", 1, [update])
    await documents.close()
    snapshot = await storage.snapshots.load_snapshot("s")
    assert snapshot is not None and snapshot.seq >= 10
    assert len(await storage.log.read("s", 1)) < 25
    reopened = DocumentStore(storage)
    assert content((await reopened.load("s")).state) == merged(updates)
    await reopened.close()


async def _interleave(
    storage: Storage, plan: list[tuple[str, int]], seed: int, window: float = 0.0
) -> None:
    """Writers append while compactions run; then every acknowledged update is loaded."""
    documents = DocumentStore(storage, commit_window=window, compact_every=7)
    await documents.create("s")
    rng = random.Random(seed)
    writers = {name: Writer(name) for name in {"a", "b", "c"}}
    acked: list[bytes] = []

    async def write(name: str, count: int) -> None:
        for _ in range(count):
            update = writers[name].set()
            if rng.random() < 0.2:
                update_2 = writers[name].delete(f"{name}:{writers[name].count}")
                await documents.append("s", 1, [update, update_2])
                acked.extend([update, update_2])
            else:
                await documents.append("s", 1, [update])
                acked.append(update)
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    async def compact_now(delay: int) -> None:
        for _ in range(delay):
            await asyncio.sleep(0)
        await documents.compact("s")

    async def load_now(delay: int) -> None:
        for _ in range(delay):
            await asyncio.sleep(0)
        before = merged(acked)
        loaded = content((await documents.load("s")).state)
        assert loaded.items() >= before.items()

    jobs = {"compact": compact_now, "load": load_now}
    tasks = [jobs[name](count) if name in jobs else write(name, count) for name, count in plan]
    await asyncio.gather(*tasks)
    loaded = await documents.load("s")
    assert content(loaded.state) == merged(acked)
    await documents.close()
    fresh = DocumentStore(storage)
    after_close = await fresh.load("s")
    assert content(after_close.state) == merged(acked)
    assert after_close.seq == len(acked)


_PLANS = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "compact", "load"]), st.integers(0, 12)),
    min_size=2,
    max_size=10,
)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=_PLANS, seed=st.integers(0, 2**32))
def test_compaction_under_concurrent_appends_loses_nothing_memory(
    plan: list[tuple[str, int]], seed: int
) -> None:
    asyncio.run(_interleave(JitteryStorage(MemoryStorage(), seed), plan, seed))  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=_PLANS, seed=st.integers(0, 2**32))
def test_compaction_under_concurrent_appends_loses_nothing_sqlite(
    plan: list[tuple[str, int]], seed: int
) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            storage = SqliteStorage(
                Path(tmp) / "db.sqlite", FileBlobStore(Path(tmp) / "b"), synchronous="NORMAL"
            )
            try:
                await _interleave(
                    JitteryStorage(storage, seed),
                    plan,
                    seed,  # type: ignore[arg-type]
                    window=0.0005,
                )
            finally:
                await storage.close()

    asyncio.run(run())


@pytest.mark.services
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=_PLANS, seed=st.integers(0, 2**32))
def test_compaction_under_concurrent_appends_loses_nothing_postgres(
    postgres_dsn: str, plan: list[tuple[str, int]], seed: int
) -> None:
    async def run() -> None:
        await reset_postgres(postgres_dsn)
        storage = PostgresStorage(postgres_dsn, MemoryBlobStore(), min_size=1, max_size=4)
        await storage.open()
        try:
            await _interleave(
                JitteryStorage(storage, seed),
                plan,
                seed,  # type: ignore[arg-type]
                window=0.0005,
            )
        finally:
            await storage.close()

    asyncio.run(run())


async def test_reset_starts_a_new_epoch_and_retires_client_ids(
    documents: DocumentStore, storage: Storage
) -> None:
    await documents.create("s")
    a, b = Writer("a"), Writer("b")
    await documents.append("s", 1, [a.set(), b.set()])
    restored = Writer("r")
    restored.set("restored", True)
    epoch = await documents.reset("s", restored.doc.get_update())
    assert epoch == 2
    loaded = await documents.load("s")
    assert loaded.epoch == 2 and loaded.seq == 0
    assert content(loaded.state) == {"restored": True}
    assert loaded.retired_clients == {a.client_id, b.client_id}
    with pytest.raises(StaleEpoch):
        await documents.append("s", 1, [a.set()])
    c = Writer("c")
    assert await documents.append("s", 2, [c.set()]) == 1
    # a second reset retires the second epoch's clients too, and keeps the first ones
    third = Writer("t")
    third.set("third", 3)
    assert await documents.reset("s", third.doc.get_update()) == 3
    loaded = await documents.load("s")
    assert loaded.retired_clients == {a.client_id, b.client_id, restored.client_id, c.client_id}
    assert content(loaded.state) == {"third": 3}
    # compaction carries the retired ids forward
    await documents.append("s", 3, [third.set("more", 1)])
    await documents.compact("s")
    assert (await documents.load("s")).retired_clients == loaded.retired_clients


async def test_reset_to_an_earlier_state_of_the_same_clients(documents: DocumentStore) -> None:
    """A restored version shares client ids with the content it replaces: they are
    retired all the same (the room compares clocks), and the content is the version's."""
    await documents.create("s")
    a = Writer("a")
    await documents.append("s", 1, [a.set("kept", 1)])
    version = a.doc.get_update()
    await documents.append("s", 1, [a.set("later", 2)])
    assert await documents.reset("s", version) == 2
    loaded = await documents.load("s")
    assert content(loaded.state) == {"kept": 1}
    assert loaded.retired_clients == {a.client_id}


async def test_reset_refuses_bad_state_and_unknown_scores(documents: DocumentStore) -> None:
    await documents.create("s")
    await documents.append("s", 1, [Writer().set()])
    with pytest.raises(ValueError):
        await documents.reset("s", b"\x01garbage")
    with pytest.raises(NotFound):
        await documents.reset("nope", b"")
    assert (await documents.load("s")).epoch == 1
    assert await documents.reset("s", b"") == 2  # to an empty document
    assert (await documents.load("s")).state == b""


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("instances", [1, 2])
async def test_reset_racing_appends_retires_every_acknowledged_client(
    storage: Storage, seed: int, instances: int
) -> None:
    """Writers append until the reset refuses them; every client that got an append
    acknowledged in the old epoch must be retired. With two instances (two stores on one
    backend) the reset cannot hold the writers back and relies on its compare-and-set."""
    jittery = JitteryStorage(storage, seed)
    writing = DocumentStore(jittery, commit_window=0)  # type: ignore[arg-type]
    resetting = writing if instances == 1 else DocumentStore(jittery, commit_window=0)  # type: ignore[arg-type]
    await writing.create("s")
    acked: set[int] = set()
    refused = 0
    reset_failed = asyncio.Event()

    async def write() -> None:
        nonlocal refused
        while not reset_failed.is_set():
            writer = Writer()  # a new Yjs client each time: each must end up retired
            try:
                await writing.append("s", 1, [writer.set()])
            except StaleEpoch:
                refused += 1
                return
            acked.add(writer.client_id)
            await asyncio.sleep(0)

    async def reset() -> int:
        await asyncio.sleep(0.005)
        try:
            return await resetting.reset("s", b"")
        except StaleEpoch:
            assert instances == 2  # only another instance's writes can outrun a reset
            reset_failed.set()
            return 1

    *_, epoch = await asyncio.gather(*(write() for _ in range(6)), reset())
    loaded = await writing.load("s")
    assert loaded.epoch == epoch
    if epoch == 2:
        assert acked <= loaded.retired_clients
        assert refused == 6  # every writer ran into the reset
    await writing.close()
    await resetting.close()


async def test_appends_for_a_deleted_score_fail(documents: DocumentStore, storage: Storage) -> None:
    await documents.create("s")
    await storage.catalog.delete_score("s")
    with pytest.raises(NotFound):
        await documents.append("s", 1, [Writer().set()])
    with pytest.raises(NotFound):
        await documents.compact("s")


async def test_failed_snapshot_store_raises_and_loses_nothing(tmp_path: Path) -> None:
    blocked = tmp_path / "blobs"
    storage = SqliteStorage(tmp_path / "db.sqlite", FileBlobStore(blocked))
    documents = DocumentStore(storage, compact_every=1000)
    try:
        await documents.create("s")
        writer = Writer()
        updates = [writer.set() for _ in range(5)]
        await documents.append("s", 1, updates)
        blocked.write_text("a file where the blob folder should be")
        with pytest.raises(StorageError):
            await documents.compact("s")
        with pytest.raises(StorageError):
            await documents.reset("s", b"")
        loaded = await documents.load("s")
        assert loaded.epoch == 1 and content(loaded.state) == merged(updates)
        blocked.unlink()
        assert await documents.compact("s") == 5
        assert content((await documents.load("s")).state) == merged(updates)
    finally:
        await documents.close()
        await storage.close()


async def test_corrupt_log_entry_is_reported(documents: DocumentStore, storage: Storage) -> None:
    await documents.create("s")
    await storage.log.append("s", 1, [Writer().set(), b"\x05garbage"])
    with pytest.raises(StorageError, match="corrupt"):
        await documents.load("s")


async def test_close_flushes_pending_appends_and_refuses_new_ones(storage: Storage) -> None:
    documents = DocumentStore(storage, commit_window=0.5)
    await documents.create("s")
    writer = Writer()
    updates = [writer.set() for _ in range(3)]
    pending = [asyncio.ensure_future(documents.append("s", 1, [u])) for u in updates]
    await asyncio.sleep(0)
    await documents.close()
    assert sorted([p.result() for p in pending]) == [1, 2, 3]
    with pytest.raises(StorageError):
        await documents.append("s", 1, [writer.set()])
    assert content((await DocumentStore(storage).load("s")).state) == merged(updates)


def test_client_ids_reads_the_state_vector() -> None:
    a, b = Writer("a"), Writer("b")
    b.doc.apply_update(a.set())
    b.set()
    assert client_ids(b.doc.get_update()) == {a.client_id, b.client_id}
    assert client_ids(b"") == frozenset()
    with pytest.raises(ValueError):
        client_ids(b"\xff\xff")
