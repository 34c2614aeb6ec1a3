"""Storing a confirmed upload's rows in a Celery task: queued on commit, all or nothing, safe to
run twice, failures shown on the catalog and its run; and the periodic upload tasks."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from matcher.catalogs import catalog_upload_confirm
from matcher.models import MatchChunk, MatchRun, RowResult
from matcher.runs.services import MatchRunError, match_run_start
from tests.factories import PASSWORD
from uploads import services, tasks
from uploads.models import Catalog, CatalogRow, PendingUpload
from uploads.services import (
    catalog_create,
    catalog_rows_store,
    catalogs_storing_check,
    pending_upload_create,
)

CSV = "Artist,Title,ISRC\nThe Beatles,Yesterday,\nNobody,Nothing,\nSomeone,Something,bad\n"


def _pending(label: Any, text: str = CSV, name: str = "c.csv") -> PendingUpload:
    return pending_upload_create(
        organization=label, stream=io.BytesIO(text.encode()), filename=name
    )


def _confirm(pending: PendingUpload) -> MatchRun:
    return catalog_upload_confirm(
        pending=pending, sheet=pending.default_sheet, mapping={"artist": 0, "title": 1, "isrc": 2}
    )


def _storing_catalog(label: Any, django_capture_on_commit_callbacks: Any) -> Catalog:
    """A confirmed upload whose storing task has not run (as while it waits for a worker)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = _confirm(_pending(label))
    assert len(callbacks) == 1
    return Catalog.objects.get(pk=run.catalog_id)


