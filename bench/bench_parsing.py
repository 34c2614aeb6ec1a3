"""Benchmark: parse a seeded 1M-row .csv and .xlsx catalog, report rows/s and peak RSS.

Run: nice -n 0 .venv/bin/python bench/bench_parsing.py [--rows N] [--dir /tmp/trainwatch-bench]
Each parse runs in its own process so that its peak RSS (getrusage) is its own. Goal: <= 300 MB.
The machine load (`uptime`) is printed before and after each parse: on a shared machine the
rows/s say little without it.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ["Track Artist", "Track Title", "Version", "ISRC", "UPC", "Album", "Label", "Duration"]
WORDS = [
    "love",
    "night",
    "heart",
    "fire",
    "dream",
    "time",
    "light",
    "world",
    "baby",
    "girl",
    "dance",
    "summer",
    "rain",
    "blue",
    "gold",
    "wild",
    "young",
    "forever",
    "city",
    "star",
    "moon",
    "river",
    "road",
    "home",
    "ghost",
    "sugar",
    "money",
    "crazy",
    "electric",
    "Beyoncé",
    "Sigur",
    "Rós",
    "Café",
    "Mañana",
    "Ünder",
    "Łódź",
    "東京",
    "Αθήνα",
]
VERSIONS = ["", "", "", "Remastered 2011", "Live", "Radio Edit", "Acoustic", "Extended Mix"]
COUNTRIES = ["US", "GB", "FR", "DE", "SE", "JP", "QM", "QZ"]


def fake_rows(count: int, seed: int = 7):
    rng = random.Random(seed)
    for index in range(count):
        artist = " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(1, 3)))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))).title()
        isrc = (
            f"{rng.choice(COUNTRIES)}{rng.choice('ABCDEFGH')}{rng.randint(10, 99)}"
            f"{rng.randint(0, 99):02d}{index % 100000:05d}"
        )
        if index % 50 == 0:
            isrc = "BAD-ISRC"
        upc = f"{rng.randint(0, 10**12 - 1):012d}"
        seconds = rng.randint(90, 420)
        duration = f"{seconds // 60}:{seconds % 60:02d}" if index % 2 else str(seconds)
        yield [
            artist,
            title,
            rng.choice(VERSIONS),
            isrc,
            upc,
            f"Album {index // 12}",
            "Acme",
            duration,
        ]


def generate(directory: Path, rows: int) -> tuple[Path, Path]:
    import openpyxl

    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / f"catalog_{rows}.csv"
    xlsx_path = directory / f"catalog_{rows}.xlsx"
    if not csv_path.exists():
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(fake_rows(rows))
    if not xlsx_path.exists():
        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet("Catalog")
        sheet.append(["Acme Records catalog export"])
        sheet.append([])
        sheet.append(HEADER)
        for row in fake_rows(rows):
            # Durations in seconds as numbers, like most royalty-system exports.
            if ":" not in row[7]:
                row[7] = int(row[7])
            sheet.append(row)
        workbook.save(xlsx_path)
    return csv_path, xlsx_path


def parse_one(path: Path) -> None:
    from uploads.parsing import Limits, open_catalog

    start = time.perf_counter()
    count = invalid = warned = 0
    with open_catalog(path, filename=path.name, limits=Limits(max_bytes=1024**3)) as catalog:
        opened = time.perf_counter() - start
        for row in catalog.rows():
            count += 1
            invalid += bool(row.problems)
            warned += bool(row.warnings)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{path.suffix[1:]:>4}: {count:,} rows ({invalid:,} with problems, {warned:,} with "
        f"warnings) in {elapsed:.1f} s "
        f"(open {opened:.1f} s) = {count / elapsed:,.0f} rows/s, peak RSS {peak_mb:,.0f} MB, "
        f"file {path.stat().st_size / 1024**2:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/trainwatch-bench"))
    parser.add_argument("--parse", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.parse:
        parse_one(args.parse)
        return
    started = time.perf_counter()
    paths = generate(args.dir, args.rows)
    print(f"files ready in {time.perf_counter() - started:.0f} s under {args.dir}")
    for path in paths:
        print(f"before: {uptime()}", flush=True)
        subprocess.run([sys.executable, __file__, "--parse", str(path)], check=True)
        print(f"after:  {uptime()}", flush=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
