"""manage.py match_catalog CATALOG_FILE --org ORG_SLUG [--datasets SLUG,SLUG] --out REPORT.csv

Uploads the file as the organization, runs the same match pipeline as the web upload (the same
Celery tasks: in this process on the embedded default, on workers when REDIS_URL is set), waits
for it and writes the same CSV the web page downloads. Exit status 1 with a one-line message on
bad input.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import organization_get_or_create
from config.celery import app
from matcher.models import Dataset, MatchRun
from matcher.reports.exports import report_csv_write
from matcher.runs.services import MatchRunError, match_run_start
from uploads.services import UploadError, catalog_create


class Command(BaseCommand):
    help = "Match a catalog file against the imported datasets and write the report CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("catalog_file", type=Path)
        parser.add_argument("--org", required=True, help="organization slug (created if missing)")
        parser.add_argument("--datasets", default="", help="comma-separated dataset slugs")
        parser.add_argument("--out", required=True, type=Path, help="report CSV to write")
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="seconds to wait for the run"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.EMBEDDED_BROKER:
            # On the embedded default no worker need be running (.ci/serve starts one only
            # beside the web server), and this command waits for the run anyway: it runs the
            # tasks itself, in this process.
            app.conf.task_always_eager = True
        path: Path = options["catalog_file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            organization = organization_get_or_create(slug=options["org"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        datasets = None
        if options["datasets"]:
            slugs = [s.strip() for s in options["datasets"].split(",") if s.strip()]
            found = {d.slug: d for d in Dataset.objects.filter(slug__in=slugs)}
            missing = [s for s in slugs if s not in found]
            if missing:
                raise CommandError(f"unknown dataset(s): {', '.join(missing)}")
            datasets = [found[s] for s in slugs]
        try:
            with path.open("rb") as stream:
                catalog = catalog_create(
                    organization=organization, stream=stream, filename=path.name
                )
            run = match_run_start(catalog=catalog, datasets=datasets)
        except (UploadError, MatchRunError) as exc:
            raise CommandError(str(exc)) from exc

        deadline = time.monotonic() + options["timeout"]
        while True:
            run.refresh_from_db()
            if run.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"run {run.pk} did not finish within {options['timeout']:.0f} s "
                    f"({run.rows_done}/{run.total_rows} rows); is a worker running?"
                )
            time.sleep(0.5)
        if run.status != MatchRun.Status.DONE:
            raise CommandError(f"run {run.pk} {run.status}: {run.error or 'no reason recorded'}")
        out: Path = options["out"]
        try:
            with out.open("w", encoding="utf-8", newline="") as fh:
                lines = report_csv_write(run, fh)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror}") from exc
        self.stderr.write(
            f"run {run.pk}: {catalog.row_count} rows, report with {lines} lines written to {out}"
        )
        sys.stderr.flush()
