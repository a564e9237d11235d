"""Error reports and slow transactions to Sentry, on when ``SENTRY_DSN`` is set.

Start-up code calls :func:`init_sentry` once (``orpheus serve``, ``orpheus worker``):
unhandled errors (and ``log.error``/``log.exception`` lines) of the server (Starlette
integration), of the workers' jobs (Dramatiq integration) and of agent tasks
(:func:`task_scope`) become events; requests, jobs and tasks slower than
``ORPHEUS_SENTRY_SLOW_MS`` become transactions. Every event is tagged with the instance,
the component, and where known the score id and the task id.

Nothing secret or musical leaves: :func:`scrub` runs on every event and transaction
(``before_send``, ``before_send_transaction``) and drops request bodies, cookies,
``Authorization`` and token query strings, JWTs anywhere in strings, and values under
keys that name secrets or score content (passwords, notes, lyrics, chat, instructions);
log lines keep their template but not its arguments; frame local variables are never
collected, and job arguments are reduced to ids (:class:`JobTags`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import dramatiq
import sentry_sdk
from dramatiq.broker import MessageProxy
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from collab_server.settings import Settings

FILTERED = "[Filtered]"
# Keys whose values are secrets or score content, wherever they sit in an event.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookies",
        "set-cookie",
        "password",
        "passwd",
        "new_password",
        "old_password",
        "current_password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "llm_api_key",
        "jwt_secret",
        "admin_password",
        "dsn",
        "sentry_dsn",
        "x-api-key",
        "text",
        "lyric",
        "lyrics",
        "note",
        "notes",
        "pitches",
        "chat",
        "message_text",
        "instruction",
        "summary",
        "content",
        "body",
        "data",
        "args",
        "kwargs",
        "vars",
    }
)
# "data" is also Sentry's own name for breadcrumb and span details: those are kept.
_STRUCTURAL_DATA = frozenset({"breadcrumbs", "spans", "values"})
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+")
_SECRET_PARAM = re.compile(
    r"(?i)\b(token|access_token|password|secret|api_key|key|sig|signature|"
    r"x-amz-signature|x-amz-credential)=[^&\s\"']*"
)
_SCORE_PATH = re.compile(r"/(?:api|ws)/scores/([A-Za-z0-9._-]+)")
# 503 is an outage (logged as one warning line), not a bug.
_FAILED_STATUSES = {*range(500, 503), *range(504, 600)}


def init_sentry(settings: Settings, *, component: str) -> bool:
    """Start reporting to ``settings.sentry_dsn`` (nothing when it is empty); ``component``
    is ``server``, ``worker`` or ``agents``. Returns whether reporting is on."""
    if not settings.sentry_dsn:
        return False
    tags = {"instance": settings.instance_id, "component": component}
    slow = settings.sentry_slow_ms / 1000

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        return scrub(event, tags)

    def before_send_transaction(
        event: dict[str, Any], hint: dict[str, Any]
    ) -> dict[str, Any] | None:
        trace = event.get("contexts", {}).get("trace", {})
        if trace.get("op") == "websocket.server":
            return None  # a connection's lifetime, not a slow request
        if _duration(event) < slow:
            return None
        return scrub(event, tags)

    def traces_sampler(context: dict[str, Any]) -> float:
        if context.get("asgi_scope", {}).get("type") == "websocket":
            return 0.0  # a connection's lifetime, not a request
        return settings.sentry_traces_sample_rate

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        server_name=settings.instance_id,
        release=_release(),
        include_local_variables=False,  # frames' locals hold tokens and notes
        max_request_body_size="never",
        traces_sampler=traces_sampler,
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send_transaction,  # type: ignore[arg-type]
        integrations=[
            StarletteIntegration(failed_request_status_codes=_FAILED_STATUSES),
            DramatiqIntegration(),
        ],
    )
    return True


def _release() -> str | None:
    try:
        return f"orpheus@{version('orpheus')}"
    except PackageNotFoundError:
        return None


@contextmanager
def task_scope(task_id: str, score_id: str, agent: str) -> Iterator[None]:
    """Around an agent task's run: its errors are tagged with the task, score and agent,
    and the run is one ``agent.task`` transaction (sent when slow). Free without Sentry."""
    with sentry_sdk.isolation_scope() as scope:
        scope.set_tag("task_id", task_id)
        scope.set_tag("score_id", score_id)
        scope.set_tag("agent", agent)
        with sentry_sdk.start_transaction(op="agent.task", name=f"agent task {agent}"):
            yield


class JobTags(dramatiq.Middleware):
    """A Dramatiq middleware that tags a job's reports with its score id and task id
    (its first argument: a score id, or an agent task's record); the arguments
    themselves are never sent. The worker adds it to its broker."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        scope = sentry_sdk.get_current_scope()
        for name, value in job_ids(message.args).items():
            scope.set_tag(name, value)


def job_ids(args: Any) -> dict[str, str]:
    """Score and task ids in a job's arguments."""
    found: dict[str, str] = {}
    first = args[0] if isinstance(args, list | tuple) and args else None
    if isinstance(first, str):
        found["score_id"] = first
    elif isinstance(first, dict):
        for key, tag in (("score_id", "score_id"), ("id", "task_id")):
            if isinstance(first.get(key), str):
                found[tag] = first[key]
    return found


def scrub(event: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
    """``event`` with its tags added and everything secret or musical removed."""
    found = _ids(event)
    event = _clean(event, "")
    event_tags = event.setdefault("tags", {})
    if isinstance(event_tags, dict):
        event_tags.update(tags or {})
        for name, value in found.items():
            event_tags.setdefault(name, value)
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "env"):
            request.pop(key, None)
        if request.get("query_string"):
            request["query_string"] = _clean_string(str(request["query_string"]))
    entry = event.get("logentry")
    if isinstance(entry, dict) and entry.get("params"):
        # A log line's arguments may be anything (Dramatiq logs a failed job with its
        # arguments): keep the template only.
        entry["params"] = FILTERED
        entry["formatted"] = entry.get("message", "")
    return event


def _ids(event: dict[str, Any]) -> dict[str, str]:
    """Score and task ids of an event, read before scrubbing: from the request path, a
    log line's extras, or a Dramatiq job's first argument (a score id, or a task record)."""
    found: dict[str, str] = {}
    request = event.get("request")
    if isinstance(request, dict):
        match = _SCORE_PATH.search(str(request.get("url", "")))
        if match:
            found["score_id"] = match.group(1)
    extra = event.get("extra")
    if isinstance(extra, dict):
        for key, tag in (
            ("score", "score_id"),
            ("score_id", "score_id"),
            ("task", "task_id"),
            ("task_id", "task_id"),
        ):
            if isinstance(extra.get(key), str):
                found.setdefault(tag, extra[key])
    job = event.get("contexts", {}).get("dramatiq", {}).get("data")
    if isinstance(job, dict):
        for name, value in job_ids(job.get("args")).items():
            found.setdefault(name, value)
    return found


def _clean(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (FILTERED if _sensitive(str(k), key) else _clean(v, str(k)))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(item, key) for item in value]
    if isinstance(value, str):
        return _clean_string(value)
    return value


def _sensitive(key: str, parent: str) -> bool:
    name = key.lower()
    if name == "data" and parent in _STRUCTURAL_DATA | {""}:
        return False
    return name in SENSITIVE_KEYS


def _clean_string(text: str) -> str:
    text = _JWT.sub(FILTERED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={FILTERED}", text)


def _duration(event: dict[str, Any]) -> float:
    try:
        return _seconds(event["timestamp"]) - _seconds(event["start_timestamp"])
    except (KeyError, TypeError, ValueError):
        return float("inf")  # unknown: keep it


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)
