"""The match pipeline through a real Celery worker process and the real Redis broker."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.services import organization_get_or_create
from matcher.models import MatchChunk, MatchRun, RowResult
from matcher.runs.services import match_run_start
from tests.conftest import wait_until
from tests.factories import stored_catalog

SKELETON = Path(__file__).parent / "data" / "skeleton"


def _wait_finished(run: MatchRun, timeout: float = 90.0) -> MatchRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} still {run.status} after {timeout} s")


@pytest.mark.worker
def test_a_run_split_into_chunks_completes_on_a_real_worker(celery_worker_process, settings):
    settings.MATCH_CHUNK_ROWS = 3  # 14 rows -> 5 chunk tasks shared by the worker's 2 processes
    call_command(
        "import_dataset",
        "spotify-sample",
        str(SKELETON / "tracks_generic.csv"),
        "--format",
        "generic-csv",
        "--no-progress",
    )
    org = organization_get_or_create(slug="worker-label")
    catalog = stored_catalog(org, "catalog.csv")
    run = match_run_start(catalog=catalog)
    assert run.chunk_count == 5

    run = _wait_finished(run)

    assert run.status == MatchRun.Status.DONE, run.error
    assert run.rows_done == run.total_rows == 14
    assert MatchChunk.objects.filter(run=run, status=MatchChunk.Status.DONE).count() == 5
    results = RowResult.objects.filter(run=run)
    assert results.count() == 14
    # Row 12's bad ISRC is ignored, with a warning, and the row matched by name (issue 17).
    assert results.filter(status="matched").count() == 11
    assert results.filter(status="invalid").count() == 1

    # The chunks really ran in the worker process: its log has each task succeeding. Celery
    # writes that line after the task returns, so the last chunk's line may follow the run's
    # commit by a moment: wait for it rather than read the log once.
    def succeeded() -> int:
        log = celery_worker_process.log()
        return len(re.findall(r"Task matcher\.tasks\.match_chunk\[[0-9a-f-]+\] succeeded", log))

    wait_until(lambda: succeeded() >= 5, timeout=15, what="five match_chunk successes in the log")
    assert succeeded() == 5


@pytest.mark.worker
def test_match_catalog_command_waits_for_the_worker_and_writes_the_report(
    celery_worker_process, tmp_path
):
    call_command(
        "import_dataset",
        "spotify-sample",
        str(SKELETON / "tracks_generic.csv"),
        "--format",
        "generic-csv",
        "--no-progress",
    )
    out = tmp_path / "report.csv"
    call_command(
        "match_catalog", str(SKELETON / "catalog.csv"), "--org", "w-label", "--out", str(out)
    )
    text = out.read_text(encoding="utf-8")
    assert text.startswith("catalog_row,status,dataset,dataset_track_id,match_kind,confidence,")
    assert ",matched,spotify-sample,63OQupATfueTdZMWTxW03A,identifier,100," in text


def test_the_task_names_services_queue_by_are_the_registered_tasks():
    from config.celery import app
    from matcher import tasks as matcher_tasks
    from matcher.runs.services import DISPATCH_TASK
    from uploads import tasks as upload_tasks
    from uploads.services import STORE_TASK

    assert matcher_tasks.match_run_dispatch.name == DISPATCH_TASK
    assert upload_tasks.catalog_store_rows.name == STORE_TASK
    assert DISPATCH_TASK in app.tasks
    assert STORE_TASK in app.tasks
