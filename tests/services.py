"""Real services for tests: a throw-away PostgreSQL database, a moto S3 server, Redis.

Import the fixtures into a ``conftest.py`` to use them (``from tests.services import
postgres_dsn  # noqa: F401``). A service that cannot be reached FAILS the test with a
clear message (``pytest.fail``): these tests never skip.

- ``postgres_dsn`` (session): creates ``orpheus_test_<random>`` on 127.0.0.1:5432
  (trust auth, user ``postgres`` or else ``root``), yields its DSN, drops it at the end.
  Tables are created by whoever opens it (``PostgresStorage`` migrates on open);
  :func:`reset_postgres` empties them between tests.
- ``s3_server`` (session): a moto S3 server on a free loopback port, with dummy
  credentials and ``us-east-1``; ``s3_test_bucket`` (session) is a bucket on it, and
  :func:`s3_bucket` creates more.
- ``redis_service`` (session): checks Redis on 127.0.0.1:6379; :func:`redis_url` builds
  ``redis://127.0.0.1:6379/<db>``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import socket
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
import boto3
import pytest
from botocore.config import Config

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USERS = ("postgres", "root")
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
S3_REGION = "us-east-1"
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"


def run_sync(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    """Run ``fn(*args)`` to completion on a fresh event loop in another thread: works
    from sync code and from inside a running loop (a fixture set up lazily by an async
    fixture through ``request.getfixturevalue``)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fn(*args)).result()


# --- PostgreSQL ----------------------------------------------------------------------


def postgres_admin_dsn() -> str:
    """DSN of the server's ``postgres`` database for the first user that can log in;
    fails the test if none can."""
    errors = []
    for user in POSTGRES_USERS:
        dsn = f"postgresql://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"
        try:
            run_sync(_fetchval, dsn, "SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            errors.append(f"{user}: {exc!r}")
            continue
        return dsn
    pytest.fail(
        f"PostgreSQL is not reachable on {POSTGRES_HOST}:{POSTGRES_PORT} "
        f"({'; '.join(errors)}); start it (trust auth, user postgres or root)",
        pytrace=False,
    )


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database of the same server."""
    return f"{dsn.rsplit('/', 1)[0]}/{database}"


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    admin = postgres_admin_dsn()
    name = f"orpheus_test_{secrets.token_hex(4)}"
    run_sync(_fetchval, admin, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        run_sync(_fetchval, admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def reset_postgres(dsn: str) -> None:
    """Empty every table of the public schema except ``schema_migrations``. (DELETE,
    not TRUNCATE: on tiny tables it takes microseconds instead of a quarter second.)"""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        async with conn.transaction():
            for table in tables:
                await conn.execute(f"DELETE FROM {table['name']}")
    finally:
        await conn.close()


async def terminate_backends(dsn: str, application_name: str) -> int:
    """Kill the server processes of every connection named ``application_name`` (as a
    server crash or a failover would); return how many were killed."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                application_name,
            )
        )
    finally:
        await conn.close()


async def _fetchval(dsn: str, query: str) -> Any:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


# --- S3 (moto) -----------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str = S3_REGION
    access_key_id: str = S3_ACCESS_KEY
    secret_access_key: str = S3_SECRET_KEY

    def options(self) -> dict[str, Any]:
        """Keyword options for ``S3BlobStore`` / ``open_blob_store``."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server (one per server: building one takes
        tens of milliseconds; it is thread-safe)."""
        return _s3_client(
            self.endpoint_url, self.region, self.access_key_id, self.secret_access_key
        )


@functools.cache
def _s3_client(endpoint_url: str, region: str, access_key_id: str, secret_access_key: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on a free loopback port for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.fail(f"moto[server] is needed for the S3 tests: {exc}", pytrace=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = S3Server(f"http://{host}:{port}")
        try:
            s3.client().list_buckets()
        except Exception as exc:
            pytest.fail(f"the moto S3 server did not answer: {exc!r}", pytrace=False)
        yield s3
    finally:
        server.stop()


def s3_bucket(server: S3Server, name: str | None = None) -> str:
    """Create a bucket (a random name by default) and return its name."""
    name = name or f"orpheus-test-{secrets.token_hex(4)}"
    server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def s3_test_bucket(s3_server: S3Server) -> str:
    """A bucket for the session; give each test its own key prefix in it."""
    return s3_bucket(s3_server)


# --- Redis ---------------------------------------------------------------------------


def redis_url(db: int = 0) -> str:
    """``redis://127.0.0.1:6379/<db>`` (databases 0 to 15)."""
    if not 0 <= db <= 15:
        raise ValueError("Redis database numbers run from 0 to 15")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


@pytest.fixture(scope="session")
def redis_service() -> str:
    """The Redis server's base URL, after checking that it answers PING."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        pytest.fail(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}: {exc!r}", pytrace=False)
    if not reply.startswith(b"+PONG"):
        pytest.fail(f"Redis on {REDIS_HOST}:{REDIS_PORT} answered {reply!r} to PING", pytrace=False)
    return redis_url(0)
