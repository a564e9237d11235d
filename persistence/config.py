"""What :func:`persistence.backend.open_backend` needs to know, as one frozen object.

Built by the server's settings (``collab_server.settings.Settings.backend_config``) or
by hand in tools and tests; light to import (no database driver).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Where the data lives.

    ``database_url`` names the backend (table in :mod:`persistence.backend`; pool sizes
    and timeouts are its query options), ``blob_url`` the blob store
    (:mod:`persistence.blobs`; default per backend), ``blob_options`` the blob store's
    keyword options (S3 credentials, timeouts), ``application_name`` tags PostgreSQL
    connections.
    """

    database_url: str
    blob_url: str | None = None
    blob_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    application_name: str = "orpheus"

    def __repr__(self) -> str:  # keeps passwords and credentials out of logs
        return (
            f"BackendConfig(database_url={redact(self.database_url)!r}, "
            f"blob_url={self.blob_url!r}, blob_options={sorted(self.blob_options)!r}, "
            f"application_name={self.application_name!r})"
        )


def redact(url: str) -> str:
    """Hide a password in a URL before it goes into an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
