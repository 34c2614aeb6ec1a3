"""Matching at scale: a generated catalog against imported datasets on PostgreSQL, timed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trainwatch_bench_match \\
    SECRET_KEY=bench-only-0123456789-abcdefghijklmnopqrstuvwxyz DEBUG=false \\
        .venv/bin/python bench/bench_match.py --datasets bench-1m --catalog-rows 10000

The datasets are imported beforehand with `manage.py import_dataset` (files from
bench/generate.py); see docs/benchmarks.md. The database name must contain "bench": this never
runs against the development or test database.

The catalog is built from the dataset itself (seeded): 30% of rows are dataset tracks with a
typo, a case change or a remaster tag, 70% pair a dataset artist with another track's title
(the artist is there, the song is not: the costly case for artist-key blocking). It is uploaded
through uploads.services.catalog_create (not timed), then the run's chunks are matched by
`matcher.runs.chunk.match_chunk_process`, in-process, by 2 forked processes taking chunks in
turn: a Celery prefork worker with the default concurrency of 2 on this 2-core machine, without the
broker. Reported: rows/s over the timed matching, candidates per row, the kinds found, and the
peak RSS of a matching process.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Avg, Count, Max, Min  # noqa: E402

from accounts.services import organization_get_or_create  # noqa: E402
from matcher.models import Dataset, DatasetTrack, RowResult  # noqa: E402
from matcher.runs.chunk import match_chunk_process  # noqa: E402
from matcher.runs.services import match_run_begin, match_run_create  # noqa: E402
from uploads.services import catalog_create  # noqa: E402


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text))
    return text[:i] + rng.choice("aeiounrst") + text[i + 1 :]


def sample_tracks(
    version_ids: list[int], n: int, rng: random.Random
) -> list[tuple[str, str, float | None]]:
    """n tracks spread over the versions, read by random primary-key probes (no full scan)."""
    bounds = DatasetTrack.objects.filter(version_id__in=version_ids).aggregate(
        lo=Min("pk"), hi=Max("pk")
    )
    lo, hi = bounds["lo"], bounds["hi"]
    picked: list[tuple[str, str, float | None]] = []
    while len(picked) < n:
        ids = sorted(rng.randint(lo, hi) for _ in range(min(20000, 2 * (n - len(picked)))))
        for artist, title, duration in DatasetTrack.objects.filter(
            pk__in=ids, version_id__in=version_ids
        ).values_list("artist", "title", "duration_s"):
            if artist and title:
                picked.append((artist, title, duration))
    rng.shuffle(picked)
    return picked[:n]


_SYLLABLES = ("ka", "zo", "vre", "plin", "thu", "mar", "quo", "xil", "dre", "fen", "gor", "lu")
_SYLLABLES += ("bax", "tri", "nem", "sk", "yo", "wuz")


def absent_catalog_csv(rows: int, seed: int) -> bytes:
    """Rows the datasets do not hold: invented artists and titles, so that both exact keys miss
    and every row takes the key-prefix and one-typo rounds of blocking (a label's catalog with
    little overlap)."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Artist", "Track Title"])
    for _ in range(rows):
        writer.writerow([f"{word()} {word()}", " ".join(word() for _ in range(rng.randint(1, 3)))])
    return out.getvalue().encode()


