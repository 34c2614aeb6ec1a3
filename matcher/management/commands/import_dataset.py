"""manage.py import_dataset SLUG PATH [PATH ...] --format FORMAT (stable command-line contract)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matcher.datasets.importer import DatasetImportError, dataset_import
from matcher.datasets.registry import FORMATS


class Progress:
    """A one-line console progress report with rows/s, redrawn at most a few times a second."""

    def __init__(self, stream: Any, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.rows = 0
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, n: int) -> None:
        self.rows += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.5:
            self.last = now
            rate = self.rows / max(now - self.started, 1e-9)
            self.stream.write(f"\r  {self.rows:>12,} rows  {rate:>10,.0f} rows/s")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.rows:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Import a dataset's files as a new version of dataset SLUG (created if missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="file_format")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        progress = Progress(sys.stderr, enabled=not options["no_progress"] and sys.stderr.isatty())
        try:
            summary = dataset_import(
                slug=options["slug"],
                paths=options["paths"],
                file_format=options["file_format"],
                progress=progress,
            )
        except DatasetImportError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.done()
        for line in summary.lines():
            self.stdout.write(line)
