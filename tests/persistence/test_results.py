"""Contract suite for result stores: one set of tests over every backend (the
``backend`` fixture of conftest.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from persistence.backend import Backend
from persistence.base import ScoreRecord
from persistence.results.base import DocVersion, EncodedJson, ResultStore

RESULT = json.dumps({"key": {"result": {"key": "C major"}}})


@pytest.fixture
async def results(backend: Backend) -> AsyncIterator[ResultStore]:
    await backend.storage.catalog.create_score(ScoreRecord("s1"))
    await backend.storage.catalog.create_score(ScoreRecord("s2"))
    yield backend.results


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
        "s1",
        "all",
        DocVersion(1, 5),
        None,
    )
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
    await asyncio.gather(*(results.save("s1", "all", v, json.dumps({"seq": v.seq})) for v in order))
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


async def test_encoded_json_is_stored_as_the_same_text(results: ResultStore) -> None:
    """Text an encoder wrote (what analysis jobs save) is stored without a second parse
    (PostgreSQL's JSONB still checks it)."""
    text = EncodedJson(json.dumps({"version": "e1.1", "analyses": {"key": {"result": "C"}}}))
    assert await results.save("s1", "all", DocVersion(1, 1), text)
    got = await results.get_latest("s1")
    assert got is not None and json.loads(got.result_json) == json.loads(text)


async def test_bad_input_is_refused(results: ResultStore) -> None:
    with pytest.raises(ValueError):
        await results.save("s1", "all", DocVersion(1, 1), "{not json")
    with pytest.raises(ValueError):
        await results.save("../etc", "all", DocVersion(1, 1), "{}")
    with pytest.raises(ValueError):
        await results.save("s1", "", DocVersion(1, 1), "{}")
    with pytest.raises(ValueError):
        await results.save("s1", "all", DocVersion(1, 1), "{}", version_id="")
    with pytest.raises(ValueError):
        DocVersion(-1, 0)


async def test_any_analysis_set_and_version_id_round_trip(results: ResultStore) -> None:
    # One schema on every backend: nothing is packed into one column any more.
    assert await results.save("s1", "a@b", DocVersion(1, 4), '{"x": 1}', version_id="v@1")
    assert await results.save("s1", "a@b", DocVersion(1, 2), '{"x": 2}')
    named = await results.get_for_version("s1", "v@1", "a@b")
    assert named is not None and (named.analysis_set, named.version_id, named.version) == (
        "a@b",
        "v@1",
        DocVersion(1, 4),
    )
    live = await results.get_latest("s1", "a@b")
    assert live is not None and live.version == DocVersion(1, 2) and live.version_id is None
    assert await results.get_for_version("s1", "1", "a@b") is None


async def test_results_go_with_their_score(backend: Backend, results: ResultStore) -> None:
    assert await results.save("s1", "all", DocVersion(1, 1), "{}")
    assert await results.save("s1", "all", DocVersion(1, 1), "{}", version_id="v_1")
    assert await results.save("s2", "all", DocVersion(1, 1), "{}")
    await backend.storage.catalog.delete_score("s1")
    assert await results.get_latest("s1") is None
    assert await results.get_for_version("s1", "v_1") is None
    assert await results.get_latest("s2") is not None
