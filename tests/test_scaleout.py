"""Concurrent runs share the workers: a small catalog is not queued behind a big one."""

from __future__ import annotations

import pytest

from accounts.services import organization_get_or_create
from matcher.models import MatchRun
from matcher.runs.services import match_run_start
from tests.conftest import WorkerProcess, wait_until
from tests.factories import big_catalog, stored_catalog

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _run(pk: int) -> MatchRun:
    return MatchRun.objects.get(pk=pk)


def test_a_small_run_started_after_a_big_one_finishes_first(stack, settings):
    settings.MATCH_CHUNK_ROWS = 10
    settings.MATCH_RUN_WINDOW = 2
    big = big_catalog(stack, "big-label")  # 120 chunks
    small = stored_catalog(organization_get_or_create(slug="small-label"), "catalog.csv")
    worker = WorkerProcess(stack / "worker.log", concurrency=1)
    try:
        worker.wait_ready()
        big_run = match_run_start(catalog=big)
        wait_until(lambda: _run(big_run.pk).chunks_done >= 2, 180, "the big run to start")
        small_run = match_run_start(catalog=small)
        wait_until(lambda: _run(small_run.pk).is_finished, 180, "the small run")
        at_small_finish = _run(big_run.pk)
        wait_until(lambda: _run(big_run.pk).is_finished, 300, "the big run")
    finally:
        worker.stop()
    assert _run(small_run.pk).status == MatchRun.Status.DONE
    # With one worker process, the small run only got through because the big run had no more
    # than a window of chunks in the queue.
    assert at_small_finish.chunks_done < at_small_finish.chunk_count / 2
    assert _run(big_run.pk).status == MatchRun.Status.DONE
    assert _run(big_run.pk).rows_done == _run(big_run.pk).total_rows
