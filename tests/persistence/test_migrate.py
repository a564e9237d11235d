"""Migrations on a real PostgreSQL: order, idempotence, concurrent starts, failures,
tampering, and the schema they build (constraints, cascades, indexes).

Each test works in a fresh schema of the session database (``search_path``: that
schema, then ``public``, where the pgvector extension lives once created), so the
bundled migrations run from scratch every time."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from persistence.drivers.migrate import Migration, MigrationError, load_migrations, migrate

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
Connect = Callable[[], Awaitable[asyncpg.Connection]]

#: Tables after every bundled migration (later migrations may add more).
EXPECTED_TABLES = {
    "schema_migrations",
    "scores",
    "log_heads",
    "update_log",
    "snapshots",
    "versions",
    "users",
    "share_links",
    "score_access",
    "api_tokens",
    "analysis_results",
    "session_messages",
    "revoked_sessions",
}
#: Tables of migration 0003 that nothing used, dropped by 0005.
DROPPED_TABLES = {"collaboration_sessions", "session_participants"}


@pytest.fixture
async def schema(postgres_dsn: str) -> AsyncIterator[str]:
    name = f"m_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres_dsn)
    await conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await conn.close()


@pytest.fixture
async def connect(postgres_dsn: str, schema: str) -> AsyncIterator[Connect]:
    """Opens connections whose tables land in the test's schema; closes them after."""
    opened: list[asyncpg.Connection] = []

    async def open_one() -> asyncpg.Connection:
        conn = await asyncpg.connect(
            postgres_dsn, server_settings={"search_path": f"{schema}, public"}
        )
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        await conn.close()


def _write(folder: Path, files: dict[str, str]) -> list[Migration]:
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return load_migrations(folder)


async def _tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
    )
    return {row["table_name"] for row in rows}


async def test_bundled_migrations_apply_in_order_and_only_once(
    connect: Connect, schema: str
) -> None:
    conn = await connect()
    bundled = load_migrations()
    assert [m.version for m in bundled] == list(range(1, len(bundled) + 1))
    assert [m.name for m in bundled[:3]] == [
        "0001_storage.sql",
        "0002_users_and_access.sql",
        "0003_analysis_and_sessions.sql",
    ]
    assert [m.name for m in await migrate(conn)] == [m.name for m in bundled]
    assert await _tables(conn, schema) >= EXPECTED_TABLES
    assert not await _tables(conn, schema) & DROPPED_TABLES
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY applied_at, version"
    )
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in bundled
    ]
    assert await migrate(conn) == []
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(bundled)


async def test_semantic_vectors_are_pgvector_vectors(connect: Connect, schema: str) -> None:
    conn = await connect()
    await migrate(conn)
    column = await conn.fetchval(
        "SELECT atttypid::regtype::text FROM pg_attribute "
        "WHERE attrelid = 'semantic_vectors'::regclass AND attname = 'embedding'"
    )
    assert column == "vector"
    assert await conn.fetchval("SELECT -('[0.6,0.8]'::vector <#> '[0.6,0.8]'::vector)") == 1.0


