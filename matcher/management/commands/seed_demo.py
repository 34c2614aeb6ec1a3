"""manage.py seed_demo: a demo organization and user, a demo dataset and a matched demo catalog.

Real rows come from the shared data folder beside the repository (../shared/data), whose files
are for testing only and are not shipped with the product.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Role
from accounts.services import membership_set, organization_get_or_create
from matcher.datasets.importer import DatasetImportError, dataset_import
from matcher.models import MatchRun
from matcher.runs.services import match_run_start
from uploads.models import Catalog
from uploads.services import catalog_create

DEMO_DATASET = ("spotify-tracks-dataset", "spotify_tracks_sample_886.csv", "spotify-tracks-dataset")
DEMO_CATALOG = "most_streamed_spotify_2024_isrc.csv"


class Command(BaseCommand):
    help = "Load a demo organization, user, dataset and catalog (for the local demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(settings.BASE_DIR).parent / "shared" / "data",
            help="folder with the real sample files (default: ../shared/data)",
        )
        parser.add_argument("--username", default="demo")
        parser.add_argument(
            "--address",
            default="127.0.0.1:8000",
            help="host:port the server listens on, for the links printed (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path = options["data_dir"]
        slug, filename, fmt = DEMO_DATASET
        if not (data_dir / filename).is_file():
            raise CommandError(f"{data_dir / filename} not found; pass --data-dir")
        try:
            summary = dataset_import(slug=slug, paths=[data_dir / filename], file_format=fmt)
        except DatasetImportError as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)

        org = organization_get_or_create(slug="demo-label", name="Demo Label")
        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        with transaction.atomic():
            user, _ = user_model.objects.get_or_create(username=options["username"])
            user.set_password(password)
            user.save()
            membership_set(organization=org, user=user, role=Role.OWNER)

        if not Catalog.objects.filter(organization=org, name=DEMO_CATALOG).exists():
            with (data_dir / DEMO_CATALOG).open("rb") as stream:
                catalog = catalog_create(
                    organization=org, stream=stream, filename=DEMO_CATALOG, uploaded_by=user
                )
            run = match_run_start(catalog=catalog, created_by=user)
            run.refresh_from_db()
            self.stdout.write(
                f"demo catalog {catalog.name}: {catalog.row_count} rows, run {run.pk} {run.status}"
            )
        else:
            run = MatchRun.objects.filter(organization=org).first() or MatchRun()
        site = f"http://{options['address']}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo ready: {site}/"))
        self.stdout.write(f"  sign in as: {user.get_username()}")
        self.stdout.write(f"  password:   {password}")
        if run.pk:
            self.stdout.write(f"  demo report: {site}/runs/{run.pk}/")
