"""Pick a blob store from a URL: the one table of blob store implementations.

=============================  ======================================================
``file:///srv/blobs``          blobs in a folder (``file:relative/dir`` also works)
``s3://bucket/some/prefix``    blobs in an S3 bucket under a prefix; options
                               ``endpoint_url``, ``region``, ``path_style`` in the query
                               or as keyword arguments; credentials
                               (``access_key_id``, ``secret_access_key``,
                               ``session_token``) only as keyword arguments, or left
                               to boto3's own chain (environment, profile, IAM role)
``memory://``                  blobs in memory
=============================  ======================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from persistence.base import BlobStore
from persistence.config import redact
from persistence.drivers.files import FileBlobStore
from persistence.drivers.memory import MemoryBlobStore
from persistence.drivers.s3 import S3BlobStore


def open_blob_store(blob_url: str, **options: Any) -> BlobStore:
    """The blob store named by ``blob_url``; ``options`` are keyword options of the
    store (only ``s3://`` has any). ``ValueError`` for an unknown scheme or bad URL."""
    url = split_url(blob_url, "blob")
    opener = _BLOBS.get(url.scheme)
    if opener is None:
        raise ValueError(
            f"unsupported blob URL scheme {url.scheme!r} in "
            f"{redact(blob_url)!r}; supported: {schemes(_BLOBS)}"
        )
    if options and url.scheme != "s3":
        raise ValueError(f"{url.scheme}:// blob stores take no options")
    return opener(url, options)


def _file_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if url.netloc not in ("", "localhost") or not url.path or url.query:
        raise ValueError("blob URL must look like file:///absolute/dir or file:relative/dir")
    return FileBlobStore(unquote(url.path))


def _memory_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if url.netloc or url.path or url.query:
        raise ValueError("memory:// takes no host, path or options")
    return MemoryBlobStore()


_S3_URL_OPTIONS = {"endpoint_url", "region", "path_style"}
_S3_SECRETS = {"access_key_id", "secret_access_key", "session_token"}
_S3_KEYWORDS = _S3_URL_OPTIONS | _S3_SECRETS | {"connect_timeout", "read_timeout", "max_attempts"}


def _s3_blobs(url: SplitResult, options: Mapping[str, Any]) -> BlobStore:
    if not url.hostname or "@" in url.netloc or url.port is not None:
        raise ValueError(
            "S3 blob URL must look like s3://bucket/optional/prefix; pass "
            "credentials as keyword arguments, not in the URL"
        )
    settings: dict[str, Any] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        if name in _S3_SECRETS:
            raise ValueError(f"pass {name} as a keyword argument, not in the URL")
        if name not in _S3_URL_OPTIONS:
            raise ValueError(
                f"unknown S3 URL option {name!r}; known: {', '.join(sorted(_S3_URL_OPTIONS))}"
            )
        if name == "path_style":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError("path_style must be true or false")
            settings[name] = value.lower() in ("true", "1")
        else:
            settings[name] = value
    unknown = set(options) - _S3_KEYWORDS
    if unknown:
        raise ValueError(
            f"unknown S3 option(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(_S3_KEYWORDS))}"
        )
    twice = set(options) & set(settings)
    if twice:
        raise ValueError(
            f"S3 option(s) {', '.join(sorted(twice))} given both in the URL "
            f"and as keyword arguments"
        )
    return S3BlobStore(url.netloc, unquote(url.path), **settings, **options)


_BLOBS: dict[str, Callable[[SplitResult, Mapping[str, Any]], BlobStore]] = {
    "file": _file_blobs,
    "memory": _memory_blobs,
    "s3": _s3_blobs,
}


def split_url(url: str, what: str) -> SplitResult:
    if not isinstance(url, str) or ":" not in url:
        raise ValueError(f"{what} URL {url!r} has no scheme")
    return urlsplit(url)


def schemes(table: Mapping[str, object]) -> str:
    return ", ".join(f"{scheme}://" for scheme in table)
