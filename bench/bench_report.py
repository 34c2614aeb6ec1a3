"""Benchmark: time the report page (filters, sort, deep pages) and the evidence page on a
100k-row catalog run in PostgreSQL, with the Django test client. Goal: p95 < 300 ms per page.

Run: .venv/bin/python bench/bench_report.py [--rows 100000] [--repeat 20] [--rebuild]

The run is built directly with bulk inserts in its own database (`trainwatch_bench_report` on
the server of DATABASE_URL, default postgres://postgres@127.0.0.1:5432), never the test one.
It is kept between invocations; --rebuild makes a new one. bench/bench_export.py reuses the
builder for its 1M-line report.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "trainwatch_bench_report"
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
    "river",
    "stone",
    "glass",
    "city",
    "ocean",
    "echo",
    "shadow",
    "silver",
    "velvet",
    "neon",
    "midnight",
    "winter",
    "morning",
    "paper",
    "ghost",
    "honey",
    "thunder",
    "violet",
    "crystal",
    "desert",
    "garden",
    "mirror",
    "signal",
    "orbit",
]
KINDS = ("identifier", "exact", "strong", "version", "possible")
KIND_WEIGHTS = (5, 50, 20, 15, 10)


def setup_django(db_name: str = BENCH_DB) -> None:
    """Point Django at the bench database (created if missing) and migrate it."""
    import psycopg

    server = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = f"{server}/{db_name}"
    os.environ.setdefault("TRAINWATCH_EMBEDDED", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    # Pages render without a collectstatic run, as in the tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)


def _name(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS).title() for _ in range(words))


def build_run(
    *, rows: int, name: str, seed: int = 7, matched_share: float = 0.4, slice_rows: int = 50_000
) -> Any:
    """A finished run of a `rows`-row catalog against three datasets, with about
    `matched_share` of rows matched (some in two datasets), 5% of matches reviewed."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Membership, Organization
    from matcher.models import Dataset, DatasetVersion, MatchRun
    from uploads.models import Catalog

    rng = random.Random(seed)
    org, _ = Organization.objects.get_or_create(slug="bench-label", defaults={"name": "Bench"})
    user, _ = get_user_model().objects.get_or_create(username="bench-owner")
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": "owner"})
    artists = [_name(rng, rng.choice((1, 2, 2, 3))) for _ in range(max(50, rows // 40))]
    albums = [_name(rng, rng.choice((1, 2, 3))) for _ in range(max(50, rows // 10))]
    batch = 5000
    t0 = time.perf_counter()
    with transaction.atomic():
        versions = []
        for slug in ("bench-alpha", "bench-beta", "bench-gamma"):
            ds, _ = Dataset.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": slug.replace("-", " ").title(),
                    "publisher": "Bench Lab",
                    "licence": "CC BY 4.0",
                    "description": "Synthetic dataset for benchmarks.",
                },
            )
            number = (ds.versions.count() or 0) + 1
            version = DatasetVersion.objects.create(
                dataset=ds,
                number=number,
                sha256=f"{slug}-{name}-{number}".encode().hex()[:64].ljust(64, "0"),
                file_format="generic-csv",
                normalizer_version="1",
                status=DatasetVersion.Status.READY,
            )
            ds.current_version = version
            ds.save(update_fields=["current_version"])
            versions.append(version)
        catalog = Catalog.objects.create(
            organization=org,
            name=name,
            stored_file="bench",
            file_format="csv",
            sha256="b" * 64,
            row_count=rows,
        )
        run = MatchRun.objects.create(
            organization=org,
            catalog=catalog,
            created_by=user,
            status=MatchRun.Status.DONE,
            engine_version="score-1/norm-1",
            thresholds={"strong": 90, "possible": 75},
            total_rows=rows,
            rows_done=rows,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            verdicts_carried_at=timezone.now(),
        )
        run.dataset_versions.set(versions)
    # Slices keep memory flat whatever the size; each slice commits on its own.
    n_matches = n_verdicts = 0
    for start in range(0, rows, slice_rows):
        with transaction.atomic():
            made = _build_slice(
                rng,
                run,
                catalog,
                versions,
                user,
                org,
                artists,
                albums,
                start,
                min(rows, start + slice_rows),
                matched_share,
                batch,
            )
        n_matches += made[0]
        n_verdicts += made[1]
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "uploads_catalogrow",
            "matcher_rowresult",
            "matcher_match",
            "matcher_verdict",
        ):
            cursor.execute(f"ANALYZE {table}")
    print(
        f"built run {run.pk}: {rows} rows, {n_matches} matches, {n_verdicts} verdicts "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return run


def _build_slice(
    rng: random.Random,
    run: Any,
    catalog: Any,
    versions: list[Any],
    user: Any,
    org: Any,
    artists: list[str],
    albums: list[str],
    first: int,
    stop: int,
    matched_share: float,
    batch: int,
) -> tuple[int, int]:
    from django.utils import timezone

    from matcher.models import DatasetTrack, Match, RowResult, Verdict, VerdictEvent
    from uploads.models import CatalogRow

    chunk = []
    for n in range(first, stop):
        artist = rng.choice(artists)
        chunk.append(
            CatalogRow(
                catalog=catalog,
                row_number=n + 2,
                artist=artist,
                title=_name(rng, rng.choice((1, 2, 3, 4))),
                album=rng.choice(albums),
                isrc=f"GBABC{n % 100:02d}{n % 100000:05d}",
                duration_s=float(rng.randint(90, 400)),
                cells={"Artist": artist},
            )
        )
    catalog_rows = CatalogRow.objects.bulk_create(chunk, batch_size=batch)
    results: list[Any] = []
    pending: list[tuple[Any, Any, str, int]] = []  # row, version, kind, confidence
    for row in catalog_rows:
        if rng.random() < matched_share:
            best_kind, best_conf = "", 0
            for version in rng.sample(versions, rng.choice((1, 1, 1, 2))):
                kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
                conf = 100 if kind in ("identifier", "exact") else rng.randint(60, 99)
                pending.append((row, version, kind, conf))
                if conf > best_conf:
                    best_kind, best_conf = kind, conf
            results.append(
                RowResult(
                    run=run,
                    catalog_row=row,
                    status=RowResult.Status.MATCHED,
                    best_kind=best_kind,
                    best_confidence=best_conf,
                    candidates_considered=3,
                )
            )
        else:
            results.append(RowResult(run=run, catalog_row=row, status=RowResult.Status.UNMATCHED))
    RowResult.objects.bulk_create(results, batch_size=batch)
    tracks = [
        DatasetTrack(
            version=version,
            track_id=f"t{first}-{i}",
            artist=row.artist,
            title=row.title,
            album=row.album,
            duration_s=row.duration_s,
            url=f"https://example.org/{version.dataset.slug}/{first}-{i}",
            source_file="bench.csv",
            source_row=first + i + 2,
            artist_key=row.artist.lower()[:255],
            title_key=row.title.lower()[:255],
            artists_norm=row.artist.lower(),
        )
        for i, (row, version, _k, _c) in enumerate(pending)
    ]
    DatasetTrack.objects.bulk_create(tracks, batch_size=batch)
    matches = [
        Match(
            run=run,
            catalog_row=row,
            track=track,
            dataset_id=version.dataset_id,
            kind=kind,
            confidence=conf,
            rank=1,
            artist_score=100.0,
            title_score=float(conf),
            duration_delta_s=0.0,
            evidence={"rules": ["bench"], "provenance": {"file": "bench.csv"}},
        )
        for (row, version, kind, conf), track in zip(pending, tracks, strict=True)
    ]
    Match.objects.bulk_create(matches, batch_size=batch)
    now = timezone.now()
    reviewed = rng.sample(matches, len(matches) // 20)
    Verdict.objects.bulk_create(
        [
            Verdict(
                match=m,
                run=run,
                value=rng.choice(("confirmed", "rejected", "unsure")),
                reviewed_by=user,
                reviewed_at=now,
            )
            for m in reviewed
        ],
        batch_size=batch,
    )
    VerdictEvent.objects.bulk_create(
        [
            VerdictEvent(
                organization=org,
                match=m,
                run_number=run.pk,
                catalog_row_number=m.catalog_row.row_number,
                dataset_slug=m.track.version.dataset.slug,
                dataset_track_id=m.track.track_id,
                user=user,
                user_name=user.username,
                at=now,
                new_value="confirmed",
            )
            for m in reviewed
        ],
        batch_size=batch,
    )
    return len(matches), len(reviewed)


def find_run(name: str) -> Any:
    from matcher.models import MatchRun

    return MatchRun.objects.filter(catalog__name=name, status="done").order_by("-pk").first()


def time_pages(run: Any, repeat: int) -> list[tuple[str, float, float, float]]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from matcher.models import Match

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-owner"))
    url = reverse("run-detail", args=[run.pk])
    last_page = max(1, run.total_rows // 50)
    match = Match.objects.filter(run=run).order_by("pk")[1000]
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("report, page 1", url, {}),
        ("report, middle page", url, {"page": str(last_page // 2)}),
        ("report, last page", url, {"page": str(last_page)}),
        ("filter dataset", url, {"dataset": "bench-beta"}),
        ("filter dataset + kind", url, {"dataset": "bench-beta", "kind": "strong"}),
        ("filter unreviewed", url, {"review": "unreviewed"}),
        ("filter confirmed", url, {"review": "confirmed"}),
        ("filter confidence 70-80", url, {"conf_min": "70", "conf_max": "80"}),
        ("filter status unmatched", url, {"status": "unmatched"}),
        ("free text", url, {"q": "midnight"}),
        ("sort artist, page 200", url, {"sort": "artist", "page": "200"}),
        ("sort -confidence", url, {"sort": "-confidence"}),
        ("evidence page", reverse("match-evidence", args=[match.pk]), {}),
    ]
    out = []
    for label, target, query in cases:
        response = client.get(target, query)  # warm-up (and carry-over claim)
        assert response.status_code == 200, (label, response.status_code)
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(target, query)
            samples.append((time.perf_counter() - t) * 1000)
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
        out.append((label, statistics.median(samples), p95, samples[-1]))
        print(f"{label:28s} p50 {out[-1][1]:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    setup_django()
    name = f"bench-report-{args.rows}"
    run = None if args.rebuild else find_run(name)
    if run is None:
        run = build_run(rows=args.rows, name=name)
    print(f"load: {os.getloadavg()}", flush=True)
    results = time_pages(run, args.repeat)
    worst = max(p95 for _l, _m, p95, _x in results)
    print(f"worst p95 {worst:.1f} ms (goal < 300 ms); load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
