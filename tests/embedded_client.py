"""A web client of the embedded default, run by tests/test_embedded.py in a child process whose
environment is the embedded default's (SQLite database and broker in a temporary folder).

    python -m tests.embedded_client confirm CATALOG_FILE   # upload and confirm; prints JSON
    python -m tests.embedded_client status RUN_ID          # the progress the run page polls

It drives the pages with Django's test client, as a signed-in uploader would, and prints what
it saw as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def confirm(path: Path) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from accounts.models import Role
    from accounts.services import membership_set, organization_get_or_create
    from matcher.models import MatchRun
    from uploads.models import Catalog, PendingUpload

    org = organization_get_or_create(slug="embedded-label", name="Embedded Label")
    user, _ = get_user_model().objects.get_or_create(username="uploader")
    membership_set(organization=org, user=user, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    with path.open("rb") as fh:
        sent = client.post(reverse("catalog-upload"), {"file": fh})
    assert sent.status_code == 302, sent.status_code
    pending = PendingUpload.objects.get(organization=org)
    sheet = next(s for s in pending.sheets if s["name"] == pending.default_sheet)
    form = {"sheet": pending.default_sheet, "shown_sheet": pending.default_sheet}
    form |= {f"map_{f}": str(i) for f, i in sheet["guessed_mapping"].items()}
    started = time.monotonic()
    confirmed = client.post(sent["Location"], form | {"action": "confirm"})
    seconds = time.monotonic() - started
    # What is committed at the moment the uploader's browser gets the answer.
    run = MatchRun.objects.get(organization=org)
    catalog = Catalog.objects.get(pk=run.catalog_id)
    page = client.get(confirmed["Location"])
    return {
        "response": confirmed.status_code,
        "location": confirmed["Location"],
        "run_url": reverse("run-detail", args=[run.pk]),
        "seconds": round(seconds, 3),
        "run": run.pk,
        "run_status": run.status,
        "rows_done": run.rows_done,
        "catalog_status": catalog.status,
        "page": page.status_code,
    }


def status(run_id: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(get_user_model().objects.get(username="uploader"))
    answer = client.get(reverse("run-status", args=[run_id]))
    health = client.get(reverse("healthz")).json()
    return {"response": answer.status_code, "health": health, **answer.json()}


def main(argv: list[str]) -> None:
    _setup()
    command, value = argv
    done = confirm(Path(value)) if command == "confirm" else status(int(value))
    print(json.dumps(done))


if __name__ == "__main__":
    main(sys.argv[1:])
