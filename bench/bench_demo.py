"""The demo's match, timed: seed_demo's catalog (4,600 real rows) against its dataset (886 real
Spotify tracks), on SQLite (the embedded default) or PostgreSQL. Goal: >= 1,000 rows/s.

    .venv/bin/python bench/bench_demo.py [--rows N] [--profile 25] [--data DIR]  # SQLite
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/trainwatch_bench_demo \\
        .venv/bin/python bench/bench_demo.py [--profile 25]             # PostgreSQL, recreated

Each invocation starts from an empty database (a new SQLite file in a temporary folder, or the
PostgreSQL database dropped and created again; its name must contain "bench"), imports the
dataset and stores the catalog as seed_demo does (`dataset_import`, `catalog_create`), then
times `match_run_start`: the same Celery tasks the worker runs (dispatch, then every chunk),
here in this process, so that the figure is the matching's and not the broker's. Printed: the
storing and matching times, rows/s, and the machine load (`uptime`) before and after; with
--profile N, the N costliest functions of the matching under cProfile (which slows it down), by
cumulative and by own time. --rows N keeps the catalog's first N rows.
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
DATASET = ("spotify-tracks-dataset", "spotify_tracks_sample_886.csv", "spotify-tracks-dataset")
CATALOG = "most_streamed_spotify_2024_isrc.csv"


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _environment(work: Path) -> str:
    """Point the settings at a fresh database before Django starts; returns its vendor."""
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        TRAINWATCH_EMBEDDED="true",
        DEBUG="false",
        VAR_DIR=str(work),
        MEDIA_ROOT=str(work / "media"),
        LOG_LEVEL="WARNING",
    )
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
        return "sqlite"
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"BENCH_DATABASE_URL: the database name {name!r} must contain 'bench'")
    import psycopg

    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    return "postgresql"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    parser.add_argument("--rows", type=int, default=0, help="only the catalog's first N rows")
    parser.add_argument(
        "--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="trainwatch-bench-demo-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    vendor = _environment(work)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import organization_get_or_create
    from config.celery import app
    from matcher.datasets.importer import dataset_import
    from matcher.models import MatchRun
    from matcher.runs.services import match_run_start
    from uploads.services import catalog_create

    app.conf.task_always_eager = True  # the worker's tasks, in this process
    print(f"database: {vendor} ({os.environ['DATABASE_URL']})")
    call_command("migrate", verbosity=0)
    slug, filename, fmt = DATASET
    dataset_import(slug=slug, paths=[args.data / filename], file_format=fmt)
    org = organization_get_or_create(slug="demo-label", name="Demo Label")

    print(f"load before: {_uptime()}")
    started = time.perf_counter()
    content = (args.data / CATALOG).read_bytes()
    if args.rows:
        content = b"\n".join(content.splitlines()[: args.rows + 1]) + b"\n"  # and the header
    catalog = catalog_create(organization=org, stream=io.BytesIO(content), filename=CATALOG)
    stored = time.perf_counter() - started

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    run = match_run_start(catalog=catalog)
    matched = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    run = MatchRun.objects.get(pk=run.pk)
    print(f"load after:  {_uptime()}")

    assert run.status == MatchRun.Status.DONE, (run.status, run.error)
    rows = run.total_rows
    print(f"catalog: {catalog.row_count} rows stored in {stored:.2f} s")
    print(
        f"matching: {rows} rows in {matched:.2f} s = {rows / matched:,.0f} rows/s "
        f"({run.chunk_count} chunks){' under cProfile' if profiler else ''}"
    )
    print(f"storing + matching: {rows / (stored + matched):,.0f} rows/s")
    if profiler is not None:
        import pstats

        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
