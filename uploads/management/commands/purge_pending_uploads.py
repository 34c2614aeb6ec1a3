"""manage.py purge_pending_uploads [--hours 24]: remove uploads never confirmed, with files.

Celery beat runs the same service hourly (uploads.tasks.pending_uploads_purge); the command is
for deployments without beat, or to purge at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from uploads.services import pending_uploads_purge


class Command(BaseCommand):
    help = "Remove pending uploads (and their files) older than --hours (beat does it hourly)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args: Any, **options: Any) -> None:
        removed = pending_uploads_purge(older_than=dt.timedelta(hours=options["hours"]))
        self.stdout.write(f"{removed} pending upload(s) removed")
