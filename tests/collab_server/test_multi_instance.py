"""Several ``orpheus serve`` processes sharing one PostgreSQL database, one Redis and one
S3 bucket (a moto server over real HTTP): clients spread over them edit one score
together; an instance killed with ``kill -9`` and a Redis restart lose nothing any
client saw, and snapshot and version bytes really land in the bucket."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pycrdt import MapEvent

from persistence.backend import BackendConfig, open_backend
from persistence.documents.store import DocumentStore
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import REMOTE, YClient, wait_for
from tests.collab_server.processes import Instance
from tests.collab_server.test_fanout import PrivateRedis
from tests.services import (  # noqa: F401
    S3Server,
    postgres_dsn,
    redis_service,
    s3_server,
    s3_test_bucket,
)

pytestmark = [pytest.mark.slow, pytest.mark.services]


class Cluster:
    """``count`` instances on one database, one Redis and one S3 prefix of ``bucket``
    (credentials reach the servers through boto3's environment chain)."""

    def __init__(
        self, dsn: str, redis_url: str, s3: S3Server, bucket: str, root: Path, count: int
    ) -> None:
        self.dsn, self.s3, self.bucket = dsn, s3, bucket
        self.prefix = f"cluster-{secrets.token_hex(4)}"
        self.blob_url = (
            f"s3://{bucket}/{self.prefix}?endpoint_url={s3.endpoint_url}"
            f"&region={s3.region}&path_style=true"
        )
        env = {
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "ORPHEUS_BLOB_URL": self.blob_url,
            "AWS_ACCESS_KEY_ID": s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
            "AWS_DEFAULT_REGION": s3.region,
            "ORPHEUS_LOG_LEVEL": "warning",
            "ORPHEUS_ROOM_IDLE_SECONDS": "60",
            "ORPHEUS_AUTH_ENABLED": "false",
            "ORPHEUS_REST_RATE_PER_IP": "0",
            "ORPHEUS_REST_RATE_PER_USER": "0",
            "ORPHEUS_WS_UPDATE_RATE": "0",
        }
        self.instances = [Instance(f"i{n}", env, root / f"i{n}") for n in range(count)]

    def start(self) -> None:
        first, *others = self.instances
        first.start()
        first.wait_ready()  # migrates the database alone
        for instance in others:
            instance.start()
        for instance in others:
            instance.wait_ready()

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()

    def create_score(self) -> str:
        reply = httpx.post(self.instances[0].base + "/api/scores", json={"title": "together"})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def bucket_keys(self, score_id: str) -> set[str]:
        """Keys of the score's objects in the bucket, relative to the score's folder."""
        folder = f"{self.prefix}/scores/{score_id}/"
        pages = (
            self.s3.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=folder)
        )
        return {item["Key"][len(folder) :] for page in pages for item in page.get("Contents", [])}

    async def stored(self, score_id: str) -> ScoreDoc:
        backend = await open_backend(
            BackendConfig(
                self.dsn,
                self.blob_url,
                {
                    "access_key_id": self.s3.access_key_id,
                    "secret_access_key": self.s3.secret_access_key,
                },
            )
        )
        try:
            documents = DocumentStore(backend.storage)
            return ScoreDoc.from_update((await documents.load(score_id)).state)
        finally:
            await backend.close()


