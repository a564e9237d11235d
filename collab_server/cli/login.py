"""``orpheus login``: log in to a running server and print the access token (or store it
in a file), showing the server's own message when it refuses."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

DEFAULT_SERVER = "http://localhost:8000"


def request_token(server: str, username: str, password: str) -> str:
    """The access token for ``username``; :class:`click.ClickException` with the
    server's message when it refuses, or a clear line when it cannot be reached."""
    request = urllib.request.Request(
        server.rstrip("/") + "/api/auth/login",
        method="POST",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as refused:
        status, raw = refused.code, refused.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"cannot reach {server}: {reason}") from None
    body = _json(raw)
    token = body.get("access_token") if isinstance(body, dict) else None
    if status != 200 or not isinstance(token, str):
        message = body.get("message") if isinstance(body, dict) else None
        text = message or raw.decode("utf-8", "replace")[:200]
        raise click.ClickException(f"login refused ({status}): {text}")
    return token


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def save_token(path: Path, token: str) -> None:
    """Write the token readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")


@click.command()
@click.option(
    "--server",
    envvar="ORPHEUS_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="The server's address (or ORPHEUS_SERVER).",
)
@click.option("--user", "username", default="admin", show_default=True)
@click.option(
    "--password", envvar="ORPHEUS_PASSWORD", help="Prompted for unless given (or ORPHEUS_PASSWORD)."
)
@click.option(
    "--save",
    "save_to",
    type=click.Path(path_type=Path),
    default=None,
    help="Store the token in this file (mode 600) instead of printing it.",
)
def login(server: str, username: str, password: str | None, save_to: Path | None) -> None:
    """Log in and print an access token, e.g. TOKEN=$(orpheus login)."""
    if password is None:
        password = click.prompt("Password", hide_input=True, err=True)
    token = request_token(server, username, str(password))
    if save_to is None:
        click.echo(token)
    else:
        save_token(save_to, token)
        click.echo(f"token saved to {save_to}", err=True)
