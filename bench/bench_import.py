"""Benchmark: import LAION-shaped parquet (1M and 12,320,916 rows) into PostgreSQL.

    python bench/bench_import.py [--rows N ...] [--skip-full]

Generated files are cached under /tmp/trainwatch-bench and reused. The import runs in a child
process (as `import_dataset` would) against a separate database, ``trainwatch_bench`` by
default (``BENCH_DATABASE_URL``), created and migrated here and emptied before each size; the
test database is never touched. Reported per size: rows/s, wall time and its phases, peak RSS
of the importer and its worker processes (summed, sampled every 0.5 s), the time of a raw COPY
of the same rows (as CSV) into a bare table and of one index on lower(artist) in the same run,
the ratio, and the disk use of the track tables with their indexes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/trainwatch-bench")
FULL = 12_320_916
SEED = 7
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trainwatch_bench"
TABLES = ("matcher_datasettrack", "matcher_trackidentifier", "matcher_trackreading")


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def laion_files(rows: int) -> list[Path]:
    """Generated parquet files for `rows` rows, from the cache or written now."""
    out = CACHE / f"laion-{rows}"
    if not out.is_dir():
        tmp = CACHE / f"laion-{rows}.tmp"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "generate.py"),
                "laion-disco-12m",
                "--rows",
                str(rows),
                "--seed",
                str(SEED),
                "--out",
                str(tmp),
            ],
            check=True,
        )
        tmp.rename(out)
    return sorted(out.glob("*.parquet"))


def csv_copy(files: list[Path]) -> Path:
    """The same rows as a plain CSV (song_id, artist, title, album, duration), for raw COPY."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = files[0].parent / "rows.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    writer = None
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(
            batch_size=65_536,
            columns=["song_id", "title", "artist_names", "album_name", "duration"],
        ):
            table = pa.table(
                {
                    "song_id": batch.column(0),
                    "artist": pc.binary_join(batch.column(2), "; "),
                    "title": batch.column(1),
                    "album": batch.column(3),
                    "duration": batch.column(4),
                }
            )
            if writer is None:
                writer = pacsv.CSVWriter(str(tmp), table.schema)
            writer.write_table(table)
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return path


def conninfo(url: str, dbname: str | None = None) -> dict[str, Any]:
    parsed = urlparse(url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password or "",
        "dbname": dbname or parsed.path.lstrip("/"),
    }


