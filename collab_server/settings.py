"""Server settings, read once at start-up into a frozen object.

Only start-up code (the CLI and the app factory's callers) calls :meth:`Settings.from_env`;
library code receives a :class:`Settings` or the values it needs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from persistence.config import BackendConfig

ENV_PREFIX = "ORPHEUS_"
# Settings that operators know by their conventional names.
ENV_ALIASES = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL", "sentry_dsn": "SENTRY_DSN"}
# Defaults that library constructors share with Settings (they import them from here).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
SEND_QUEUE_FRAMES = 512
SEND_QUEUE_BYTES = 16 * 1024 * 1024
ROOM_IDLE_SECONDS = 30.0
PRESENCE_INTERVAL_MS = 40.0
_SECRETS = {"jwt_secret", "admin_password", "llm_api_key", "sentry_dsn"}


class SettingError(ValueError):
    """A setting that cannot be used: ``str()`` names it and says what is wrong."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting with its default. Environment: ``ORPHEUS_<NAME>`` (upper case),
    plus ``DATABASE_URL`` and ``REDIS_URL``."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    # Storage: "sqlite:///path" (default: <data_dir>/orpheus.db), "memory://",
    # later "postgresql://...". Blobs: "file:///path" (default: <data_dir>/blobs), "s3://bucket/prefix".
    database_url: str = ""
    blob_url: str = ""
    redis_url: str = ""
    redis_timeout: float = 5.0  # seconds: connect and command timeout of every Redis client
    instance_id: str = field(default_factory=lambda: secrets.token_hex(4))
    # Sync engine
    ws_per_message_deflate: bool = False
    max_message_bytes: int = MAX_MESSAGE_BYTES
    send_queue_frames: int = SEND_QUEUE_FRAMES
    send_queue_bytes: int = SEND_QUEUE_BYTES
    room_idle_seconds: float = ROOM_IDLE_SECONDS
    # 0: a commit takes whatever arrived while the previous one ran (docs/benchmarks.md)
    commit_window_ms: float = 0.0
    compact_every: int = 500
    # REST
    max_upload_bytes: int = 20 * 1024 * 1024
    max_import_measures: int = 5_000
    max_import_notes: int = 200_000
    cors_origins: tuple[str, ...] = ()
    # Accounts and access control (docs/security.md)
    auth_enabled: bool = True
    open_registration: bool = False  # False: only admins create accounts
    jwt_secret: str = ""  # empty: generated into <data_dir>/jwt_secret (embedded only)
    jwt_algorithm: str = "HS256"
    jwt_lifetime_seconds: int = 12 * 3600
    admin_password: str = ""  # first start: the admin's password (else random, shown once)
    # Limits (docs/security.md); a rate of 0 turns that limit off
    rest_rate_per_ip: float = 20.0  # requests per second, refilled continuously
    rest_burst_per_ip: int = 200
    login_rate_per_ip: float = 0.5  # login and register attempts (password hashing)
    login_burst_per_ip: int = 10
    rest_rate_per_user: float = 20.0
    rest_burst_per_user: int = 200
    ws_update_rate: float = 100.0  # document updates per second per connection
    ws_update_burst: int = 1000
    # presence (awareness), sync step 1 and presence queries per second per connection
    ws_awareness_rate: float = 100.0
    ws_awareness_burst: int = 1000
    presence_interval_ms: float = PRESENCE_INTERVAL_MS  # a room relays presence at most this often
    max_document_bytes: int = 32 * 1024 * 1024  # a room's encoded state
    max_connections_per_user: int = 50
    max_connections_per_room: int = 500
    # Embedded mode (no REDIS_URL): run analysis in a child process (False: in a thread of
    # the server process, under its GIL; docs/benchmarks.md)
    analysis_process: bool = True
    # Deleted scores stay in their owner's trash this long, then are purged (0: at once)
    trash_days: float = 30.0
    # Agents (docs/agents.md). An empty LLM key: the offline music brain answers.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    agent_max_notes: int = 2_000  # notes one task may write
    agent_tasks_per_minute: int = 10  # tasks one user may start per minute (0: no limit)
    agent_max_tokens: int = 20_000  # model tokens per task
    agent_max_seconds: float = 120.0  # wall time per task
    # Webhooks (docs/webhooks.md)
    webhook_allow_private: bool = False  # True: loopback and private addresses too (tests)
    webhook_debounce_seconds: float = 5.0  # score.changed at most this often per score
    webhook_max_attempts: int = 8  # then a delivery is failed
    webhook_backoff_seconds: float = 2.0  # first retry; doubles each attempt
    webhook_backoff_cap_seconds: float = 600.0
    webhook_timeout_seconds: float = 10.0  # one HTTP request
    webhook_keep_days: float = 30.0  # the delivery log keeps finished deliveries this long
    # Semantic search (docs/search.md)
    semantic_search: bool = True  # False: the model never loads; /api/search/semantic: 503
    semantic_quiet_seconds: float = 2.0  # re-embed a score's texts this long after an edit
    # Logs
    log_level: str = "info"
    log_json: bool = True
    # Error reports (collab_server/observability/sentry.py): on when SENTRY_DSN is set
    sentry_dsn: str = ""
    sentry_traces_sample_rate: float = 1.0  # share of requests and tasks timed
    sentry_slow_ms: float = 1000.0  # timed transactions shorter than this are not sent

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read settings from an environment mapping; ``overrides`` (e.g. CLI flags) win."""
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = ENV_ALIASES.get(item.name, ENV_PREFIX + item.name.upper())
            raw = environ.get(name)
            if raw is None and item.name in ENV_ALIASES:
                raw = environ.get(ENV_PREFIX + item.name.upper())
            if raw is not None and raw != "":
                values[item.name] = _convert(raw, hints[item.name], name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'orpheus.db').resolve()}"

    @property
    def effective_blob_url(self) -> str:
        if self.blob_url:
            return self.blob_url
        if self.effective_database_url.startswith("memory:"):
            return "memory://"
        return f"file://{(self.data_dir / 'blobs').resolve()}"

    def backend_config(self) -> BackendConfig:
        """Where the data lives, for :func:`persistence.backend.open_backend` (the
        server, the worker and the CLI all open their backend from this)."""
        return BackendConfig(self.effective_database_url, self.effective_blob_url)

    def public(self) -> dict[str, Any]:
        """Settings safe to show (secrets masked), for logs and diagnostics."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith(("_url",)) and value and "@" in str(value):
                value = str(value).split("@", 1)[1]
            if item.name in _SECRETS and value:
                value = "***"
            out[item.name] = str(value) if isinstance(value, Path) else value
        return out


def _convert(raw: str, kind: Any, name: str) -> Any:
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            return Path(raw)
        if kind == tuple[str, ...]:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        kind_name = {"int": "whole number", "float": "number", "bool": "true or false"}.get(
            getattr(kind, "__name__", ""), str(kind)
        )
        raise SettingError(name, f"{raw!r} is not a {kind_name}") from None
