"""PostgresStorage specifics on a real server: one transaction per group commit, lost
connections raised as StorageError and recovered from, several instances sharing the
database, the pool's life cycle, and ``postgresql://`` URLs. The shared contract runs
on PostgreSQL (+ S3 blobs) through ``conftest.BACKENDS``."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from persistence_helpers import Writer, content, merged

from persistence.backend import BackendConfig, open_backend
from persistence.base import ScoreRecord, Snapshot
from persistence.documents.group_commit import GroupCommitLog
from persistence.documents.store import DocumentStore
from persistence.drivers.memory import MemoryBlobStore
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.s3 import S3BlobStore
from persistence.errors import NotFound, StaleEpoch, StorageError
from tests.services import S3Server, reset_postgres, terminate_backends

pytestmark = pytest.mark.services


def _name() -> str:
    return f"orpheus-test-{secrets.token_hex(4)}"


@pytest.fixture
async def pg(postgres_dsn: str) -> AsyncIterator[PostgresStorage]:
    storage = PostgresStorage(
        postgres_dsn, MemoryBlobStore(), min_size=1, max_size=4, application_name=_name()
    )
    await storage.open()
    await reset_postgres(postgres_dsn)
    yield storage
    await storage.close()


@contextlib.asynccontextmanager
async def _row_locked(dsn: str, score_id: str) -> AsyncIterator[None]:
    """Hold the score's row lock from another connection (as a slow writer would)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM scores WHERE id = $1 FOR UPDATE", score_id)
            yield
    finally:
        await conn.close()


async def _wait_until_blocked(dsn: str, application_name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(200):
            if await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = $1 AND wait_event_type = 'Lock'",
                application_name,
            ):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the call never waited for the lock")
    finally:
        await conn.close()


