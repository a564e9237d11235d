"""``orpheus agent``: ask an agent to work on a score of a running server, following its
progress (the task's server-sent events) on the terminal.

``orpheus agent run SCORE_ID "harmonise bars 1-8" --agent aureon`` starts the task with
``POST /api/scores/{id}/agents/tasks`` (the same rules as REST: roles, rate limits) and
prints each step until the task ends; Ctrl-C cancels it. ``orpheus agent list`` shows
the personas.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import click

from collab_server.cli.login import DEFAULT_SERVER

STEP = {
    "queued": "queued",
    "started": "started",
    "status": "",
    "write": "wrote",
    "stale": "skipped (changed by someone)",
    "gate": "checked",
    "say": "says",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "undone": "undone",
}


def _call(
    server: str,
    token: str | None,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    accept: str = "application/json",
    timeout: float = 30,
) -> Any:
    headers = {"Accept": accept}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        server.rstrip("/") + path,
        method=method,
        headers=headers,
        data=json.dumps(body).encode() if body is not None else None,
    )
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as refused:
        raw = refused.read()
        try:
            message = json.loads(raw).get("message")
        except ValueError:
            message = None
        raise click.ClickException(
            f"{method} {path} refused ({refused.code}): "
            f"{message or raw.decode('utf-8', 'replace')[:200]}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(
            f"cannot reach {server}: {getattr(exc, 'reason', exc)}"
        ) from None


def events(response: Any) -> Iterator[dict[str, Any]]:
    """Decode a ``text/event-stream`` response into its events' JSON data."""
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("data: "):
            yield json.loads(line[6:])


def describe(event: dict[str, Any]) -> str:
    """One line for a task event."""
    kind = event["type"]
    if kind == "status":
        focus = event.get("focus") or {}
        where = f" ({len(focus.get('measures') or [])} measure(s))" if focus else ""
        return f"{event['status']}{where}"
    if kind == "write":
        return f"wrote {event['notes']} note(s) in {event['measure']}/{event['part']}" + (
            " (stale: not applied)" if event.get("stale") else ""
        )
    if kind == "say":
        return f"says: {event['text']}"
    if kind == "gate":
        after = event.get("after", {}).get("score", 0)
        before = event.get("before", {}).get("score", 0)
        verdict = "offered" if event.get("offered") else "withheld"
        return f"quality gate: faults {before} -> {after}, {verdict}"
    if kind in ("done", "failed"):
        text = event.get("summary") or event.get("error") or ""
        return f"{kind}: {text}".rstrip(": ")
    return STEP.get(kind, kind)


@click.group()
def agent() -> None:
    """Ask the agents (mia, miette, jeremyai, aureon) to work on a score."""


def _options(command: Any) -> Any:
    command = click.option(
        "--server",
        envvar="ORPHEUS_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        help="The server's address.",
    )(command)
    return click.option(
        "--token", envvar="ORPHEUS_TOKEN", help="An access or API token (or ORPHEUS_TOKEN)."
    )(command)


@agent.command("run")
@click.argument("score_id")
@click.argument("instruction")
@click.option("--agent", "name", default="aureon", show_default=True)
@click.option("--measures", default=None, help="A bar range such as 1-8.")
@click.option("--direct", is_flag=True, help="Write the notes at once (no suggestions).")
@_options
def run(
    score_id: str,
    instruction: str,
    name: str,
    measures: str | None,
    direct: bool,
    server: str,
    token: str | None,
) -> None:
    """Start a task and show its progress until it ends (Ctrl-C cancels it)."""
    body: dict[str, Any] = {
        "agent": name,
        "instruction": instruction,
        "mode": "direct" if direct else "suggest",
    }
    if measures:
        body["measures"] = measures
    base = f"/api/scores/{score_id}/agents/tasks"
    with _call(server, token, "POST", base, body) as response:
        task = json.load(response)
    click.echo(f"task {task['id']}: {name} - {task['instruction']}")
    final: dict[str, Any] = {}
    try:
        with _call(
            server,
            token,
            "GET",
            f"{base}/{task['id']}/events",
            accept="text/event-stream",
            timeout=600,
        ) as stream:
            for event in events(stream):
                click.echo(f"  [{event['seq']:>3}] {describe(event)}")
                if event["type"] in ("done", "failed", "cancelled"):
                    final = event
                    break
    except KeyboardInterrupt:
        with _call(server, token, "DELETE", f"{base}/{task['id']}"):
            pass
        raise click.ClickException("cancelled") from None
    if final.get("type") != "done":
        raise click.ClickException(final.get("error") or final.get("type", "no result"))
    if final.get("suggestions"):
        click.echo(f"{len(final['suggestions'])} suggestion(s) wait for review")


@agent.command("list")
@_options
def list_agents(server: str, token: str | None) -> None:
    """The agents and what they do."""
    with _call(server, token, "GET", "/api/agents") as response:
        for persona in json.load(response):
            click.echo(f"{persona['name']:<10} {persona['role']}")
