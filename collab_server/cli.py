"""The ``orpheus`` command line. Start-up code: reads settings, builds the app, runs it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from collab_server.settings import Settings


@click.group()
@click.version_option(package_name="orpheus")
def main() -> None:
    """Orpheus: a real-time collaborative score server."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the embedded SQLite database and blobs (default ./data).")
def serve(host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the server (embedded SQLite + files unless DATABASE_URL etc. are set)."""
    import uvicorn

    from collab_server.app import create_app
    from collab_server.logs import configure_logging

    settings = Settings.from_env(os.environ, host=host, port=port, data_dir=data_dir)
    configure_logging(settings.log_level, json=settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="websockets",
        ws_per_message_deflate=settings.ws_per_message_deflate,
        ws_max_size=settings.max_message_bytes,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
