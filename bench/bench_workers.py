"""Scale-out: the same match run on real Celery workers, with 1 and then 2 worker processes.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/trainwatch_bench_workers \\
           REDIS_URL=redis://127.0.0.1:6379/0 CELERY_KEY_PREFIX=bench-workers: \\
           SECRET_KEY=bench-only-secret-key-0123456789-abcdefghijklmnop DEBUG=false \\
           MEDIA_ROOT=/tmp/bench_workers/media
    nice -n 0 .venv/bin/python bench/bench_workers.py --dataset bench-1m --catalog-rows 20000

The dataset is imported beforehand (bench/generate.py, then manage.py import_dataset; see
docs/benchmarks.md). The database name must contain "bench". One catalog is built from the
dataset (seeded, as bench/bench_match.py builds it: 30% dataset tracks with a typo, a case change
or a remaster tag, 70% a dataset artist with a song it does not have) and stored with
catalog_create. Then, for each entry of --processes, a real `celery worker` is started
(`--concurrency N`, or N workers of concurrency 1 with --layout workers), a run of that catalog
is started with match_run_start and timed from enqueue to "done" (chunks go through Redis as in
production), and the worker is stopped. A warm-up run (not counted) reads the dataset's
indexes into the cache first, so that the first measured run is not the only cold one.

Reported: rows/s per run, the speed-up of 2 processes over 1, and the load average before and
after each run (on a machine shared with other work, the speed-up is distorted: say so).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from bench_match import catalog_csv  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.services import organization_get_or_create  # noqa: E402
from config.celery import app  # noqa: E402
from matcher.models import Dataset, DatasetTrack, MatchRun  # noqa: E402
from matcher.runs.services import match_run_start  # noqa: E402
from uploads.models import Catalog  # noqa: E402
from uploads.services import catalog_create  # noqa: E402


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Workers:
    """`celery worker` processes, each in its own session so it can be stopped as a group."""

    def __init__(self, count: int, concurrency: int, log_dir: Path) -> None:
        self.names = [f"bench-{os.getpid()}-{i}" for i in range(count)]
        self.procs = []
        for name in self.names:
            log = (log_dir / f"{name}.log").open("ab")
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        "matching,default",
                        "--concurrency",
                        str(concurrency),
                        "--loglevel",
                        "WARNING",
                        "-n",
                        f"{name}@%h",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = set(self.names)
        while waiting and time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a celery worker exited at start (see its log)")
            for reply in app.control.ping(timeout=1.0) or []:
                waiting.discard(next(iter(reply)).split("@")[0])
        if waiting:
            self.stop()
            raise RuntimeError(f"workers {sorted(waiting)} did not answer in {timeout:.0f} s")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def timed_run(catalog: Catalog, datasets: list[Dataset], timeout: float) -> tuple[MatchRun, float]:
    started = time.perf_counter()
    run = match_run_start(catalog=catalog, datasets=datasets)  # autocommit: queued at once
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run, time.perf_counter() - started
        time.sleep(0.25)
    raise RuntimeError(f"run {run.pk} still {run.status} after {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="bench-1m", help="comma-separated dataset slugs")
    parser.add_argument("--catalog-rows", type=int, default=20_000)
    parser.add_argument("--warmup-rows", type=int, default=2_000, help="0: no warm-up run")
    parser.add_argument("--processes", default="1,2", help="worker processes per measured run")
    parser.add_argument(
        "--layout",
        choices=("concurrency", "workers"),
        default="concurrency",
        help="one worker with --concurrency N, or N workers of concurrency 1",
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/bench_workers"))
    args = parser.parse_args(argv)
    if "bench" not in str(settings.DATABASES["default"]["NAME"]):
        print("refusing: DATABASE_URL must name a bench database (e.g. trainwatch_bench_workers)")
        return 2
    if connection.vendor != "postgresql" or settings.CELERY_TASK_ALWAYS_EAGER:
        print("this benchmark needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
        return 2
    args.log_dir.mkdir(parents=True, exist_ok=True)

    datasets = list(Dataset.objects.filter(slug__in=args.dataset.split(",")))
    version_ids = [d.current_version_id for d in datasets if d.current_version_id]
    if not version_ids:
        print(f"dataset {args.dataset} is not imported; see docs/benchmarks.md")
        return 2
    dataset_rows = DatasetTrack.objects.filter(version_id__in=version_ids).count()
    org = organization_get_or_create(slug="bench-workers")

    def catalog_of(rows: int, seed: int) -> Catalog:
        data = catalog_csv(version_ids, rows, seed)
        return catalog_create(
            organization=org, stream=io.BytesIO(data), filename=f"bench_{rows}_{seed}.csv"
        )

    started = time.perf_counter()
    catalog = catalog_of(args.catalog_rows, args.seed)
    warmup = catalog_of(args.warmup_rows, args.seed + 1) if args.warmup_rows else None
    print(
        f"catalog of {catalog.row_count:,} rows built and stored in "
        f"{time.perf_counter() - started:.1f} s; dataset {args.dataset}: {dataset_rows:,} tracks; "
        f"chunks of {settings.MATCH_CHUNK_ROWS} rows, window {settings.MATCH_RUN_WINDOW}",
        flush=True,
    )
    app.control.purge()
    rates: dict[int, float] = {}
    plan = [int(p) for p in args.processes.split(",")]
    if warmup is not None:
        plan = [0, *plan]  # 0: the warm-up, with the largest process count
    for processes in plan:
        count = max(plan) if processes == 0 else processes
        workers = (
            Workers(count, 1, args.log_dir)
            if args.layout == "workers"
            else Workers(1, count, args.log_dir)
        )
        try:
            workers.wait_ready()
            load_before = uptime()
            run, elapsed = timed_run(warmup if processes == 0 else catalog, datasets, args.timeout)
            load_after = uptime()
        finally:
            workers.stop()
        rate = run.rows_done / elapsed
        what = "warm-up" if processes == 0 else f"{processes} process(es)"
        print(
            f"{what}: run {run.pk} {run.status}, {run.rows_done:,} rows in {elapsed:.1f} s = "
            f"{rate:,.0f} rows/s ({args.layout})\n  before: {load_before}\n  after:  {load_after}",
            flush=True,
        )
        if run.status != MatchRun.Status.DONE:
            print(f"  run did not finish cleanly: {run.error}")
            return 1
        if processes:
            rates[processes] = rate
    if 1 in rates and 2 in rates:
        print(f"speed-up 2 vs 1 processes: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