async def test_group_commit_across_scores_is_one_transaction(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    for score_id in "abc":
        await pg.catalog.create_score(ScoreRecord(score_id))
    log = GroupCommitLog(pg.log, window=0.02)
    before = pg.db.transactions
    seqs = await asyncio.gather(
        *(log.append(sid, 1, [f"{sid}{i}".encode()] * 2) for i in range(10) for sid in "abc")
    )
    assert seqs == [2 * i + 2 for i in range(10) for _ in "abc"]
    assert pg.db.transactions - before == 1
    conn = await asyncpg.connect(postgres_dsn)
    try:  # every row written by the same PostgreSQL transaction
        assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM update_log") == 1
        assert await conn.fetchval("SELECT count(*) FROM update_log") == 60
        heads = await conn.fetch("SELECT score_id, epoch, seq FROM log_heads ORDER BY 1")
    finally:
        await conn.close()
    assert [tuple(h) for h in heads] == [("a", 1, 20), ("b", 1, 20), ("c", 1, 20)]


async def test_a_failed_batch_commits_nothing(postgres_dsn: str) -> None:
    """A statement timeout (here: a lock held elsewhere) fails the whole batch."""
    storage = PostgresStorage(
        postgres_dsn, MemoryBlobStore(), command_timeout=0.3, application_name=_name()
    )
    try:
        await storage.open()
        await reset_postgres(postgres_dsn)
        for score_id in "ab":
            await storage.catalog.create_score(ScoreRecord(score_id))
        async with _row_locked(postgres_dsn, "b"):
            with pytest.raises(StorageError) as info:
                await storage.log.append_many([("a", 1, [b"a1"]), ("b", 1, [b"b1"])])
            assert isinstance(info.value.__cause__, TimeoutError)
        assert await storage.log.read("a", 1) == []
        assert await storage.log.append_many([("a", 1, [b"a1"]), ("b", 1, [b"b1"])]) == [1, 1]
    finally:
        await storage.close()


async def test_a_connection_killed_mid_call_raises_storage_error_then_recovers(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    await pg.catalog.create_score(ScoreRecord("s"))
    async with _row_locked(postgres_dsn, "s"):
        call = asyncio.ensure_future(pg.log.append("s", 1, [b"lost"]))
        await _wait_until_blocked(postgres_dsn, pg.db.application_name)
        assert await terminate_backends(postgres_dsn, pg.db.application_name) >= 1
        with pytest.raises(StorageError) as info:
            await call
        assert not isinstance(info.value, NotFound | StaleEpoch)
    assert await pg.log.append("s", 1, [b"kept"]) == 1  # the killed call left nothing
    assert [e.data for e in await pg.log.read("s", 1)] == [b"kept"]


async def test_backends_killed_under_load_lose_no_acknowledged_update(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    """Writers retry on StorageError, as a room does (a retried update may be stored
    twice: Yjs updates are idempotent); the server kills every connection three times
    meanwhile. Everything acknowledged is there, and seqs stay gap-free."""
    documents = DocumentStore(pg, commit_window=0.001, compact_every=25)
    await documents.create("s")
    acked: list[bytes] = []
    failures = 0
    deadline = time.monotonic() + 1.2

    async def write(n: int) -> None:
        nonlocal failures
        writer = Writer(f"w{n}")
        while time.monotonic() < deadline:
            update = writer.set()
            for _ in range(50):
                try:
                    await documents.append("s", 1, [update])
                    break
                except StorageError:
                    failures += 1
                    await asyncio.sleep(0.01)
            else:
                raise AssertionError("the storage never recovered")
            acked.append(update)

    async def kill() -> int:
        killed = 0
        for _ in range(3):
            await asyncio.sleep(0.3)
            killed += await terminate_backends(postgres_dsn, pg.db.application_name)
        return killed

    killer = asyncio.ensure_future(kill())
    await asyncio.gather(*(write(n) for n in range(10)))
    killed = await killer
    await documents.close()
    assert killed >= 3 and failures >= 1 and len(acked) > 100
    loaded = await DocumentStore(pg).load("s")
    assert content(loaded.state) == merged(acked)
    snapshot = await pg.snapshots.load_snapshot("s")
    entries = await pg.log.read("s", 1)
    seqs = [snapshot.seq if snapshot else 0] + [e.seq for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap after the snapshot


async def test_two_instances_share_seqs_without_gaps(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    other = PostgresStorage(postgres_dsn, pg.blobs, max_size=4, application_name=_name())
    try:
        await pg.catalog.create_score(ScoreRecord("s"))
        logs = [GroupCommitLog(pg.log, window=0.0005), GroupCommitLog(other.log, window=0)]
        seqs = await asyncio.gather(*(logs[i % 2].append("s", 1, [b"%d" % i]) for i in range(120)))
        assert sorted(seqs) == list(range(1, 121))
        entries = await other.log.read("s", 1)
        assert [e.seq for e in entries] == list(range(1, 121))
        assert sorted(e.data for e in entries) == sorted(b"%d" % i for i in range(120))
    finally:
        await other.close()


async def test_start_epoch_from_another_instance_never_strands_an_acked_append(
    pg: PostgresStorage, postgres_dsn: str
) -> None:
    """Whatever was acknowledged in the old epoch is covered by the head the winning
    start_epoch compared against; later appends to the old epoch are refused."""
    other = PostgresStorage(postgres_dsn, pg.blobs, application_name=_name())
    try:
        await pg.catalog.create_score(ScoreRecord("s"))
        acked: list[int] = []
        refused = asyncio.Event()
        deadline = time.monotonic() + 60  # generous: a loaded machine slows the restart

        async def write() -> None:
            while time.monotonic() < deadline:
                try:
                    acked.append(await pg.log.append("s", 1, [b"x"]))
                except StaleEpoch:
                    refused.set()
                    return
                await asyncio.sleep(0.005)  # a busy room, not a livelock
            raise AssertionError("the epoch never changed")

        async def restart() -> int:
            await asyncio.sleep(0.05)
            head = 0
            while time.monotonic() < deadline:
                entries = await other.log.read("s", 1, after=head)  # only what is new
                head = entries[-1].seq if entries else head
                try:
                    await other.snapshots.start_epoch(
                        "s", Snapshot(2, 0, b"new"), from_epoch=1, from_seq=head
                    )
                    return head
                except StaleEpoch:
                    continue
            raise AssertionError("start_epoch never won")

        restarted = asyncio.ensure_future(restart())
        await asyncio.gather(write(), write(), write())
        head = await restarted
        assert refused.is_set() and acked and max(acked) <= head
        assert (await pg.catalog.get_score("s")).epoch == 2
        assert await pg.log.read("s", 1) == []
    finally:
        await other.close()


async def test_catalog_times_round_trip_through_timestamptz(pg: PostgresStorage) -> None:
    created = await pg.catalog.create_score(ScoreRecord("s", created_at=1700000000.1234567))
    assert created.created_at == pytest.approx(1700000000.123457, abs=1e-6)
    assert await pg.catalog.get_score("s") == created
    assert [r.id for r in await pg.catalog.list_scores()] == ["s"]


async def test_values_of_the_wrong_type_are_value_errors(pg: PostgresStorage) -> None:
    with pytest.raises(ValueError, match="expected str"):
        await pg.catalog.create_score(ScoreRecord("s", title=5))  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await pg.catalog.get_score("s")


async def test_lazy_open_close_and_unreachable_servers(postgres_dsn: str) -> None:
    name = _name()
    storage = PostgresStorage(postgres_dsn, MemoryBlobStore(), min_size=2, application_name=name)
    await storage.catalog.list_scores()  # the first call opens the pool
    conn = await asyncpg.connect(postgres_dsn)
    try:
        count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        assert await conn.fetchval(count, name) == 2
        await storage.close()
        for _ in range(100):
            if await conn.fetchval(count, name) == 0:
                break
            await asyncio.sleep(0.01)
        assert await conn.fetchval(count, name) == 0
    finally:
        await conn.close()
    with pytest.raises(StorageError, match="closed"):
        await storage.catalog.get_score("s")
    await storage.close()  # twice is fine
    down = PostgresStorage(
        "postgresql://postgres@127.0.0.1:1/orpheus", MemoryBlobStore(), connect_timeout=2
    )
    started = time.monotonic()
    with pytest.raises(StorageError, match="cannot connect"):
        await down.open()
    assert time.monotonic() - started < 5
    with pytest.raises(ValueError):
        PostgresStorage(postgres_dsn, MemoryBlobStore(), min_size=5, max_size=2)


async def test_backend_postgresql_url_with_s3_blobs(
    postgres_dsn: str, s3_server: S3Server, s3_test_bucket: str
) -> None:
    prefix = secrets.token_hex(4)
    for scheme in ("postgresql", "postgres"):
        url = postgres_dsn.replace("postgresql", scheme, 1)
        storage = (
            await open_backend(
                BackendConfig(
                    f"{url}?min_size=2&max_size=3&command_timeout=5&application_name=x",
                    f"s3://{s3_test_bucket}/{prefix}?endpoint_url={s3_server.endpoint_url}"
                    f"&region=us-east-1",
                    {
                        "access_key_id": s3_server.access_key_id,
                        "secret_access_key": s3_server.secret_access_key,
                    },
                )
            )
        ).storage
        try:
            assert isinstance(storage, PostgresStorage)
            assert isinstance(storage.blobs, S3BlobStore) and storage.blobs.prefix == prefix + "/"
            assert (storage.db.min_size, storage.db.max_size) == (2, 3)
            assert storage.db.command_timeout == 5.0
            await reset_postgres(postgres_dsn)
            await storage.catalog.create_score(ScoreRecord("s"))
            version = await storage.versions.create_version(
                "s", name="v", author=None, epoch=1, state=b"bytes"
            )
            listed = s3_server.client().list_objects_v2(Bucket=s3_test_bucket, Prefix=prefix)
            assert [o["Key"] for o in listed["Contents"]] == [
                f"{prefix}/scores/s/versions/{version.id}"
            ]
            await storage.catalog.delete_score("s")
            assert "Contents" not in s3_server.client().list_objects_v2(
                Bucket=s3_test_bucket, Prefix=prefix
            )
        finally:
            await storage.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://orpheus:secret@127.0.0.1:1/db",  # no blob_url
        "postgresql://orpheus:secret@127.0.0.1:1/db?min_size=many",
        "postgresql://orpheus:secret@127.0.0.1:1/db?min_size=3&max_size=2",
        "postgres://orpheus:secret@127.0.0.1:1/db?command_timeout=soon",
    ],
)
async def test_bad_postgresql_urls_are_refused_clearly(url: str) -> None:
    blob_url = None if "/db?" not in url else "memory://"
    with pytest.raises(ValueError) as info:
        await open_backend(BackendConfig(url, blob_url))
    assert "secret" not in str(info.value)


async def test_unreachable_postgresql_url_raises_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as info:
        await open_backend(
            BackendConfig(
                "postgresql://orpheus:secret@127.0.0.1:1/db?connect_timeout=2", "memory://"
            )
        )
    assert "secret" not in str(info.value)