def test_confirm_creates_a_storing_catalog_and_queues_its_rows_task_on_commit(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch.object(tasks.catalog_store_rows, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = _confirm(_pending(label))
        delay.assert_not_called()  # nothing is queued before the commit
        for callback in callbacks:
            callback()
    catalog = run.catalog
    delay.assert_called_once_with(catalog.pk)
    assert catalog.status == Catalog.Status.STORING
    assert not CatalogRow.objects.exists()
    assert (catalog.file_format, catalog.header_row) == ("csv", 1)
    assert catalog.headers == ["Artist", "Title", "ISRC"]
    assert catalog.mapping == {"artist": 0, "title": 1, "isrc": 2}
    assert run.status == MatchRun.Status.QUEUED and run.chunk_count == 0, "the run waits"
    assert not PendingUpload.objects.exists()


def test_the_task_stores_every_row_and_releases_the_waiting_run(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.catalog_store_rows.delay(catalog.pk).get() == "ready"
    catalog.refresh_from_db()
    assert catalog.status == Catalog.Status.READY and catalog.error == ""
    # "bad" is not an ISRC: the row is valid, matched without it, and counted as warned.
    assert (catalog.row_count, catalog.invalid_count, catalog.warning_count) == (3, 0, 1)
    assert list(catalog.rows.values_list("row_number", flat=True)) == [2, 3, 4]
    run = MatchRun.objects.get(catalog=catalog)
    assert run.total_rows == 3 and run.chunk_count == 1
    assert run.status == MatchRun.Status.DONE, "the released run was matched"
    assert RowResult.objects.filter(run=run).count() == 3


def test_running_the_task_twice_stores_the_rows_once(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)
    assert catalog_rows_store(catalog_id=catalog.pk) == "ready"
    first_ids = list(catalog.rows.values_list("pk", flat=True))
    assert catalog_rows_store(catalog_id=catalog.pk) == "skipped"
    assert list(catalog.rows.values_list("pk", flat=True)) == first_ids
    run = MatchRun.objects.get(catalog=catalog)
    assert MatchChunk.objects.filter(run=run).count() == 1, "the run is planned once"


def test_rows_left_by_an_interrupted_attempt_are_replaced_not_doubled(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)
    CatalogRow.objects.create(catalog=catalog, row_number=2, artist="Half", title="Written")
    assert catalog_rows_store(catalog_id=catalog.pk) == "ready"
    catalog.refresh_from_db()
    assert catalog.row_count == catalog.rows.count() == 3
    assert catalog.rows.get(row_number=2).artist == "The Beatles"


def test_a_file_failing_after_some_batches_leaves_no_row_behind(
    label: Any,
    generic_dataset: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lines = "".join(f"Artist {i},Song {i},\n" for i in range(9))
    pending = _pending(label, "Artist,Title,ISRC\n" + lines)
    monkeypatch.setattr(services, "INSERT_BATCH", 2)
    settings.CATALOG_MAX_ROWS = 7  # 3 batches are inserted before the 8th row is refused
    with django_capture_on_commit_callbacks(execute=True):
        run = _confirm(pending)
    catalog = Catalog.objects.get(pk=run.catalog_id)
    assert catalog.status == Catalog.Status.FAILED
    assert catalog.error.startswith('"c.csv" has more than 7 rows')
    assert not CatalogRow.objects.exists()
    run.refresh_from_db()
    assert run.status == MatchRun.Status.FAILED
    assert run.error == f"The catalog was not stored: {catalog.error}"


def test_an_unexpected_error_fails_the_catalog_with_a_message_for_the_user(
    label: Any,
    generic_dataset: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)

    def broken(*args: Any, **kwargs: Any) -> None:
        CatalogRow.objects.create(catalog=catalog, row_number=2, artist="A", title="B")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "_store_rows", broken)
    with pytest.raises(RuntimeError):
        tasks.catalog_store_rows.delay(catalog.pk)
    catalog.refresh_from_db()
    assert catalog.status == Catalog.Status.FAILED
    assert catalog.error.startswith("an unexpected error stopped storing its rows.")
    assert "disk on fire" not in catalog.error, "internals stay in the log"
    assert not CatalogRow.objects.exists()
    assert MatchRun.objects.get(catalog=catalog).status == MatchRun.Status.FAILED


def test_a_storing_or_failed_catalog_cannot_start_a_match_run(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)
    with pytest.raises(MatchRunError, match=re.escape('rows of "c.csv" are still being stored')):
        match_run_start(catalog=catalog)
    services.catalog_store_fail(catalog_id=catalog.pk, reason="The file was damaged.")
    catalog.refresh_from_db()
    with pytest.raises(MatchRunError, match=re.escape("not stored. The file was damaged.")):
        match_run_start(catalog=catalog)
    assert MatchRun.objects.filter(catalog=catalog).count() == 1, "only the upload's own run"


def test_start_matching_on_a_catalog_still_storing_says_so_on_the_catalog_page(
    client: Client,
    alice: Any,
    label: Any,
    generic_dataset: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    catalog = _storing_catalog(label, django_capture_on_commit_callbacks)
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.post(
        reverse("catalog-run-start", args=[catalog.pk]), {"datasets": [generic_dataset.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog-detail", args=[catalog.pk])
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        'The rows of "c.csv" are still being stored, so matching cannot start yet. '
        "Try again in a minute; the catalog page shows when it is ready."
    ]
    assert MatchRun.objects.filter(catalog=catalog).count() == 1


def test_the_cli_path_stores_rows_in_process_and_can_start_at_once(
    label: Any, generic_dataset: Any
) -> None:
    catalog = catalog_create(organization=label, stream=io.BytesIO(CSV.encode()), filename="c.csv")
    assert catalog.status == Catalog.Status.READY and catalog.rows.count() == 3
    run = match_run_start(catalog=catalog)
    assert run.chunk_count == 1 and run.total_rows == 3


def test_the_watchdog_requeues_a_lost_storing_task_and_fails_a_hopeless_one(
    label: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lost = _storing_catalog(label, django_capture_on_commit_callbacks)
    hopeless = _storing_catalog(label, django_capture_on_commit_callbacks)
    fresh = _storing_catalog(label, django_capture_on_commit_callbacks)
    now = timezone.now()
    Catalog.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(minutes=20))
    Catalog.objects.filter(pk=hopeless.pk).update(created_at=now - dt.timedelta(hours=7))

    check = catalogs_storing_check(stall=dt.timedelta(minutes=10), give_up=dt.timedelta(hours=6))
    assert check.requeue == [lost.pk] and check.failed == [hopeless.pk]
    hopeless.refresh_from_db()
    assert hopeless.status == Catalog.Status.FAILED
    assert "not stored within 6 hours" in hopeless.error

    # The periodic task queues the lost one again; it is stored like any other.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.catalogs_storing_watchdog.delay().get() == {"requeued": 1, "failed": 0}
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == Catalog.Status.READY and lost.row_count == 3
    assert fresh.status == Catalog.Status.STORING, "a recent one is left to its own task"


def test_the_purge_task_removes_stale_pending_uploads_like_the_command(label: Any) -> None:
    old = _pending(label, name="old.csv")
    fresh = _pending(label, name="new.csv")
    PendingUpload.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert tasks.pending_uploads_purge.delay().get() == 1
    assert list(PendingUpload.objects.all()) == [fresh]
    folder = Path(settings.MEDIA_ROOT) / "catalogs"
    assert [p.name for p in folder.iterdir()] == [fresh.stored_file]


def test_celery_beat_runs_the_purge_and_the_storing_watchdog() -> None:
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    purge = schedule["uploads.tasks.pending_uploads_purge"]
    assert purge["kwargs"] == {"hours": 24.0} and purge["schedule"] <= 24 * 3600
    assert "uploads.tasks.catalogs_storing_watchdog" in schedule
    celery_app.loader.import_default_modules()  # what a worker does at start
    for name in schedule:
        assert name in celery_app.tasks, f"{name} is scheduled but no worker would know it"


def _wait_for(predicate: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout} s")


@pytest.mark.worker
def test_a_real_worker_stores_the_rows_and_matches_the_upload(
    stack: Path, label: Any, celery_worker_process: Any
) -> None:
    run = _confirm(_pending(label))  # committed: the task goes through Redis to the worker
    catalog = run.catalog
    assert catalog.status == Catalog.Status.STORING, "the web request did not store the rows"

    def finished() -> bool:
        run.refresh_from_db()
        return run.is_finished

    _wait_for(finished)
    catalog.refresh_from_db()
    assert catalog.status == Catalog.Status.READY and catalog.row_count == 3
    assert run.status == MatchRun.Status.DONE, run.error
    assert RowResult.objects.filter(run=run).count() == 3
    assert "uploads.tasks.catalog_store_rows" in celery_worker_process.log()
