"""Contract suite for result stores: one set of tests over every backend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistence.base import ScoreRecord, Storage
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryStorage
from persistence.drivers.postgres import PostgresStorage
from persistence.drivers.sqlite import SqliteStorage
from persistence.results.base import DocVersion, ResultStore, open_result_store
from persistence.results.memory import MemoryResultStore
from persistence.results.postgres import PostgresResultStore
from persistence.results.sqlite import SqliteResultStore
from tests.services import reset_postgres

RESULT = json.dumps({"key": {"result": {"key": "C major"}}})


async def _backend(name: str, request: pytest.FixtureRequest, tmp: Path
                   ) -> tuple[Storage, ResultStore]:
    if name == "memory":
        return MemoryStorage(), MemoryResultStore()
    if name == "sqlite":
        storage = SqliteStorage(tmp / "o.db", FileBlobStore(tmp / "blobs"))
        await storage.open()
        sqlite_results = SqliteResultStore(tmp / "o.db")
        await sqlite_results.open()
        return storage, sqlite_results
    dsn: str = request.getfixturevalue("postgres_dsn")
    pg = PostgresStorage(dsn, FileBlobStore(tmp / "blobs"), max_size=2)
    await pg.open()
    await reset_postgres(dsn)
    pg_results = PostgresResultStore(dsn, max_size=2)
    await pg_results.open()
    return pg, pg_results


@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgres", marks=pytest.mark.services)])
async def results(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> AsyncIterator[ResultStore]:
    storage, store = await _backend(request.param, request, tmp_path)
    await storage.catalog.create_score(ScoreRecord("s1"))
    await storage.catalog.create_score(ScoreRecord("s2"))
    try:
        yield store
    finally:
        await store.close()
        await storage.close()


def test_version_tokens_order_and_parse() -> None:
    assert DocVersion(1, 10) < DocVersion(1, 11) < DocVersion(2, 0)
    assert DocVersion.parse("e3.42") == DocVersion(3, 42)
    assert DocVersion(3, 42).token == "e3.42"
    for bad in ("3.42", "e3", "e-1.2", "e1.2x", ""):
        with pytest.raises(ValueError):
            DocVersion.parse(bad)


async def test_save_and_read_latest(results: ResultStore) -> None:
    assert await results.get_latest("s1") is None
    assert await results.save("s1", "all", DocVersion(1, 5), RESULT, duration_ms=3.5)
    got = await results.get_latest("s1")
    assert got is not None
    assert (got.score_id, got.analysis_set, got.version, got.version_id) == (
        "s1", "all", DocVersion(1, 5), None)
    assert json.loads(got.result_json) == json.loads(RESULT)
    assert got.duration_ms == 3.5
    assert await results.get_latest("s2") is None
    assert await results.get_latest("s1", "key") is None


async def test_stale_result_never_overwrites_newer(results: ResultStore) -> None:
    assert await results.save("s1", "all", DocVersion(1, 9), '{"n": 9}')
    assert not await results.save("s1", "all", DocVersion(1, 8), '{"n": 8}')
    assert await results.save("s1", "all", DocVersion(1, 9), '{"n": 9.1}')  # same version
    got = await results.get_latest("s1")
    assert got is not None and json.loads(got.result_json) == {"n": 9.1}
    assert await results.save("s1", "all", DocVersion(2, 0), '{"n": 0}')  # new epoch
    assert not await results.save("s1", "all", DocVersion(1, 99), '{"n": 99}')
    got = await results.get_latest("s1")
    assert got is not None and got.version == DocVersion(2, 0)


async def test_concurrent_saves_keep_the_newest(results: ResultStore) -> None:
    versions = [DocVersion(1, seq) for seq in range(1, 21)]
    order = versions[10:] + versions[:10][::-1]
    await asyncio.gather(*(results.save("s1", "all", v, json.dumps({"seq": v.seq}))
                           for v in order))
    got = await results.get_latest("s1")
    assert got is not None and got.version == DocVersion(1, 20)
    assert json.loads(got.result_json) == {"seq": 20}


async def test_named_versions_are_kept_beside_the_latest(results: ResultStore) -> None:
    assert await results.save("s1", "all", DocVersion(1, 3), '{"v": "a"}', version_id="v_a")
    assert await results.save("s1", "all", DocVersion(1, 7), '{"live": 7}')
    assert await results.save("s1", "all", DocVersion(1, 1), '{"v": "b"}', version_id="v_b")
    named = await results.get_for_version("s1", "v_a")
    assert named is not None and named.version_id == "v_a"
    assert json.loads(named.result_json) == {"v": "a"}
    live = await results.get_latest("s1")
    assert live is not None and live.version == DocVersion(1, 7)
    assert await results.get_for_version("s1", DocVersion(1, 7)) is not None
    assert await results.get_for_version("s1", DocVersion(1, 6)) is None
    assert await results.get_for_version("s1", "v_missing") is None
    await results.delete_score("s1")
    assert await results.get_latest("s1") is None
    assert await results.get_for_version("s1", "v_a") is None


async def test_bad_input_is_refused(results: ResultStore) -> None:
    with pytest.raises(ValueError):
        await results.save("s1", "all", DocVersion(1, 1), "{not json")
    with pytest.raises(ValueError):
        await results.save("../etc", "all", DocVersion(1, 1), "{}")
    with pytest.raises(ValueError):
        await results.save("s1", "a@b", DocVersion(1, 1), "{}")
    with pytest.raises(ValueError):
        DocVersion(-1, 0)


async def test_open_result_store_by_url(tmp_path: Path) -> None:
    store = await open_result_store("memory://")
    assert isinstance(store, MemoryResultStore)
    storage = SqliteStorage(tmp_path / "x.db", FileBlobStore(tmp_path / "b"))
    await storage.open()
    await storage.catalog.create_score(ScoreRecord("s1"))
    sqlite_store = await open_result_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert await sqlite_store.save("s1", "all", DocVersion(1, 1), "{}")
        await storage.catalog.delete_score("s1")  # results go with their score
        assert await sqlite_store.get_latest("s1") is None
    finally:
        await sqlite_store.close()
        await storage.close()
    with pytest.raises(ValueError):
        await open_result_store("ftp://x")


@pytest.mark.services
async def test_open_postgres_result_store_by_url(postgres_dsn: str, tmp_path: Path) -> None:
    storage = PostgresStorage(postgres_dsn, FileBlobStore(tmp_path / "b"), max_size=2)
    await storage.open()
    await reset_postgres(postgres_dsn)
    await storage.catalog.create_score(ScoreRecord("s1"))
    sep = "&" if "?" in postgres_dsn else "?"
    store = await open_result_store(f"{postgres_dsn}{sep}min_size=1&max_size=2")
    try:
        assert isinstance(store, PostgresResultStore)
        assert await store.save("s1", "all", DocVersion(1, 1), "{}")
        await storage.catalog.delete_score("s1")
        assert await store.get_latest("s1") is None
    finally:
        await store.close()
        await storage.close()
