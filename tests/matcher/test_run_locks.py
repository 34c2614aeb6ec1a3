"""A chunk holding its locks (writing its results, or stuck doing so) is not multiplied and does
not hold anyone else up: the watchdog counts its re-queues and leaves locked rows alone, a copy
of the chunk returns at once, and cancelling the run answers at once.

Two connections: a thread holds the lock (as the chunk's transaction does) while this one acts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, models, transaction
from django.utils import timezone

from matcher.models import MatchChunk, MatchRun, RowResult
from matcher.runs.chunk import match_chunk_process
from matcher.runs.services import MatchRunBusy, match_run_begin, match_run_cancel, match_run_create
from matcher.runs.watchdog import match_runs_check
from tests.factories import stored_catalog, token_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_with_a_safety_net() -> Iterator[None]:
    """Code that waits for a lock fails here after a while instead of hanging the suite."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    with connection.cursor() as cur:
        cur.execute("SET lock_timeout = '10s'")
    yield
    with connection.cursor() as cur:
        cur.execute("RESET lock_timeout")


@pytest.fixture
def run(generic_dataset: Any, label: Any) -> MatchRun:
    """A running run of the skeleton catalog (14 rows) in three chunks, stalled for an hour."""
    created = match_run_create(catalog=stored_catalog(label), chunk_rows=5)
    match_run_begin(run_id=created.pk)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    MatchRun.objects.filter(pk=created.pk).update(created_at=an_hour_ago, started_at=an_hour_ago)
    return MatchRun.objects.get(pk=created.pk)


@contextmanager
def row_locked(model: type[models.Model], pk: int) -> Iterator[None]:
    """Hold `SELECT ... FOR UPDATE` on one row, in another thread's connection, meanwhile."""
    held, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                held.set()
                release.wait(60)
        except BaseException as exc:
            errors.append(exc)
        finally:
            held.set()
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(60)
    assert not errors, errors
    try:
        yield
    finally:
        release.set()
        thread.join(60)
    assert not errors, errors


def _chunks(run: MatchRun) -> list[MatchChunk]:
    return list(MatchChunk.objects.filter(run=run).order_by("index"))


def test_cancelling_while_a_chunk_holds_the_runs_lock_answers_that_it_is_busy(
    run: MatchRun, caplog: pytest.LogCaptureFixture
) -> None:
    with row_locked(MatchRun, run.pk), pytest.raises(MatchRunBusy, match="Cancel it again"):
        match_run_cancel(run=run)
    assert MatchRun.objects.get(pk=run.pk).status == MatchRun.Status.RUNNING
    with caplog.at_level(logging.INFO, logger="matcher.runs.services"):
        assert match_run_cancel(run=run)
    assert MatchRun.objects.get(pk=run.pk).status == MatchRun.Status.CANCELLED
    # Its partial report is read next: the statistics were refreshed once the cancel committed.
    assert "match run statistics refreshed" in caplog.messages


def test_the_cancel_api_answers_409_run_busy_while_a_chunk_holds_the_runs_lock(
    run: MatchRun, alice: Any, label: Any
) -> None:
    client = token_client(alice, label)
    with row_locked(MatchRun, run.pk):
        response = client.post(f"/api/runs/{run.pk}/cancel/")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "run_busy"
    assert client.post(f"/api/runs/{run.pk}/cancel/").json()["status"] == "cancelled"


def test_the_watchdog_counts_a_requeue_as_an_attempt_and_skips_a_locked_chunk(
    run: MatchRun,
) -> None:
    first, second, third = _chunks(run)
    with row_locked(MatchChunk, first.pk):
        report = match_runs_check(stall_seconds=60)
    assert report.requeue == {run.pk: [second.pk, third.pk]}
    # Queued once when the run started, then once more by the watchdog (not the locked one).
    assert [c.attempts for c in _chunks(run)] == [1, 2, 2]


def test_a_stall_is_one_attempt_not_two(run: MatchRun) -> None:
    # The watchdog's re-queue counted an attempt and the copy that ran it counted another
    # (issue 18): a chunk was given up after half the attempts it was allowed.
    second = _chunks(run)[1]
    assert second.pk in match_runs_check(stall_seconds=60).requeue[run.pk]
    assert match_chunk_process(chunk_id=second.pk) == second.row_count
    assert MatchChunk.objects.get(pk=second.pk).attempts == 2


def test_the_watchdog_leaves_a_run_alone_while_a_chunk_holds_its_lock(run: MatchRun) -> None:
    with row_locked(MatchRun, run.pk):
        report = match_runs_check(stall_seconds=60, give_up_seconds=1)
    assert run.pk not in report.requeue
    assert run.pk not in report.failed
    assert MatchRun.objects.get(pk=run.pk).status == MatchRun.Status.RUNNING


def test_a_chunk_requeued_again_and_again_is_given_up_after_the_limit(
    run: MatchRun, settings: Any
) -> None:
    settings.MATCH_CHUNK_MAX_ATTEMPTS = 3
    for _ in range(2):  # queued at the start, then re-queued twice: three attempts
        assert run.pk in match_runs_check(stall_seconds=60).requeue
    report = match_runs_check(stall_seconds=60)
    assert report.failed == [run.pk]
    failed = MatchRun.objects.get(pk=run.pk)
    assert failed.status == MatchRun.Status.FAILED
    assert "part 1 of the catalog could not be matched after 3 attempts" in failed.error


def test_a_copy_of_a_chunk_being_written_returns_at_once_and_writes_nothing(
    run: MatchRun,
) -> None:
    first = _chunks(run)[0]
    with row_locked(MatchChunk, first.pk):
        assert match_chunk_process(chunk_id=first.pk) == 0
    assert MatchChunk.objects.get(pk=first.pk).attempts == 1  # a skipped copy counts nothing
    assert not RowResult.objects.filter(run=run).exists()
    assert match_chunk_process(chunk_id=first.pk) == first.row_count
    assert MatchChunk.objects.get(pk=first.pk).status == MatchChunk.Status.DONE