def prepare_database(url: str) -> None:
    import psycopg

    info = conninfo(url)
    if info["dbname"] in ("trainwatch", "test_trainwatch"):
        raise SystemExit(f"refusing to benchmark in {info['dbname']}: use a separate database")
    with psycopg.connect(**conninfo(url, "postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [info["dbname"]])
        if not found.fetchone():
            conn.execute(f'CREATE DATABASE "{info["dbname"]}"')
    env = child_env(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, DEBUG="false")
    env.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnop")
    return env


def empty_tables(url: str) -> None:
    import psycopg

    with psycopg.connect(**conninfo(url), autocommit=True) as conn:
        conn.execute(
            "TRUNCATE matcher_match, matcher_trackidentifier, matcher_trackreading, "
            "matcher_datasettrack, matcher_datasetversion, matcher_dataset CASCADE"
        )
        conn.execute("VACUUM ANALYZE matcher_datasettrack")


def tree_memory(pid: int) -> tuple[int, int]:
    """(resident bytes, proportional bytes) of `pid` and all its descendants.

    RSS summed over processes counts the shared libraries (Python, Arrow, libpq: ~64 MB per
    import process here) once per process; PSS shares them out, so its sum is the memory the
    tree really holds. Both are reported.
    """
    rss = pss = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss += int(line.split()[1]) * 1024
        pending.extend(int(child) for child in children)
    return rss, pss


def run_sampled(
    args: list[str], env: dict[str, str], *, interval: float = 0.5
) -> tuple[int, str, float, int, int]:
    """Run a child process; (exit status, its stdout, wall seconds, peak summed RSS and peak
    summed PSS in bytes of its process tree, sampled every `interval` seconds).

    Sampling is not free: reading smaps_rollup of the import's three processes every 0.1 s took
    about 20 CPU-seconds of the 2 cores during a 300 s load (docs/benchmarks.md); every 0.5 s
    costs a fifth of that, and the import's memory rises and falls far more slowly."""
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0

    def sample() -> None:
        nonlocal peak_rss, peak_pss
        while proc.poll() is None:
            rss, pss = tree_memory(proc.pid)
            peak_rss = max(peak_rss, rss)
            peak_pss = max(peak_pss, pss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    out, _ = proc.communicate()
    wall = time.monotonic() - started
    sampler.join()
    return proc.returncode, out, wall, peak_rss, peak_pss


def run_import(url: str, files: list[Path]) -> dict[str, Any]:
    status, out, wall, peak_rss, peak_pss = run_sampled(
        [sys.executable, __file__, "--child", *map(str, files)], child_env(url)
    )
    if status:
        raise SystemExit(f"the import failed (exit {status})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["wall"] = wall
    result["peak_rss"] = peak_rss
    result["peak_pss"] = peak_pss
    return result


def child(files: list[str]) -> None:
    """In the child process: import the files, print the summary as JSON."""
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from matcher.datasets.importer import dataset_import

    summary = dataset_import(
        slug="laion-disco-12m", paths=[Path(f) for f in files], file_format="laion-disco-12m"
    )
    print(
        json.dumps(
            {
                "rows": summary.rows,
                "seconds": summary.seconds,
                "duplicates": summary.duplicate_count,
                "problems": summary.problem_count,
                "workers": summary.workers,
                "rebuilt_indexes": summary.rebuilt_indexes,
                "phases": summary.phases,
                "details": summary.details,
            }
        )
    )


def raw_copy(url: str, csv_path: Path) -> tuple[float, float]:
    """Seconds for COPY of the CSV into a bare table, then for an index on lower(artist)."""
    import psycopg

    with psycopg.connect(**conninfo(url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(
            "CREATE TABLE bench_raw (song_id text, artist text, title text, album text, "
            "duration bigint)"
        )
        started = time.monotonic()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_raw FROM STDIN (FORMAT csv, HEADER)") as copy,
            csv_path.open("rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        copied = time.monotonic() - started
        started = time.monotonic()
        conn.execute("CREATE INDEX bench_raw_artist ON bench_raw (lower(artist))")
        indexed = time.monotonic() - started
        conn.execute("DROP TABLE bench_raw")
    return copied, indexed


def disk_use(url: str) -> dict[str, tuple[int, int]]:
    """(table with indexes and TOAST, indexes alone) in bytes, per track table."""
    import psycopg

    sizes: dict[str, tuple[int, int]] = {}
    with psycopg.connect(**conninfo(url), autocommit=True) as conn:
        for table in TABLES:
            row = conn.execute(
                "SELECT pg_total_relation_size(%s::regclass), pg_indexes_size(%s::regclass)",
                [table, table],
            ).fetchone()
            assert row is not None
            sizes[table] = (int(row[0]), int(row[1]))
    return sizes


def reading_count(url: str) -> int:
    import psycopg

    with psycopg.connect(**conninfo(url), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM matcher_trackreading").fetchone()
        return int(row[0]) if row else 0


def bench(url: str, rows: int) -> None:
    print(f"== {rows:,} LAION-shaped rows (seed {SEED}); load average {load()}", flush=True)
    files = laion_files(rows)
    size = sum(f.stat().st_size for f in files)
    print(f"   files: {len(files)} parquet, {size / 1e6:,.1f} MB in {files[0].parent}")
    empty_tables(url)
    result = run_import(url, files)
    rate = rows / result["wall"]
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in result["phases"].items())
    print(
        f"   import: {result['wall']:.1f} s wall ({rate:,.0f} source rows/s), "
        f"{result['rows']:,} tracks, {result['duplicates']:,} duplicate ids dropped, "
        f"{result['problems']:,} problems; workers {result['workers']}, "
        f"indexes rebuilt: {result['rebuilt_indexes']}"
    )
    print(f"   phases: {phases}")
    for name, seconds in result.get("details", {}).items():
        print(f"     {name}: {seconds:.1f} s")
    print(
        f"   peak memory (importer + workers, summed): RSS {result['peak_rss'] / 2**20:,.0f} MB, "
        f"PSS {result['peak_pss'] / 2**20:,.0f} MB"
    )
    print(f"   load average after the import: {load()}")
    for table, (total, indexes) in disk_use(url).items():
        print(f"   disk: {table} {total / 2**20:,.0f} MB (indexes {indexes / 2**20:,.0f} MB)")
    print(f"   extra readings (matcher.engine.readings): {reading_count(url):,}")
    csv_path = csv_copy(files)
    copied, indexed = raw_copy(url, csv_path)
    print(
        f"   raw COPY of the same rows ({csv_path.stat().st_size / 1e6:,.0f} MB CSV) into a bare "
        f"table: {copied:.1f} s; + index on lower(artist): {indexed:.1f} s"
    )
    print(
        f"   ratio import / raw COPY: {result['wall'] / copied:.1f}x; "
        f"import / (raw COPY + one index): {result['wall'] / (copied + indexed):.1f}x",
        flush=True,
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, FULL])
    parser.add_argument("--skip-full", action="store_true", help=f"leave out {FULL:,} rows")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    CACHE.mkdir(parents=True, exist_ok=True)
    prepare_database(url)
    sizes = [n for n in args.rows if not (args.skip_full and n == FULL)]
    for rows in sizes:
        bench(url, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
