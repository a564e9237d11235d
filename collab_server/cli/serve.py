"""``orpheus serve``: settings checked, the app started, then uvicorn.

The app's start-up (opening the database, the first admin, ...) runs before the socket
is bound, outside uvicorn, so a bad setting ends the command with one line naming the
setting and a non-zero status: no traceback, nothing half-started. A signal ends the
server gracefully: uvicorn stops taking requests, then the app flushes and closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

import click
from starlette.applications import Starlette

from collab_server.errors import OrpheusError
from collab_server.security.authenticator import check_password
from collab_server.settings import SettingError, Settings
from persistence.config import redact
from persistence.errors import StorageError
from persistence.scheduling import background_thread

log = logging.getLogger("orpheus.serve")


class StartupError(Exception):
    """The server cannot start; the message is one line for a person."""


def read_settings(**overrides: Any) -> Settings:
    """Settings from the environment for a command; a bad one ends the command with one
    line naming it (``Error: ORPHEUS_PORT: 'x' is not a whole number``)."""
    try:
        return Settings.from_env(os.environ, **overrides)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None


def check_settings(settings: Settings) -> None:
    """Refuse settings that would fail later, naming the setting."""
    if settings.admin_password:
        try:
            check_password(settings.admin_password)
        except OrpheusError as exc:
            raise SettingError("ORPHEUS_ADMIN_PASSWORD", exc.message) from None


def explain(exc: BaseException, settings: Settings) -> str:
    """One line saying which setting stopped the start-up and why."""
    if isinstance(exc, (SettingError, StartupError)):
        return str(exc)
    if isinstance(exc, (StorageError, OSError, asyncio.TimeoutError)):
        where = redact(settings.effective_database_url)
        name = "DATABASE_URL" if settings.database_url else "ORPHEUS_DATA_DIR"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{name}: cannot open the database {where}: {reason}"
    if isinstance(exc, OrpheusError):
        return exc.message
    first = f"cannot start: {type(exc).__name__}: {exc}".splitlines()[0]
    return first + " (ORPHEUS_LOG_LEVEL=debug logs the traceback)"


def serve(
    app: Starlette,
    settings: Settings,
    *,
    uvicorn_options: dict[str, Any],
    fail: Callable[[str], None],
) -> int:
    """Start ``app`` (its lifespan), serve it until a signal, stop it; the exit status.
    ``fail`` shows the one line of a start-up failure."""
    import uvicorn

    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, lifespan="off", **uvicorn_options
    )
    server = uvicorn.Server(config)
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        server.should_exit = True

    # uvicorn's own handlers replace these while it serves and hand captured signals
    # back to them afterwards, so the app's shutdown still runs after a SIGTERM.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    async def run() -> int:
        # Search and semantic indexing, blob writes: woken by the loop, they wait for a
        # free core rather than preempt it (background_thread).
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(thread_name_prefix="orpheus", initializer=background_thread)
        )
        try:
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
        except Exception as exc:
            log.debug("start-up failed", exc_info=exc)
            fail(explain(exc, settings))
            return 1
        # What start-up built (modules, the app and its services) lives as long as
        # the process: frozen out of the collector, a full collection no longer scans it
        # (it paused every connection for 25-50 ms; docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        try:
            if not stopping:
                await server.serve()
        finally:
            await lifespan.__aexit__(None, None, None)
        return 0

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        return runner.run(run())