@pytest.fixture
def cluster3(
    postgres_dsn: str,
    redis_service: str,
    s3_server: S3Server,
    s3_test_bucket: str,
    tmp_path: Path,
) -> Iterator[Cluster]:
    cluster = Cluster(postgres_dsn, redis_service, s3_server, s3_test_bucket, tmp_path, 3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def connect(url: str, made: list[YClient], score: ScoreDoc | None = None) -> YClient:
    client = await YClient(url, score=score).connect()
    made.append(client)
    await asyncio.wait_for(client.synced.wait(), 10)
    return client


class Writer:
    """Adds notes (and re-pitches some) through a client's own document."""

    def __init__(self, client: YClient, authored: list[str]) -> None:
        self.client = client
        self.authored = authored
        data = client.score.read()
        self.measure, self.part = data.measures[0].id, data.parts[0].id
        self.editor = ScoreEditor(client.score, Origin.client(str(client.client_id)))

    async def write(self, count: int, pause: float = 0.005) -> None:
        for index in range(count):
            note = self.editor.add_note(self.measure, self.part, index % 4, "1/4", ["C4"])
            self.authored.append(note)
            if index % 3 == 0:
                self.editor.set_pitches(note, ["E4"])
            await asyncio.sleep(pause)


def note_ids(client: YClient) -> set[str]:
    return set(client.score.raw_notes())


async def test_thirty_clients_on_three_instances_converge(
    cluster3: Cluster, clients: list[YClient]
) -> None:
    score_id = cluster3.create_score()
    everyone = [await connect(cluster3.instances[n % 3].ws(score_id), clients) for n in range(30)]
    authored: list[str] = []
    await asyncio.gather(*(Writer(c, authored).write(10) for c in everyone))
    assert len(authored) == 300
    # every id arrives, then every re-pitch (a note's add and its re-pitch are two updates,
    # so ids can agree while the last re-pitch is still in flight)
    await wait_for(lambda: all(note_ids(c) == set(authored) for c in everyone), timeout=30)
    await wait_for(
        lambda: all(c.score.raw_notes() == everyone[0].score.raw_notes() for c in everyone),
        timeout=30,
    )
    reference = everyone[0].score.raw_notes()
    assert sum(note["pitches"] == ["E4"] for note in reference.values()) == 30 * 4
    # a newcomer on every instance sees the same document, and so does the database
    for instance in cluster3.instances:
        fresh = await connect(instance.ws(score_id), clients)
        assert fresh.score.raw_notes() == reference
    assert (await cluster3.stored(score_id)).raw_notes() == reference
    # a version saved through another instance: its bytes are an object in the bucket
    reply = httpx.post(
        f"{cluster3.instances[2].base}/api/scores/{score_id}/versions",
        json={"name": "together"},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    version_id = reply.json()["id"]
    keys = cluster3.bucket_keys(score_id)
    assert f"versions/{version_id}" in keys
    assert any(key.startswith("snapshots/") for key in keys), keys
    stored_version = cluster3.s3.client().get_object(
        Bucket=cluster3.bucket, Key=f"{cluster3.prefix}/scores/{score_id}/versions/{version_id}"
    )
    assert ScoreDoc.from_update(stored_version["Body"].read()).raw_notes() == reference


async def test_kill_9_an_instance_mid_edit_loses_nothing_seen(
    cluster3: Cluster, clients: list[YClient]
) -> None:
    score_id = cluster3.create_score()
    one, two, victim = cluster3.instances
    everyone = [await connect(cluster3.instances[n % 3].ws(score_id), clients) for n in range(9)]
    seen: set[str] = set()

    def record(event: MapEvent) -> None:  # notes a client received from a server
        if event.transaction.origin == REMOTE:
            seen.update(
                k
                for k, change in event.keys.items()  # type: ignore[attr-defined]
                if change["action"] == "add"
            )

    for client in everyone:
        client.score.notes.observe(record)
    authored: list[str] = []
    writers = [asyncio.create_task(Writer(c, authored).write(100_000, 0.01)) for c in everyone]
    await wait_for(lambda: len(seen) > 200, timeout=30)
    victim.kill()  # mid-edit: every client is still writing
    await asyncio.sleep(0.3)
    for task in writers:
        task.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    seen_before = set(seen)

    # the victim's clients reconnect to the survivors with what they hold
    orphans = everyone[2::3]
    survivors = [c for c in everyone if c not in orphans]
    moved = [
        await connect((one, two)[n % 2].ws(score_id), clients, score=c.score)
        for n, c in enumerate(orphans)
    ]
    final = [*survivors, *moved]
    await wait_for(lambda: all(note_ids(c) == set(authored) for c in final), timeout=30)
    assert seen_before <= set(authored)
    assert len(authored) == len(set(authored))
    reference = final[0].score.raw_notes()
    assert all(c.score.raw_notes() == reference for c in final)
    stored = (await cluster3.stored(score_id)).raw_notes()
    assert stored == reference


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


async def test_redis_restart_instances_resync_by_themselves(
    postgres_dsn: str,
    private_redis: PrivateRedis,
    s3_server: S3Server,
    s3_test_bucket: str,
    tmp_path: Path,
    clients: list[YClient],
) -> None:
    cluster = Cluster(postgres_dsn, private_redis.url, s3_server, s3_test_bucket, tmp_path, 2)
    try:
        cluster.start()
        score_id = cluster.create_score()
        a1, a2, b1, b2 = [
            await connect(cluster.instances[n // 2].ws(score_id), clients) for n in range(4)
        ]
        authored: list[str] = []
        await asyncio.gather(Writer(a1, authored).write(10), Writer(b1, authored).write(10))
        await wait_for(
            lambda: all(note_ids(c) == set(authored) for c in (a1, a2, b1, b2)), timeout=10
        )

        private_redis.kill()
        during_a: list[str] = []
        during_b: list[str] = []
        await asyncio.gather(Writer(a1, during_a).write(10), Writer(b1, during_b).write(10))
        # each instance's own clients still edit together; the other side waits
        mine_a, mine_b = set(during_a), set(during_b)
        await wait_for(lambda: mine_a <= note_ids(a2) and mine_b <= note_ids(b2), timeout=10)
        await asyncio.sleep(0.5)
        assert not mine_b & note_ids(a2) and not mine_a & note_ids(b2)
        base = cluster.instances[0].base

        def fanout_state(url: str) -> tuple[float, bool]:
            metrics = httpx.get(url + "/metrics", timeout=2).text
            value = next(
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("orpheus_fanout_connected ")
            )
            ready = httpx.get(url + "/readyz", timeout=2).json()["checks"]["fanout"]
            return value, bool(ready["connected"])

        await wait_for(lambda: fanout_state(base) == (0.0, False), timeout=10)  # visible

        private_redis.start()  # empty: streams and everything in them are gone
        authored += during_a + during_b
        await wait_for(
            lambda: all(note_ids(c) == set(authored) for c in (a1, a2, b1, b2)), timeout=20
        )
        assert mine_b <= note_ids(a2) and mine_a <= note_ids(b2)
        assert fanout_state(base) == (1.0, True)
        # and fan-out works again afterwards
        after: list[str] = []
        await Writer(b2, after).write(5)
        await wait_for(lambda: set(after) <= note_ids(a1), timeout=10)
        assert (await cluster.stored(score_id)).raw_notes() == a1.score.raw_notes()
    finally:
        cluster.stop()
