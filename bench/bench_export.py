"""Benchmark: stream the CSV report of a run with about 1M lines; report lines/s and peak RSS,
with RSS sampled along the way to show that memory stays flat. Goal: >= 50k lines/s.

Run: .venv/bin/python bench/bench_export.py [--rows 910000] [--rebuild]

The run is built once (bench/bench_report.py's builder, database `trainwatch_bench_report`) in
one process; the export is measured in a fresh child process, so its peak RSS is its own.
Also times the XLSX export when given --xlsx (slower: openpyxl writes XML cell by cell).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_report import build_run, find_run, setup_django  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(name: str, xlsx: bool) -> dict[str, object]:
    setup_django()
    from matcher.reports.exports import report_csv_lines, report_xlsx_write

    run = find_run(name)
    start_rss = _rss_mb()
    samples: list[tuple[int, float]] = []
    lines = -1  # the header is not a report line
    size = 0
    t0 = time.perf_counter()
    for text in report_csv_lines(run):
        size += len(text)
        lines += 1
        if lines % 100_000 == 0:
            samples.append((lines, round(_rss_mb(), 1)))
    elapsed = time.perf_counter() - t0
    out: dict[str, object] = {
        "lines": lines,
        "chars": size,
        "seconds": round(elapsed, 1),
        "lines_per_s": round(lines / elapsed),
        "rss_start_mb": round(start_rss, 1),
        "rss_samples_mb": samples,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if xlsx:
        t1 = time.perf_counter()
        target = Path("/tmp/trainwatch-bench-export.xlsx")
        counts = report_xlsx_write(run, target)
        out["xlsx_seconds"] = round(time.perf_counter() - t1, 1)
        out["xlsx_lines"] = counts[""]
        out["xlsx_bytes"] = target.stat().st_size
        out["peak_rss_after_xlsx_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
        target.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=910_000, help="catalog rows (~1.1 lines each)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.xlsx)))
        return 0
    name = f"bench-export-{args.rows}"
    setup_django()
    if args.rebuild or find_run(name) is None:
        build_run(rows=args.rows, name=name, seed=11)
    print(f"load before: {os.getloadavg()}", flush=True)
    cmd = [sys.executable, __file__, "--measure", name] + (["--xlsx"] if args.xlsx else [])
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(result.stdout.strip().splitlines()[-1])
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
