"""``orpheus login``: log in to a running server and print the access token (or store it
in a file), showing the server's own message when it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import click
import httpx

DEFAULT_SERVER = "http://localhost:8000"


def request_token(server: str, username: str, password: str, *,
                  transport: httpx.BaseTransport | None = None) -> str:
    """The access token for ``username``; :class:`click.ClickException` with the
    server's message when it refuses, or a clear line when it cannot be reached."""
    url = server.rstrip("/") + "/api/auth/login"
    try:
        with httpx.Client(transport=transport, timeout=30) as client:
            response = client.post(url, json={"username": username, "password": password})
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {server}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) \
            or not isinstance(body.get("access_token"), str):
        message = body.get("message") if isinstance(body, dict) else None
        raise click.ClickException(
            f"login refused ({response.status_code}): {message or response.text[:200]}")
    return str(body["access_token"])


def save_token(path: Path, token: str) -> None:
    """Write the token readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")


@click.command()
@click.option("--server", envvar="ORPHEUS_SERVER", default=DEFAULT_SERVER, show_default=True,
              help="The server's address (or ORPHEUS_SERVER).")
@click.option("--user", "username", default="admin", show_default=True)
@click.option("--password", envvar="ORPHEUS_PASSWORD",
              help="Prompted for unless given (or ORPHEUS_PASSWORD).")
@click.option("--save", "save_to", type=click.Path(path_type=Path), default=None,
              help="Store the token in this file (mode 600) instead of printing it.")
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