def catalog_csv(version_ids: list[int], rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    tracks = sample_tracks(version_ids, rows * 2, rng)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Artist", "Track Title", "Duration"])
    for i in range(rows):
        artist, title, duration = tracks[i]
        if rng.random() < 0.3:
            roll = rng.random()
            if roll < 0.25:
                title = _typo(title, rng)
            elif roll < 0.4:
                artist = _typo(artist, rng)
            elif roll < 0.55:
                artist, title = artist.upper(), title.lower()
            elif roll < 0.7:
                title += " - Remastered 2011"
        else:
            title = tracks[rows + i][1]  # the artist is in the dataset, this song is not
        dur = "" if duration is None else f"{int(duration) // 60}:{int(duration) % 60:02d}"
        writer.writerow([artist, title, dur])
    return out.getvalue().encode()


def _worker(chunk_ids: list[int], write_fd: int) -> None:
    connections.close_all()  # a forked process must not share the parent's connection
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_fork = usage.ru_utime + usage.ru_stime
    for chunk_id in chunk_ids:
        match_chunk_process(chunk_id=chunk_id)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_at_fork
    os.write(write_fd, f"{usage.ru_maxrss} {cpu:.2f}\n".encode())
    os._exit(0)


def profile(chunk_ids: list[int]) -> int:
    """Match some chunks under cProfile; print the SQL time and the costliest functions."""
    import cProfile
    import pstats

    sql = {"seconds": 0.0, "statements": 0}

    def timed(execute, sql_text, params, many, context):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            sql["seconds"] += time.perf_counter() - t0
            sql["statements"] += 1

    prof = cProfile.Profile()
    started = time.perf_counter()
    cpu = time.process_time()
    with connection.execute_wrapper(timed):
        prof.enable()
        rows = sum(match_chunk_process(chunk_id=chunk_id) for chunk_id in chunk_ids)
        prof.disable()
    wall = time.perf_counter() - started
    print(
        f"profiled {len(chunk_ids)} chunks, {rows:,} rows: {wall:.2f} s wall under the "
        f"profiler, {time.process_time() - cpu:.2f} s CPU in this process; SQL "
        f"{sql['seconds']:.2f} s in {sql['statements']} statements (turning rows into Python "
        "objects not included)"
    )
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", required=True, help="comma-separated dataset slugs")
    parser.add_argument("--catalog-rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--no-typo-round",
        action="store_true",
        help="switch blocking round 3 (keys one typo away) off, to measure what it costs",
    )
    parser.add_argument(
        "--absent",
        action="store_true",
        help="a catalog of invented names the datasets do not hold (every row misses both keys)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="CHUNKS",
        help="instead of the timed run, match this many chunks in this process under cProfile "
        "and print where the time goes (SQL time measured apart)",
    )
    args = parser.parse_args(argv)
    if "bench" not in str(settings.DATABASES["default"]["NAME"]):
        print("refusing: DATABASE_URL must name a bench database (e.g. trainwatch_bench_match)")
        return 2
    if connection.vendor != "postgresql":
        print("this benchmark is for PostgreSQL")
        return 2

    datasets = list(Dataset.objects.filter(slug__in=args.datasets.split(",")))
    version_ids = [d.current_version_id for d in datasets if d.current_version_id]
    dataset_rows = DatasetTrack.objects.filter(version_id__in=version_ids).count()
    started = time.perf_counter()
    if args.no_typo_round:
        import matcher.runs.services

        matcher.runs.services.one_typo_keys = lambda **kwargs: {}  # type: ignore[assignment]
    if args.absent:
        data = absent_catalog_csv(args.catalog_rows, args.seed)
    else:
        data = catalog_csv(version_ids, args.catalog_rows, args.seed)
    org = organization_get_or_create(slug="bench-match")
    catalog = catalog_create(
        organization=org, stream=io.BytesIO(data), filename=f"bench_{args.catalog_rows}.csv"
    )
    run = match_run_create(catalog=catalog, datasets=datasets)
    chunk_ids = match_run_begin(run_id=run.pk)
    print(
        f"catalog of {catalog.row_count:,} rows built and uploaded in "
        f"{time.perf_counter() - started:.1f} s; {len(chunk_ids)} chunks of "
        f"{settings.MATCH_CHUNK_ROWS}; dataset rows {dataset_rows:,} ({args.datasets})"
    )
    if args.profile:
        return profile(chunk_ids[: args.profile])
    load_before = os.getloadavg()
    connections.close_all()
    started = time.perf_counter()
    read_fd, write_fd = os.pipe()
    children = []
    for p in range(args.processes):
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _worker(chunk_ids[p :: args.processes], write_fd)
        children.append(pid)
    os.close(write_fd)
    for pid in children:
        os.waitpid(pid, 0)
    elapsed = time.perf_counter() - started
    reports = os.read(read_fd, 4096).decode().split()
    peaks = [int(v) for v in reports[0::2]]
    cpu_seconds = sum(float(v) for v in reports[1::2])
    run.refresh_from_db()
    stats = RowResult.objects.filter(run=run).aggregate(
        candidates=Avg("candidates_considered"), most=Max("candidates_considered")
    )
    kinds = dict(
        RowResult.objects.filter(run=run)
        .values_list("best_kind")
        .annotate(n=Count("pk"))
        .values_list("best_kind", "n")
    )
    load_after = os.getloadavg()
    print(
        f"run {run.pk} {run.status}: {run.rows_done:,} rows in {elapsed:.1f} s = "
        f"{run.rows_done / elapsed:,.0f} rows/s with {args.processes} processes; "
        f"candidates per row {stats['candidates'] or 0:.1f} (max {stats['most'] or 0}); "
        f"peak RSS per process {max(peaks) / 1024:.0f} MB; matching processes' CPU "
        f"{cpu_seconds:.1f} s ({1000 * cpu_seconds / max(1, run.rows_done):.2f} s per 1,000 rows; "
        "PostgreSQL's not included)"
    )
    print("best kinds: " + ", ".join(f"{k or 'none'} {v:,}" for k, v in sorted(kinds.items())))
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min; 2 cores shared with other work)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
