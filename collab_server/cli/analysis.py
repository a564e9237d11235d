"""``orpheus worker`` and ``orpheus analyze FILE`` (start-up code, added to the CLI)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from analysis_engine.labels import figure_label
from collab_server.cli.serve import read_settings
from collab_server.settings import Settings

LARGE_FILE = 200_000  # bytes: show a progress bar from here on


@click.command()
@click.option(
    "--threads",
    type=int,
    default=2,
    show_default=True,
    help="Worker threads (each runs one job at a time).",
)
@click.option(
    "--warm/--no-warm",
    default=True,
    show_default=True,
    help="Fill the Roman numeral cache at start-up (about 4 s).",
)
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    show_default=True,
    envvar="ORPHEUS_WORKER_METRICS_PORT",
    help="Serve Prometheus metrics (agent tasks and suggestions) on this port; 0: off.",
)
def worker(threads: int, warm: bool, metrics_port: int) -> None:
    """Run an analysis worker against the Redis broker (REDIS_URL)."""
    from collab_server.logs import configure_logging
    from collab_server.observability.sentry import init_sentry

    settings = read_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    init_sentry(settings, component="worker")  # before the broker: Dramatiq integration
    if not settings.redis_url:
        raise click.UsageError(
            "set REDIS_URL: without Redis the server analyses in-process and needs no worker"
        )
    run_worker(settings, threads=threads, warm=warm, metrics_port=metrics_port)


def run_worker(
    settings: Settings,
    *,
    threads: int = 2,
    warm: bool = True,
    stop: threading.Event | None = None,
    metrics_port: int = 0,
) -> None:
    """Serve analysis jobs until SIGINT/SIGTERM (or until ``stop`` is set); with a
    ``metrics_port``, Prometheus metrics on it (all interfaces)."""
    import gc
    from dataclasses import replace

    from analysis_engine import worker as actors
    from analysis_engine.jobs import AnalysisJobs
    from collab_server.cache import CachedResultStore, open_cache
    from collab_server.observability.sentry import JobTags
    from collab_server.redis_client import open_redis, open_sync_redis
    from persistence.backend import open_backend

    if warm:
        from analysis_engine.roman import warm_figures

        warm_figures()
        gc.freeze()
    # The process's Redis clients, from one settings object: the asyncio one (cache and
    # announcements, used on the actors' event loop) and the broker's synchronous one.
    redis = open_redis(settings)
    broker_client = open_sync_redis(settings)
    broker = actors.make_broker(broker_client)
    broker.add_middleware(JobTags())  # Sentry reports name the job's score and task
    notify = actors.redis_notifier(redis)
    built: list[AnalysisJobs] = []

    async def build() -> AnalysisJobs:
        backend = await open_backend(
            replace(settings.backend_config(), application_name="orpheus-worker")
        )
        # Saving through the shared cache invalidates it before the announcement goes
        # out, so a lost announcement cannot leave servers serving an older result.
        results = CachedResultStore(backend.results, open_cache(redis))
        built.append(AnalysisJobs(backend.storage, results, notify=notify))
        return built[-1]

    actors.declare_actors(broker, build)
    # Agent tasks (docs/agents.md): the same worker runs them, on their own queue.
    import dramatiq

    from collab_server.participants.worker import QUEUE as AGENT_QUEUE
    from collab_server.participants.worker import declare_agent_actor, headless_tasks

    metrics = None
    if metrics_port:
        from prometheus_client import start_http_server

        from collab_server.metrics import ServerMetrics

        metrics = ServerMetrics()
        start_http_server(metrics_port, registry=metrics.registry)

    async def agent_tasks() -> Any:
        tasks = await headless_tasks(settings, redis)
        if metrics is not None:
            tasks.on_finish = lambda record: metrics.agent_task_finished(
                record.agent, record.status, len(record.suggestions)
            )
        return tasks

    agent_actor = declare_agent_actor(broker, agent_tasks)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    # One Dramatiq worker (one event loop) serves both queues.
    running = dramatiq.Worker(
        broker, queues={actors.QUEUE, AGENT_QUEUE}, worker_threads=threads, worker_timeout=100
    )
    running.start()
    click.echo(f"orpheus worker: {threads} threads on {actors.QUEUE} and {AGENT_QUEUE}", err=True)
    try:
        stop.wait()
    finally:
        agent_actor.close()
        running.stop()
        for jobs in built:
            jobs.close()
        if broker_client is not None:
            broker_client.close()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print every result as JSON.")
@click.option("--only", multiple=True, help="Run only these analyses (repeatable).")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: for files over 200 kB)."
)
def analyze(file: Path, as_json: bool, only: tuple[str, ...], progress: bool | None) -> None:
    """Import FILE (MusicXML, MXL, MIDI, ABC, JSON) and print its analysis."""
    from tqdm import tqdm

    from analysis_engine import names
    from analysis_engine.context import AnalysisContext
    from analysis_engine.notetable import build_table
    from analysis_engine.registry import run
    from score_model.importer import ScoreImportError, import_score

    data = file.read_bytes()
    chosen = list(only) or names()
    unknown = [name for name in chosen if name not in names()]
    if unknown:
        raise click.BadParameter(
            f"unknown analyses {unknown}; known: {', '.join(names())}", param_hint="--only"
        )
    show = progress if progress is not None else len(data) >= LARGE_FILE
    with tqdm(
        total=2 + len(chosen), desc="import", disable=not show, file=sys.stderr, unit="step"
    ) as bar:
        try:
            score = import_score(data, filename=file.name)
        except ScoreImportError as exc:
            raise click.ClickException(f"cannot import {file.name}: {exc}") from None
        bar.update()
        bar.set_description("note table")
        score_data = score.read()
        context = AnalysisContext(build_table(score_data))
        bar.update()
        results: dict[str, Any] = {}
        for name in chosen:
            bar.set_description(name)
            results[name] = run(name, context, version=file.name)
            bar.update()
    if as_json:
        click.echo(json.dumps(results, indent=2, allow_nan=False))
    else:
        click.echo(
            summary_text(score_data.meta.title or file.name, results, len(score_data.problems))
        )


def _beat(modulation: dict[str, Any]) -> str:
    """ " beat 3" for a modulation that turns inside the bar (nothing on the downbeat)."""
    beat = modulation.get("beat", 1)
    return "" if beat == 1 else f" beat {beat:g}"


def summary_text(title: str, results: dict[str, Any], problems: int = 0) -> str:
    """A few readable lines from the results that are present."""
    lines = [title]
    summary = results.get("summary", {}).get("result")
    if summary:
        lines.append(
            f"  {summary['measures']} measures, {summary['parts']} parts, "
            f"{summary['notes']} notes, {summary['duration']:g} quarters"
        )
    key = results.get("key", {}).get("result")
    if key:
        lines.append(
            f"  key: {key.get('label') or key['key']} (correlation {key['correlation']:.2f})"
        )
        modulations = key.get("modulations") or []
        if modulations:
            lines.append(
                "  modulations: "
                + ", ".join(
                    f"m. {m['number']}{_beat(m)} {m.get('label') or m['to']}"
                    for m in modulations[:12]
                )
                + (" ..." if len(modulations) > 12 else "")
            )
    harmony = results.get("harmony", {}).get("result")
    if harmony:
        cadences = harmony.get("cadences") or []
        lines.append(
            f"  harmony: {len(harmony.get('slices') or [])} sonorities, {len(cadences)} cadences"
        )
        for cadence in cadences[:8]:
            figures = "-".join(figure_label(f) for f in cadence.get("figures") or [] if f)
            lines.append(
                f"    m. {cadence['number']}: {cadence.get('label') or cadence['type']}"
                f" in {cadence.get('key_label') or cadence['key']}"
                + (f" ({figures})" if figures else "")
            )
    melody = results.get("melody", {}).get("result")
    if melody:
        for part in melody.get("parts") or []:
            ambitus = part.get("ambitus") or {}
            if ambitus:
                from analysis_engine.labels import note_label

                lines.append(
                    f"  {part.get('name') or part['part']}: "
                    f"{note_label(ambitus.get('lowest') or '')}"
                    f"-{note_label(ambitus.get('highest') or '')}, "
                    f"{part.get('notes', 0)} notes"
                )
    voice_leading = results.get("voice_leading", {}).get("result")
    if voice_leading:
        counts = voice_leading.get("counts") or {}
        if counts:
            from analysis_engine.labels import issue_label

            lines.append(
                "  voice leading: "
                + ", ".join(f"{issue_label(kind)}: {n}" for kind, n in sorted(counts.items()))
            )
    if problems:
        lines.append(f"  {problems} problems reported while reading the score")
    return "\n".join(lines)
