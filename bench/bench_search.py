"""Benchmark: the public dataset search against the four datasets at full size (22.3M rows).

    python bench/bench_search.py build [--data /work/bench-data]   # generate + import, once
    python bench/bench_search.py run [--queries 500] [--seed 3]     # time the search

Both use their own database, ``trainwatch_bench_full`` by default (``BENCH_DATABASE_URL``),
never the test or development one. ``build`` generates the files it misses with
bench/generate.py (LAION-DISCO-12M 12,320,916 rows, Sleeping-DISCO-9M 9,713,413, FMA 106,574,
Spotify 114,000), migrates the database and imports each dataset with
``manage.py import_dataset`` in a child process, printing wall time, rows/s, peak RSS and PSS
(importer and its workers, summed) and the machine load for each, then the database size.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_import import child_env, conninfo, load, run_sampled  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trainwatch_bench_full"
# slug, generator format, rows, seed, glob of the files to import
DATASETS = (
    ("laion-disco-12m", "laion-disco-12m", 12_320_916, 7, "*.parquet"),
    ("sleeping-disco-9m", "sleeping-disco-9m", 9_713_413, 8, "*.jsonl"),
    ("free-music-archive", "free-music-archive", 106_574, 9, "tracks.csv"),
    ("spotify-tracks-dataset", "spotify-tracks-dataset", 114_000, 10, "dataset.csv"),
)
DIRS = {
    "laion-disco-12m": "laion",
    "sleeping-disco-9m": "sleeping",
    "free-music-archive": "fma",
    "spotify-tracks-dataset": "spotify",
}


# --- build ---------------------------------------------------------------------------------------
def generated(data: Path, fmt: str, rows: int, seed: int, pattern: str) -> list[Path]:
    out = data / DIRS[fmt]
    if not out.is_dir():
        tmp = data / f"{DIRS[fmt]}.tmp"
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "generate.py"),
                fmt,
                "--rows",
                str(rows),
                "--seed",
                str(seed),
                "--out",
                str(tmp),
            ],
            check=True,
        )
        tmp.rename(out)
        print(f"   generated {fmt} in {time.monotonic() - started:.0f} s", flush=True)
    return sorted(out.glob(pattern))


def timed_import(url: str, slug: str, fmt: str, files: list[Path]) -> tuple[float, int, int, str]:
    """(wall seconds, peak summed RSS and PSS bytes of the import's process tree, its summary
    output)."""
    status, out, wall, peak_rss, peak_pss = run_sampled(
        [
            sys.executable,
            "manage.py",
            "import_dataset",
            slug,
            *map(str, files),
            "--format",
            fmt,
            "--no-progress",
            "--skip-checks",  # a half-edited file elsewhere in the tree must not stop the import
        ],
        child_env(url),
        interval=0.2,
    )
    if status:
        raise SystemExit(f"the import of {slug} failed (exit {status})")
    return wall, peak_rss, peak_pss, out


def build(url: str, data: Path) -> None:
    import psycopg

    info = conninfo(url)
    if info["dbname"] in ("trainwatch", "test_trainwatch"):
        raise SystemExit(f"refusing to benchmark in {info['dbname']}: use a separate database")
    with psycopg.connect(**conninfo(url, "postgres"), autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [info["dbname"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{info["dbname"]}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--skip-checks"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
    )
    data.mkdir(parents=True, exist_ok=True)
    for slug, fmt, rows, seed, pattern in DATASETS:
        files = generated(data, fmt, rows, seed, pattern)
        size = sum(f.stat().st_size for f in files)
        print(f"== {slug}: {rows:,} rows, {len(files)} files, {size / 1e6:,.0f} MB", flush=True)
        print(f"   load before: {load()}", flush=True)
        wall, peak_rss, peak_pss, out = timed_import(url, slug, fmt, files)
        print(
            f"   import: {wall:,.1f} s wall, {rows / wall:,.0f} source rows/s, "
            f"peak RSS {peak_rss / 2**20:,.0f} MB (PSS {peak_pss / 2**20:,.0f} MB); "
            f"load after: {load()}"
        )
        for line in out.strip().splitlines():
            print(f"   | {line}")
        sys.stdout.flush()
    with psycopg.connect(**conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE matcher_datasettrack")
        row = conn.execute(
            "SELECT pg_database_size(current_database()), "
            "pg_total_relation_size('matcher_datasettrack'), "
            "pg_indexes_size('matcher_datasettrack'), count(*) FROM matcher_datasettrack"
        ).fetchone()
        assert row is not None
        print(
            f"== database {info['dbname']}: {row[0] / 2**30:,.2f} GiB on disk; "
            f"tracks {row[3]:,} rows, {row[1] / 2**30:,.2f} GiB with indexes "
            f"({row[2] / 2**30:,.2f} GiB of indexes)",
            flush=True,
        )


# --- run -----------------------------------------------------------------------------------------
KINDS = (
    "artist",  # as published, accents and case dropped
    "artist-typo",  # one typo
    "title",
    "title-typo",
    "both",
    "both-typo",  # a typo in the artist and one in the title
    "miss",  # nothing like it in the datasets
)


def typo(rng: random.Random, text: str) -> str:
    """One typo (changed, dropped, doubled or swapped letter) away from a 4+ letter word."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(spots) < 4:
        return text
    i = rng.choice(spots[1:-1])
    how = rng.choice(("change", "drop", "double", "swap"))
    if how == "change":
        return text[:i] + rng.choice("aeioustrnl") + text[i + 1 :]
    if how == "drop":
        return text[:i] + text[i + 1 :]
    if how == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def sample_tracks(n: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(artist, title, artist key, title key) of `n` tracks picked at random over all datasets."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM matcher_datasettrack")
        low, high = cur.fetchone()
        ids = [rng.randint(low, high) for _ in range(n * 2)]
        cur.execute(
            "SELECT split_part(artist, '; ', 1), title, artist_key, title_key "
            "FROM matcher_datasettrack WHERE id = ANY(%s) AND artist_key <> '' AND title_key <> ''",
            [ids],
        )
        rows = cur.fetchall()
    rng.shuffle(rows)
    return rows[:n]


