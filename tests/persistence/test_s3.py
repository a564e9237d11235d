"""S3BlobStore specifics against a real S3 HTTP server (moto): layout under the prefix,
presigned URLs, paginated prefix deletes, failures, and the ``s3://`` factory URL.
The shared blob contract runs on S3 through ``conftest.BLOB_BACKENDS``."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from persistence.blobs import open_blob_store
from persistence.drivers.s3 import S3BlobStore, content_disposition
from persistence.errors import NotFound, StorageError
from tests.services import S3Server

pytestmark = pytest.mark.services


def _store(s3_server: S3Server, bucket: str, prefix: str = "", **options: object) -> S3BlobStore:
    return S3BlobStore(bucket, prefix, **{**s3_server.options(), **options})


def _keys(s3_server: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def test_keys_live_under_the_prefix_and_prefixes_are_isolated(
    s3_server: S3Server, s3_test_bucket: str
) -> None:
    tag = secrets.token_hex(4)
    one = _store(s3_server, s3_test_bucket, f"{tag}/one/")
    two = _store(s3_server, s3_test_bucket, f"{tag}/two")
    await one.put("scores/s1/versions/v_1", b"first", "application/vnd.recordare.musicxml")
    await two.put("scores/s1/versions/v_1", b"second")
    assert _keys(s3_server, s3_test_bucket, tag) == [
        f"{tag}/one/scores/s1/versions/v_1",
        f"{tag}/two/scores/s1/versions/v_1",
    ]
    head = s3_server.client().head_object(
        Bucket=s3_test_bucket, Key=f"{tag}/one/scores/s1/versions/v_1"
    )
    assert head["ContentType"] == "application/vnd.recordare.musicxml"
    await one.delete_prefix("scores/")
    with pytest.raises(NotFound):
        await one.get("scores/s1/versions/v_1")
    assert await two.get("scores/s1/versions/v_1") == b"second"


async def test_url_for_is_a_working_presigned_download_url(
    s3_server: S3Server, s3_test_bucket: str
) -> None:
    store = _store(s3_server, s3_test_bucket, secrets.token_hex(4))
    await store.put("exports/sonata.musicxml", b"<score-partwise/>")
    url = await store.url_for(
        "exports/sonata.musicxml", expires=60, filename='Sonate für "Violine".musicxml'
    )
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    assert query["response-content-disposition"] == [
        'attachment; filename="Sonate f_r _Violine_.musicxml"; '
        "filename*=UTF-8''Sonate%20f%C3%BCr%20%22Violine%22.musicxml"
    ]
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.content == b"<score-partwise/>"
    plain = await store.url_for("exports/sonata.musicxml")
    assert plain is not None and "response-content-disposition" not in plain
    for expires in (0, -5, 8 * 24 * 3600):
        with pytest.raises(ValueError):
            await store.url_for("exports/sonata.musicxml", expires=expires)
    with pytest.raises(ValueError):
        await store.url_for("../escape")


def test_content_disposition_is_safe_for_any_filename() -> None:
    assert content_disposition("a.mid") == "attachment; filename=\"a.mid\"; filename*=UTF-8''a.mid"
    header = content_disposition('evil"\r\nSet-Cookie: x=1\\/..mid')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="evil_Set-Cookie: x=1__..mid"')
    for bad in ("", "   "):
        with pytest.raises(ValueError):
            content_disposition(bad)


async def test_delete_prefix_pages_through_many_keys(
    s3_server: S3Server, s3_test_bucket: str
) -> None:
    prefix = secrets.token_hex(4)
    store = _store(s3_server, s3_test_bucket, prefix, page_size=3)
    for i in range(10):
        await store.put(f"scores/s1/snapshots/{i}", b"x")
    await store.put("scores/s10/snapshots/0", b"other score")
    await store.delete_prefix("scores/s1/")
    assert _keys(s3_server, s3_test_bucket, prefix) == [f"{prefix}/scores/s10/snapshots/0"]


async def test_failures_raise_storage_error(s3_server: S3Server) -> None:
    missing = _store(s3_server, "no-such-bucket-" + secrets.token_hex(4))
    with pytest.raises(StorageError) as info:
        await missing.put("k", b"x")
    assert not isinstance(info.value, NotFound)
    with pytest.raises(StorageError) as info:
        await missing.get("k")  # the bucket is missing, not the key: not NotFound
    assert not isinstance(info.value, NotFound)
    down = S3BlobStore(
        "bucket",
        endpoint_url="http://127.0.0.1:1",
        region="us-east-1",
        access_key_id="x",
        secret_access_key="y",
        connect_timeout=1,
        max_attempts=1,
    )
    for call in (down.put("k", b"x"), down.get("k"), down.delete("k"), down.delete_prefix("k")):
        with pytest.raises(StorageError):
            await call


def test_constructor_validates_its_settings() -> None:
    with pytest.raises(ValueError):
        S3BlobStore("b")  # bucket names have 3 to 63 characters
    with pytest.raises(ValueError):
        S3BlobStore("bucket", "../up", region="us-east-1")
    with pytest.raises(ValueError):
        S3BlobStore("bucket", region="us-east-1", page_size=0)
    assert S3BlobStore("bucket", "/a/b/", region="us-east-1").prefix == "a/b/"
    assert S3BlobStore("bucket", region="us-east-1").prefix == ""


async def test_factory_s3_url_with_query_options_and_keyword_credentials(
    s3_server: S3Server, s3_test_bucket: str
) -> None:
    prefix = secrets.token_hex(4)
    store = open_blob_store(
        f"s3://{s3_test_bucket}/{prefix}/blobs?endpoint_url={s3_server.endpoint_url}"
        f"&region=us-east-1&path_style=true",
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (s3_test_bucket, f"{prefix}/blobs/")
    await store.put("k", b"via the factory")
    assert _keys(s3_server, s3_test_bucket, prefix) == [f"{prefix}/blobs/k"]
    all_keywords = open_blob_store(f"s3://{s3_test_bucket}", **s3_server.options())
    assert isinstance(all_keywords, S3BlobStore) and all_keywords.prefix == ""
    assert await all_keywords.get(f"{prefix}/blobs/k") == b"via the factory"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("s3://", {}),
        ("s3:///prefix", {}),
        ("s3://key:secret@bucket/prefix", {}),
        ("s3://bucket:9000/prefix", {}),
        ("s3://bucket/p?secret_access_key=secret", {}),
        ("s3://bucket/p?access_key_id=AKIA", {}),
        ("s3://bucket/p?colour=blue", {}),
        ("s3://bucket/p?path_style=maybe", {}),
        ("s3://bucket/p?region=us-east-1", {"region": "eu-west-1"}),
        ("s3://bucket/p", {"password": "x"}),
        ("s3://bucket/../p", {"region": "us-east-1"}),
        ("file:///tmp/blobs", {"region": "us-east-1"}),
        ("memory://", {"endpoint_url": "http://x"}),
    ],
)
def test_bad_s3_urls_and_options_are_refused_clearly(url: str, options: dict[str, str]) -> None:
    with pytest.raises(ValueError) as info:
        open_blob_store(url, **options)
    assert "secret" not in str(info.value).replace("secret_access_key", "")
