"""The process's Redis client, built once from settings with one set of timeouts and
retries, and shared by fan-out, caches, rate limits, analysis announcements and the
Dramatiq broker.

Start-up code (the app factory, ``orpheus worker``) calls :func:`open_redis` once and
passes the client to everything that needs Redis; nothing else connects. Dramatiq's
``RedisBroker`` is synchronous and takes a synchronous ``redis.Redis`` (``client=``), so
a process that talks to the broker has exactly two clients, the asyncio one and
:func:`open_sync_redis`'s, both built by :func:`client_options` from the same settings.

Every client: connect and command timeout ``settings.redis_timeout``; a failed command
is retried :data:`RETRIES` times with a short exponential back-off (a Redis that stays
away is reported to the caller within about a second, not after redis-py's default of
three retries backing off up to ten seconds each); connections idle for
:data:`HEALTH_CHECK_SECONDS` are pinged before use. Blocking reads wait less than the
command timeout (:class:`~collab_server.fanout.redis.RedisFanOut` clamps its ``XREAD
BLOCK``); pub/sub listeners wait without one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from collab_server.settings import Settings

SCHEMES = ("redis", "rediss", "unix")
RETRIES = 2
HEALTH_CHECK_SECONDS = 15
DEFAULT_TIMEOUT = float(Settings.__dataclass_fields__["redis_timeout"].default)  # type: ignore[arg-type]


def client_options(timeout: float) -> dict[str, Any]:
    """The keyword options (timeouts, health checks) every client of this process gets;
    the retry policy is :func:`_retry`'s."""
    if timeout <= 0:
        raise ValueError("the Redis timeout must be > 0 seconds")
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> redis.asyncio.Redis:
    """An asyncio client for ``url`` (``redis://``, ``rediss://``, ``unix://``).
    Connections are made on first use, so Redis may be down when this is called."""
    _check(url)
    return redis.asyncio.Redis.from_url(
        url, retry=AsyncRetry(_backoff(), RETRIES), **client_options(timeout)
    )


def connect_sync(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """The synchronous client with the same options (for Dramatiq's broker)."""
    _check(url)
    return redis.Redis.from_url(url, retry=Retry(_backoff(), RETRIES), **client_options(timeout))


def open_redis(settings: Settings) -> redis.asyncio.Redis | None:
    """The process's asyncio client, or ``None`` without ``REDIS_URL``."""
    if not settings.redis_url:
        return None
    return connect(settings.redis_url, timeout=settings.redis_timeout)


def open_sync_redis(settings: Settings) -> redis.Redis | None:
    """The broker's synchronous client, or ``None`` without ``REDIS_URL``."""
    if not settings.redis_url:
        return None
    return connect_sync(settings.redis_url, timeout=settings.redis_timeout)


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=0.5, base=0.05)


def _check(url: str) -> None:
    scheme = urlsplit(url).scheme if isinstance(url, str) else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"unsupported Redis URL scheme {scheme!r} in REDIS_URL; use "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