async def test_pgvector_off_the_search_path_is_named(postgres_dsn: str, schema: str) -> None:
    admin = await asyncpg.connect(postgres_dsn)
    conn = await asyncpg.connect(postgres_dsn, server_settings={"search_path": schema})
    try:
        await admin.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        with pytest.raises(MigrationError, match="pgvector is installed in a schema"):
            await migrate(conn)
        applied = await conn.fetch("SELECT name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in applied][-1] == "0009_webhooks.sql"  # 0010 rolled back
    finally:
        await conn.close()
        await admin.close()


async def test_instances_starting_at_once_apply_each_migration_once(
    connect: Connect, schema: str
) -> None:
    conns = [await connect() for _ in range(6)]
    applied = await asyncio.gather(*(migrate(conn) for conn in conns))
    names = sorted(m.name for done in applied for m in done)
    assert names == [m.name for m in load_migrations()]
    assert await _tables(conns[0], schema) >= EXPECTED_TABLES


async def test_a_failing_migration_rolls_back_alone_and_can_be_fixed(
    connect: Connect, schema: str, tmp_path: Path
) -> None:
    conn = await connect()
    migrations = _write(
        tmp_path,
        {
            "0001_a.sql": "CREATE TABLE a (id int PRIMARY KEY);",
            "0002_b.sql": "CREATE TABLE b (id int); INSERT INTO nowhere VALUES (1);",
            "README.txt": "not a migration",
        },
    )
    with pytest.raises(MigrationError, match=r"0002_b\.sql"):
        await migrate(conn, migrations)
    assert await _tables(conn, schema) == {"schema_migrations", "a"}
    assert await conn.fetchval("SELECT array_agg(version) FROM schema_migrations") == [1]
    fixed = _write(tmp_path, {"0002_b.sql": "CREATE TABLE b (id int);"})
    assert [m.name for m in await migrate(conn, fixed)] == ["0002_b.sql"]
    assert await _tables(conn, schema) == {"schema_migrations", "a", "b"}


async def test_edited_or_unknown_migrations_are_refused(connect: Connect, tmp_path: Path) -> None:
    conn = await connect()
    first = _write(
        tmp_path,
        {"0001_a.sql": "CREATE TABLE a\n(id int);\n", "0002_b.sql": "CREATE TABLE b (id int);\n"},
    )
    await migrate(conn, first)
    # CRLF line endings (a Windows checkout) are not an edit
    (tmp_path / "0001_a.sql").write_bytes(b"CREATE TABLE a\r\n(id int);\r\n")
    assert load_migrations(tmp_path) == first
    assert await migrate(conn, load_migrations(tmp_path)) == []
    edited = _write(tmp_path, {"0001_a.sql": "CREATE TABLE a\n(id bigint);\n"})
    with pytest.raises(MigrationError, match="changed"):
        await migrate(conn, edited)
    with pytest.raises(MigrationError, match="newer than the code"):
        await migrate(conn, first[:1])  # an older release meets a migrated database


@pytest.mark.parametrize(
    "files",
    [
        {"1_short.sql": ""},
        {"0001_Upper.sql": ""},
        {"0001-dash.sql": ""},
        {"0001_a.sql": "", "0001_b.sql": ""},
    ],
)
def test_badly_named_migration_files_are_refused(tmp_path: Path, files: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        _write(tmp_path, files)


async def test_schema_constraints_cascades_and_indexes(connect: Connect) -> None:
    conn = await connect()
    await migrate(conn)
    await conn.execute("""
        INSERT INTO users (id, email) VALUES ('ann', 'Ann@example.org'), ('bob', NULL);
        INSERT INTO scores (id, title, owner) VALUES ('s1', 'One', 'ann'), ('s2', '', 'ann');
        INSERT INTO share_links (id, score_id, token_hash) VALUES ('l1', 's1', '\\x01');
        INSERT INTO score_access (score_id, user_id, role) VALUES ('s1', 'ann', 'owner'),
            ('s1', 'bob', 'editor');
        INSERT INTO score_access (score_id, link_id, role) VALUES ('s1', 'l1', 'viewer');
        INSERT INTO api_tokens (id, user_id, token_hash) VALUES ('t1', 'bob', '\\x02');
        INSERT INTO session_messages (score_id, author_id, author_kind, body)
            VALUES ('s1', 'bob', 'user', '{"text": "hi"}');
        INSERT INTO analysis_results
            (score_id, analysis_set, version_id, epoch, seq, result) VALUES
            ('s1', 'key', '', 2, 1, '{"key": "G"}'), ('s1', 'key', 'v_1', 1, 5, '{"key": "C"}'),
            ('s1', 'roman', '', 2, 3, '[]'), ('s2', 'key', '', 3, 0, '{"key": "F"}');
    """)
    bad = [
        (
            "INSERT INTO users (id, email) VALUES ('ann2', 'ANN@example.org')",
            asyncpg.UniqueViolationError,
        ),  # emails are unique regardless of case
        ("INSERT INTO scores (id) VALUES ('../x')", asyncpg.CheckViolationError),
        (
            "INSERT INTO score_access (score_id, user_id, role) VALUES ('s2', 'bob', 'admin')",
            asyncpg.CheckViolationError,
        ),
        (
            "INSERT INTO score_access (score_id, user_id, link_id, role) "
            "VALUES ('s2', 'bob', 'l1', 'viewer')",
            asyncpg.CheckViolationError,
        ),
        (
            "UPDATE score_access SET role = 'owner' WHERE user_id = 'bob'",
            asyncpg.UniqueViolationError,
        ),  # one owner per score
        (
            "INSERT INTO score_access (score_id, user_id, role) VALUES ('s1', 'bob', 'viewer')",
            asyncpg.UniqueViolationError,
        ),  # one row per score and principal
        (
            "INSERT INTO score_access (score_id, link_id, role) VALUES ('s1', 'l1', 'editor')",
            asyncpg.UniqueViolationError,
        ),
        (
            "INSERT INTO score_access (score_id, user_id, role) VALUES ('s2', 'eve', 'viewer')",
            asyncpg.ForeignKeyViolationError,
        ),
        (
            "INSERT INTO analysis_results (score_id, analysis_set, version_id, epoch, seq, "
            "result) VALUES ('nope', 'key', '', 1, 1, '{}')",
            asyncpg.ForeignKeyViolationError,
        ),
        (
            "INSERT INTO analysis_results (score_id, analysis_set, version_id, epoch, seq, "
            "result) VALUES ('s1', 'key', '', 3, 1, '{}')",
            asyncpg.UniqueViolationError,
        ),
        (
            "INSERT INTO analysis_results (score_id, analysis_set, epoch, seq, result) "
            "VALUES ('s1', 'melody', 1, 1, '{}')",
            asyncpg.NotNullViolationError,
        ),
        (
            "INSERT INTO session_messages (score_id, author_kind, body) "
            "VALUES ('nope', 'user', '{}')",
            asyncpg.ForeignKeyViolationError,
        ),
        (
            "INSERT INTO session_messages (score_id, author_kind, body) "
            "VALUES ('s1', 'robot', '{}')",
            asyncpg.CheckViolationError,
        ),
    ]
    for statement, error in bad:
        with pytest.raises(error):
            await conn.execute(statement)

    latest = (
        "SELECT epoch, seq, result FROM analysis_results WHERE score_id = $1 "
        "AND analysis_set = $2 AND version_id = ''"
    )
    row = await conn.fetchrow(latest, "s1", "key")
    assert (row["epoch"], row["seq"], row["result"]) == (2, 1, '{"key": "G"}')
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {latest}", "s1", "key"))
    assert "analysis_results_pkey" in plan and "Sort" not in plan

    await conn.execute("DELETE FROM users WHERE id = 'bob'")
    assert await conn.fetchval("SELECT count(*) FROM api_tokens") == 0
    assert await conn.fetchval("SELECT count(*) FROM score_access WHERE score_id = 's1'") == 2
    await conn.execute("DELETE FROM scores WHERE id = 's1'")
    for table in ("share_links", "score_access", "session_messages"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await conn.fetchval("SELECT count(*) FROM analysis_results") == 1  # s2's


async def test_0005_unpacks_named_version_results_and_keeps_messages(
    connect: Connect, schema: str
) -> None:
    conn = await connect()
    before = [m for m in load_migrations() if m.version < 5]
    await migrate(conn, before)
    await conn.execute("""
        INSERT INTO scores (id) VALUES ('s1');
        INSERT INTO collaboration_sessions (id, score_id) VALUES ('c1', 's1');
        INSERT INTO session_messages (score_id, session_id, author_kind, body)
            VALUES ('s1', 'c1', 'agent', '{"text": "kept"}');
        INSERT INTO analysis_results (score_id, analysis, epoch, seq, result) VALUES
            ('s1', 'all', 1, 3, '{"live": 3}'), ('s1', 'all', 1, 7, '{"live": 7}'),
            ('s1', 'all@v_1', 1, 0, '{"named": 1}'), ('s1', 'key@v@2', 2, 0, '{"named": 2}');
    """)
    assert [m.version for m in await migrate(conn)] == [
        m.version for m in load_migrations() if m.version >= 5
    ]
    rows = await conn.fetch(
        "SELECT analysis_set, version_id, epoch, seq, result::text "
        "FROM analysis_results ORDER BY analysis_set, version_id"
    )
    assert [tuple(r) for r in rows] == [
        ("all", "", 1, 7, '{"live": 7}'),
        ("all", "v_1", 1, 0, '{"named": 1}'),
        ("key", "v@2", 2, 0, '{"named": 2}'),
    ]
    message = await conn.fetchrow("SELECT * FROM session_messages")
    assert (message["author_kind"], message["body"]) == ("agent", '{"text": "kept"}')
    assert set(message.keys()) == {
        "id",
        "score_id",
        "author_id",
        "author_kind",
        "body",
        "created_at",
    }
    assert not await _tables(conn, schema) & DROPPED_TABLES


def test_command_line_applies_then_has_nothing_to_do(postgres_dsn: str, schema: str) -> None:
    dsn = f"{postgres_dsn}?search_path={schema},public"  # asyncpg: a server setting
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "persistence.drivers.migrate", dsn],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout.splitlines() == [f"applied {m.name}" for m in load_migrations()]
    assert runs[1].stdout.strip() == "nothing to apply"
    usage = subprocess.run(
        [sys.executable, "-m", "persistence.drivers.migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode != 0 and "usage" in usage.stderr
