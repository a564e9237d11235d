"""Benchmark: melodic search over imported music21 corpus pieces.

1. Imports corpus pieces (every format the importer takes, in a seeded random order)
   in ``--jobs`` processes for at most ``--import-seconds``; the documents are cached in
   ``--cache`` so a rerun skips the import. An ABC file is a collection of tunes: each
   tune (with the file's header) is a piece of its own.
2. Indexes them into a fresh backend (``--database sqlite``, the default, or
   ``postgres``: a new database of the test server, dropped afterwards) through
   :meth:`SearchService.index_document`, as the server does.
3. Runs ``--queries`` melodic queries (``--notes`` consecutive notes of a random line
   of a random piece, transposed) through :meth:`SearchService.melody`: latency
   percentiles for exact (``min_similarity=1``), fuzzy (0.6) and rhythm queries, beside
   a brute-force scan of every line in memory (the baseline), and the recall of the
   exact search against that scan.
4. Reports the index size.

Run from the repository root: ``python -m bench.bench_search [--import-seconds 180]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "orpheus-bench-search"
_TUNE = re.compile(rb"^X:", re.M)


def abc_tunes(data: bytes) -> list[bytes]:
    """The tunes of an ABC file (each ``X:`` field starts one), each after the file's
    header (what precedes the first tune); a file of one tune as it is."""
    starts = [m.start() for m in _TUNE.finditer(data)]
    if len(starts) <= 1:
        return [data]
    ends = [*starts[1:], len(data)]
    return [data[: starts[0]] + data[a:b] for a, b in zip(starts, ends, strict=True)]


def pieces(files: list[Path]) -> dict[str, tuple[Path, int | None]]:
    """What the bench imports, by cache name: every file (``00042-name.ydoc``, ``i`` its
    place in ``files``), an ABC file of several tunes tune by tune
    (``00042-name-0007.ydoc``)."""
    out: dict[str, tuple[Path, int | None]] = {}
    for i, p in enumerate(files):
        tunes = len(abc_tunes(p.read_bytes())) if p.suffix.lower() == ".abc" else 1
        if tunes == 1:
            out[f"{i:05d}-{p.stem}.ydoc"] = (p, None)
        for j in range(tunes if tunes > 1 else 0):
            out[f"{i:05d}-{p.stem}-{j:04d}.ydoc"] = (p, j)
    return out


def _import_one(path_text: str, tune: int | None = None) -> bytes | None:
    import signal

    from score_model.importer import import_score

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        path = Path(path_text)
        data = path.read_bytes()
        if tune is not None:
            data = abc_tunes(data)[tune]
        return import_score(data, path.name).encode_state()
    except BaseException:  # refused, broken or too slow: skipped (counted)
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def import_corpus(cache: Path, seconds: float, jobs: int, seed: int) -> tuple[list[Path], int]:
    """Cached documents (importing more for up to ``seconds``); and how many failed."""
    from bench.fidelity_corpus import SOURCES, corpus_files

    cache.mkdir(parents=True, exist_ok=True)
    # in path order before the seeded shuffle, whatever order corpus_files gives the
    # formats in: the cache's names (their index) stay valid
    files = sorted(corpus_files(list(dict.fromkeys(SOURCES.values()))))
    random.Random(seed).shuffle(files)
    names = pieces(files)
    todo = [(name, item) for name, item in names.items() if not (cache / name).exists()]
    failed_marker = cache / "failed.txt"
    failed = set(failed_marker.read_text().split()) if failed_marker.exists() else set()
    todo = [(name, item) for name, item in todo if name not in failed]
    deadline = time.monotonic() + seconds
    if todo and seconds > 0:
        with ProcessPoolExecutor(jobs) as pool:
            pending = {}
            it = iter(todo)
            for name, (p, tune) in [next(it) for _ in range(min(jobs * 2, len(todo)))]:
                pending[pool.submit(_import_one, str(p), tune)] = name
            while pending:
                done = next(as_completed(pending))
                name = pending.pop(done)
                state = done.result()
                if state is None:
                    failed.add(name)
                else:
                    (cache / name).write_bytes(state)
                if time.monotonic() < deadline:
                    nxt = next(it, None)
                    if nxt is not None:
                        name, (p, tune) = nxt
                        pending[pool.submit(_import_one, str(p), tune)] = name
        failed_marker.write_text("\n".join(sorted(failed)))
    # only these names: a cache made before the tunes were split holds an ABC
    # collection's first tune under the file's name
    return [cache / name for name in sorted(names) if (cache / name).exists()], len(failed)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> int:
    from collab_server.search.extract import note_lines
    from collab_server.search.service import SearchService
    from persistence.backend import BackendConfig, open_backend
    from persistence.base import ScoreRecord
    from persistence.search.ngrams import intervals, ratios
    from score_model.document import ScoreDoc

    started = time.perf_counter()
    docs, failed = import_corpus(args.cache, args.import_seconds, args.jobs, args.seed)
    docs = docs[: args.max_pieces] if args.max_pieces else docs
    print(f"pieces: {len(docs)} imported and cached ({failed} refused or failed so far)")
    print(f"  import/cache step: {time.perf_counter() - started:.0f} s")

    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    dropped: str | None = None
    if args.database == "postgres":  # a fresh database of the test server, dropped after
        import secrets

        from tests.services import _fetchval, postgres_admin_dsn, with_database

        admin = postgres_admin_dsn()
        name = f"orpheus_bench_search_{secrets.token_hex(4)}"
        await _fetchval(admin, f'CREATE DATABASE "{name}"')
        dropped = name
        config = BackendConfig(with_database(admin, name), f"file://{tmp / 'blobs'}")
    else:
        config = BackendConfig(f"sqlite:///{tmp / 'search.db'}?synchronous=NORMAL")
    print(f"backend: {args.database}")
    backend = await open_backend(config)
    service = SearchService(backend.search, backend.storage.catalog)
    lines_by_score: dict[str, list[Any]] = {}
    started = time.perf_counter()
    notes = 0
    for i, path in enumerate(docs):
        state = path.read_bytes()
        score_id = f"s{i:05d}"
        await backend.storage.catalog.create_score(ScoreRecord(score_id, path.stem))
        await service.index_document(score_id, state)
        lines = note_lines(ScoreDoc.from_update(state).read())
        lines_by_score[score_id] = lines
        notes += sum(len(line.midis) for line in lines)
    index_seconds = time.perf_counter() - started
    stats = await backend.search.stats()
    print(
        f"indexed {len(docs)} pieces, {stats.lines:,} lines, {notes:,} notes, "
        f"{stats.postings:,} postings, {stats.text_entries:,} text entries in "
        f"{index_seconds:.1f} s ({index_seconds / max(1, len(docs)) * 1000:.0f} ms a piece)"
    )
    print(f"index size: {await index_bytes(backend, config)}")

    rng = random.Random(args.seed)
    candidates = [
        (s, line)
        for s, lines in lines_by_score.items()
        for line in lines
        if len(line.midis) >= args.notes
    ]
    queries = []
    for _ in range(args.queries):
        score_id, line = rng.choice(candidates)
        start = rng.randrange(len(line.midis) - args.notes + 1)
        shift = rng.randint(-5, 6)
        queries.append(
            (
                [m + shift for m in line.midis[start : start + args.notes]],
                list(line.durations[start : start + args.notes]),
            )
        )

    # The baseline scans every line, its intervals (and ratios) computed in advance.
    scanned = [
        (score_id, line, intervals(line.midis), ratios(line.durations))
        for score_id, lines in lines_by_score.items()
        for line in lines
    ]

    def brute(query: list[int], durations: list[Any] | None) -> set[tuple[str, str, int, int]]:
        want = intervals(query)
        want_r = ratios(durations) if durations is not None else None
        found = set()
        n = len(want)
        for score_id, line, steps, rs in scanned:
            for pos in range(len(steps) - n + 1):
                if steps[pos : pos + n] == want and (want_r is None or rs[pos : pos + n] == want_r):
                    found.add((score_id, line.part_id, line.voice, pos))
        return found

    async def timed(kind: str) -> list[float]:
        times = []
        for query, durations in queries:
            t = time.perf_counter()
            if kind == "brute":
                brute(query, None)
            else:
                await service.melody(
                    query,
                    durations if kind == "rhythm" else None,
                    min_similarity=0.6 if kind == "fuzzy" else 1.0,
                    limit=20,
                )
            times.append((time.perf_counter() - t) * 1000)
        return times

    print(f"{len(queries)} queries of {args.notes} notes (transposed), limit 20:")
    print(f"  {'query':34} {'p50':>8} {'p95':>8} {'max':>8}")
    for label, kind in (
        ("index, exact (min_similarity=1)", "exact"),
        ("index, fuzzy (min_similarity=0.6)", "fuzzy"),
        ("index, exact with rhythm", "rhythm"),
        ("brute-force scan (baseline)", "brute"),
    ):
        times = await timed(kind)
        print(
            f"  {label:34} {pct(times, 0.5):6.1f}ms {pct(times, 0.95):6.1f}ms {max(times):6.1f}ms"
        )

    expected = got = 0
    for query, durations in queries[: args.recall_queries]:
        for rhythm in (False, True):
            d = durations if rhythm else None
            truth = brute(query, d)
            hits = await service.melody(query, d, min_similarity=1.0, limit=100_000)
            found = {(h.score_id, h.part_id, h.voice, h.note_index) for h in hits}
            expected += len(truth)
            got += len(truth & found)
            extra = found - truth
            if extra:
                print(f"  note: {len(extra)} index hits the scan did not find")
    print(
        f"recall of exact search vs brute force ({args.recall_queries} queries x 2 modes): "
        f"{got}/{expected} = {got / max(1, expected):.4f}"
    )
    await backend.close()
    if dropped is not None:
        await _fetchval(admin, f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
    return 0


async def index_bytes(backend: Any, config: Any) -> str:
    if config.database_url.startswith("postgres"):  # tables with their indexes
        async with backend.storage.db.connection() as conn:
            sizes = {
                t: await conn.fetchval("SELECT pg_total_relation_size($1)", t)
                for t in ("melody_grams", "melody_lines", "search_text")
            }
    else:

        def dbstat(conn: Any) -> dict[str, int]:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
            out: dict[str, int] = {}
            for name, size in rows:
                group = (
                    "melody_grams"
                    if name.startswith("melody_grams")
                    else "melody_lines"
                    if name.startswith(("melody_lines", "sqlite_autoindex_melody"))
                    else "search_text"
                    if name.startswith("search_text")
                    else None
                )
                if group:
                    out[group] = out.get(group, 0) + size
            return out

        sizes = await backend.storage.db.run(dbstat)
    total = sum(sizes.values())
    return (
        f"{total / 2**20:.1f} MiB ("
        + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items())
        + ")"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--import-seconds", type=float, default=180)
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--max-pieces", type=int, default=0)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--notes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=17)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
