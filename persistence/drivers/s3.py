"""A :class:`~persistence.base.BlobStore` on S3 or an S3-compatible server (MinIO, moto).

Keys live under ``prefix`` in ``bucket``; the bucket must exist. boto3 is blocking, so
every call runs in a thread (:func:`asyncio.to_thread`); a boto3 client is thread-safe.
S3 writes are atomic per object, which is what ``put`` promises. Failures (network,
credentials, missing bucket, throttling after boto3's own retries) raise
:class:`~persistence.errors.StorageError`; a missing key raises
:class:`~persistence.errors.NotFound`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from persistence.base import check_blob_key
from persistence.errors import NotFound, StorageError

P = ParamSpec("P")
T = TypeVar("T")

#: S3's limit for presigned URLs: seven days.
MAX_URL_EXPIRY = 7 * 24 * 3600
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore:
    """Blobs as objects ``<prefix>/<key>`` in ``bucket``.

    Pass ``client`` (a boto3 S3 client) or the settings to build one: ``endpoint_url``
    (MinIO, moto; ``None`` for AWS), ``region``, and credentials (``None`` leaves them
    to boto3's usual chain). ``path_style`` addressing defaults to on with an
    ``endpoint_url``, off for AWS. Each request gets ``max_attempts`` tries in all
    (boto3's standard retry mode, with back-off) within the given timeouts.
    ``page_size`` (at most 1,000) is how many keys ``delete_prefix`` lists and deletes
    per request.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        path_style: bool | None = None,
        client: Any = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 3,
        page_size: int = 1000,
    ) -> None:
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise ValueError(f"invalid S3 bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            check_blob_key(prefix)
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.page_size = page_size
        if client is None:
            addressing = (
                "path"
                if (endpoint_url is not None if path_style is None else path_style)
                else "virtual"
            )
            config = Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
            )
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                aws_session_token=session_token,
                config=config,
            )
        self.client = client

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        name = self._name(key)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("blob data must be bytes")
        await _call(
            self.client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=bytes(data),
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        name = self._name(key)
        try:
            return await _call(self._read, name)
        except StorageError as exc:
            if _code(exc) in _MISSING:
                raise NotFound(f"no blob {key!r}") from None
            raise

    async def delete(self, key: str) -> None:
        await _call(self.client.delete_object, Bucket=self.bucket, Key=self._name(key))

    async def delete_prefix(self, prefix: str) -> None:
        check_blob_key(prefix, prefix=True)
        await _call(self._delete_prefix, self.prefix + prefix)

    async def url_for(
        self, key: str, *, expires: int = 3600, filename: str | None = None
    ) -> str | None:
        """A presigned GET URL valid for ``expires`` seconds (1 to 7 days); with
        ``filename``, the download is offered under that name."""
        name = self._name(key)
        if not isinstance(expires, int) or not 1 <= expires <= MAX_URL_EXPIRY:
            raise ValueError(f"expires must be 1 to {MAX_URL_EXPIRY} seconds")
        params = {"Bucket": self.bucket, "Key": name}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url: str = await _call(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires
        )
        return url

    def _name(self, key: str) -> str:
        return self.prefix + check_blob_key(key)

    def _read(self, name: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=name)
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def _delete_prefix(self, start: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start, PaginationConfig={"PageSize": self.page_size}
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            result = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
            )
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 refused to delete {len(errors)} objects, e.g. "
                    f"{first.get('Key')!r}: {first.get('Code')}"
                )


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition for ``filename`` (RFC 6266): an ASCII
    fallback name plus the exact UTF-8 name."""
    if not isinstance(filename, str) or not filename.strip():
        raise ValueError("filename must be a non-empty string")
    cleaned = "".join(c for c in filename if c.isprintable()).replace("/", "_")
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in cleaned)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


def _code(exc: BaseException) -> str | None:
    cause = exc.__cause__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code"))
    return None


async def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking boto3 call in a thread; its failures become StorageError."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageError(f"S3: {exc}") from exc