def make_queries(n: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, artist, title): what people type, drawn from the database with a fixed seed."""
    from anyascii import anyascii

    rng = random.Random(seed)
    tracks = sample_tracks(n, rng)
    queries = []
    for i, (artist, _title, artist_key, title_key) in enumerate(tracks):
        kind = KINDS[i % len(KINDS)]
        # People type the song name, not the YouTube upload's full title: the title key's words.
        plain_artist = anyascii(artist).lower() if rng.random() < 0.5 else artist
        if kind == "artist":
            queries.append((kind, plain_artist, ""))
        elif kind == "artist-typo":
            queries.append((kind, typo(rng, artist_key), ""))
        elif kind == "title":
            queries.append((kind, "", title_key))
        elif kind == "title-typo":
            queries.append((kind, "", typo(rng, title_key)))
        elif kind == "both":
            queries.append((kind, plain_artist, title_key))
        elif kind == "both-typo":
            queries.append((kind, typo(rng, artist_key), typo(rng, title_key)))
        else:
            word = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(6, 12)))
            queries.append((kind, word, "" if rng.random() < 0.5 else word[::-1]))
    return queries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(url: str, n: int, seed: int, warmup: int) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for key, value in child_env(url).items():
        os.environ.setdefault(key, value)
    import django

    django.setup()
    from matcher.search.selectors import dataset_search, search_suggest

    queries = make_queries(n + warmup, seed)
    print(f"== {n} search queries (+{warmup} warm-up), seed {seed}; load {load()}", flush=True)
    for _, artist, title in queries[:warmup]:
        dataset_search(artist=artist, title=title, limit=10)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    found: dict[str, int] = dict.fromkeys(KINDS, 0)
    slowest: list[tuple[float, str, str, str]] = []
    for kind, artist, title in queries[warmup:]:
        started = time.perf_counter()
        result = dataset_search(artist=artist, title=title, limit=10)
        elapsed = (time.perf_counter() - started) * 1000
        times[kind].append(elapsed)
        found[kind] += bool(result.groups)
        slowest.append((elapsed, kind, artist, title))
    every = [t for values in times.values() for t in values]
    print(
        f"   all: n={len(every)} p50 {percentile(every, 50):.1f} ms, p95 "
        f"{percentile(every, 95):.1f} ms, p99 {percentile(every, 99):.1f} ms, "
        f"max {max(every):.1f} ms"
    )
    for kind in KINDS:
        values = times[kind]
        if values:
            print(
                f"   {kind:12} n={len(values):3} p50 {percentile(values, 50):6.1f}  p95 "
                f"{percentile(values, 95):6.1f}  p99 {percentile(values, 99):6.1f} ms; "
                f"found {found[kind]}/{len(values)}"
            )
    print("   slowest:")
    for elapsed, kind, artist, title in sorted(slowest, reverse=True)[:5]:
        print(f"     {elapsed:7.1f} ms {kind:12} artist={artist!r} title={title!r}")
    # suggestions as you type: every prefix of 2-8 characters of some artists and titles
    rng = random.Random(seed + 1)
    prefixes = []
    for kind, artist, title in queries[warmup : warmup + 100]:
        text = (artist or title).lower()
        if len(text) >= 2 and kind != "miss":
            field_name = "artist" if artist else "title"
            prefixes.append((field_name, text[: rng.randint(2, min(8, len(text)))]))
    suggest_times = []
    for field_name, prefix in prefixes:
        started = time.perf_counter()
        search_suggest(q=prefix, field_name=field_name)
        suggest_times.append((time.perf_counter() - started) * 1000)
    print(
        f"   suggestions: n={len(suggest_times)} p50 {percentile(suggest_times, 50):.1f} ms, p95 "
        f"{percentile(suggest_times, 95):.1f} ms, p99 {percentile(suggest_times, 99):.1f} ms"
    )
    # the same queries through the API (routing, validation, throttle check, JSON)
    from django.test import Client

    from matcher.search.views import SearchAnonThrottle

    SearchAnonThrottle.THROTTLE_RATES = {"search_anon": "1000000/minute"}
    client = Client()
    api_times = []
    for _, artist, title in queries[warmup : warmup + 200]:
        started = time.perf_counter()
        response = client.get("/api/search/", {"artist": artist, "title": title}, secure=True)
        api_times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:200])
    print(
        f"   API /api/search/ (test client): n={len(api_times)} p50 "
        f"{percentile(api_times, 50):.1f} ms, p95 {percentile(api_times, 95):.1f} ms, p99 "
        f"{percentile(api_times, 99):.1f} ms"
    )
    print(f"   load after: {load()}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="generate and import the four datasets at full size")
    b.add_argument("--data", type=Path, default=Path("/work/bench-data"))
    r = sub.add_parser("run", help="time the search selector against the database")
    r.add_argument("--queries", type=int, default=500)
    r.add_argument("--seed", type=int, default=3)
    r.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if args.command == "build":
        build(url, args.data)
    else:
        run(url, args.queries, args.seed, args.warmup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
