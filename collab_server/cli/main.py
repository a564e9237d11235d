"""The ``orpheus`` command line. Start-up code: reads settings, builds the app, runs it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from collab_server.cli import agents as agents_cli
from collab_server.cli import analysis as analysis_cli
from collab_server.cli import backup as backup_cli
from collab_server.cli import login as login_cli
from collab_server.cli import mcp as mcp_cli
from collab_server.cli import search as search_cli
from collab_server.cli.serve import read_settings
from collab_server.settings import SettingError


@click.group()
@click.version_option(package_name="orpheus")
def main() -> None:
    """Orpheus: a real-time collaborative score server."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the embedded SQLite database and blobs (default ./data).",
)
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the server (embedded SQLite + files unless DATABASE_URL etc. are set)."""
    from collab_server.app import create_app
    from collab_server.cli import serve as serving
    from collab_server.logs import configure_logging
    from collab_server.observability.sentry import init_sentry
    from collab_server.sync.ws_protocol import WS_PROTOCOL

    settings = read_settings(host=host, port=port, data_dir=data_dir)
    try:
        serving.check_settings(settings)
    except SettingError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level, json=settings.log_json)
    init_sentry(settings, component="server")
    # The event loop shares the GIL with the store and in-process analysis threads: a
    # shorter switch interval halves the worst edit latency (docs/benchmarks.md).
    sys.setswitchinterval(0.001)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(
            f"ORPHEUS_DATA_DIR: cannot create {settings.data_dir}: {exc.strerror}"
        ) from None
    failures: list[str] = []
    status = serving.serve(
        create_app(settings, announce=lambda text: click.echo(text, err=True)),
        settings,
        uvicorn_options={
            "ws": WS_PROTOCOL,
            "ws_per_message_deflate": settings.ws_per_message_deflate,
            "ws_max_size": settings.max_message_bytes,
            "log_config": None,
            "timeout_graceful_shutdown": 10,
        },
        fail=failures.append,
    )
    if failures:
        raise click.ClickException(failures[0])
    sys.exit(status)


@main.group()
def user() -> None:
    """Manage accounts (in the configured database)."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="ORPHEUS_NEW_PASSWORD",
    help="Prompted for unless given.",
)
def user_add(name: str, admin: bool, password: str) -> None:
    """Create the account NAME."""
    from collab_server.cli.accounts import add_user

    _run_accounts(lambda auth: add_user(auth, name, password, admin=admin))
    click.echo(f"created user {name!r}" + (" (admin)" if admin else ""))


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
def token_create(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it (shown once)."""
    from collab_server.cli.accounts import create_token

    click.echo(_run_accounts(lambda auth: create_token(auth, username, name)))


def _run_accounts(job: Any) -> Any:
    import asyncio

    from collab_server.cli.accounts import with_authenticator

    settings = read_settings()
    try:
        return asyncio.run(with_authenticator(settings, job))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


main.add_command(agents_cli.agent)
main.add_command(analysis_cli.worker)
main.add_command(analysis_cli.analyze)
main.add_command(login_cli.login)
main.add_command(mcp_cli.mcp)
main.add_command(backup_cli.backup)
main.add_command(backup_cli.restore)
main.add_command(search_cli.reindex)


@main.command()
def migrate() -> None:
    """Apply pending database migrations (Postgres; SQLite creates its tables itself).
    The server also applies them on start-up."""
    import asyncio

    from persistence.backend import migrate_backend

    settings = read_settings()
    done = asyncio.run(migrate_backend(settings.backend_config()))
    if done is None:
        scheme = settings.effective_database_url.split(":", 1)[0]
        click.echo(f"{scheme}: tables are created on start-up; nothing to do")
        return
    click.echo("\n".join(f"applied {name}" for name in done) or "nothing to apply")
