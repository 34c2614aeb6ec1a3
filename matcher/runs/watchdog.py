"""Supervision of match runs: finds runs whose tasks were lost (a broker that lost its data, a
worker that died before Redis redelivered) and puts their unfinished chunks back on the queue,
or fails them with a reason the user sees.

Re-queuing is always safe: a chunk task that finds its chunk done writes nothing. A re-queue
counts as an attempt of the chunk, and a chunk (or run) whose row is locked is being written by
its task, so it is not re-queued: a stuck chunk is not multiplied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from matcher.models import MatchChunk, MatchRun
from matcher.reports.services import FIGURES_FORMAT, report_prepare
from matcher.runs.services import match_run_fail

logger = logging.getLogger(__name__)


@dataclass
class WatchdogReport:
    redispatch: list[int] = field(default_factory=list)  # queued runs whose dispatch was lost
    requeue: dict[int, list[int]] = field(default_factory=dict)  # run id -> pending chunk ids
    failed: list[int] = field(default_factory=list)
    prepared: list[int] = field(default_factory=list)  # done runs whose report was prepared now


def match_runs_check(
    *, stall_seconds: float | None = None, give_up_seconds: float | None = None
) -> WatchdogReport:
    """Decide what to do with runs that have made no progress for `stall_seconds`."""
    stall = timedelta(seconds=stall_seconds or settings.MATCH_STALL_SECONDS)
    give_up = timedelta(seconds=give_up_seconds or settings.MATCH_GIVE_UP_SECONDS)
    now = timezone.now()
    report = WatchdogReport()

    for run in MatchRun.objects.filter(status=MatchRun.Status.QUEUED, chunk_count__gt=0):
        if now - run.created_at >= stall:
            report.redispatch.append(run.pk)

    running = MatchRun.objects.filter(status=MatchRun.Status.RUNNING).annotate(
        last_chunk=Max("chunks__finished_at")
    )
    for run in running:
        last = max(t for t in (run.last_chunk, run.started_at, run.created_at) if t is not None)
        if now - last < stall:
            continue
        with transaction.atomic():
            _check_stalled(run, now - last >= give_up, give_up, report)
    # The chunk that finishes a run prepares its report; a worker lost between the two (or a run
    # finished before the figures' format changed) leaves it to this check, never to a page.
    unprepared = ~Q(report_figures__has_key="format") | ~Q(report_figures__format=FIGURES_FORMAT)
    for run in MatchRun.objects.filter(unprepared, status=MatchRun.Status.DONE):
        report_prepare(run=run)
        report.prepared.append(run.pk)
    if report.redispatch or report.requeue or report.failed:
        logger.warning(
            "match run watchdog acted",
            extra={
                "redispatch": report.redispatch,
                "requeue": {k: len(v) for k, v in report.requeue.items()},
                "failed": report.failed,
            },
        )
    return report


def _check_stalled(
    run: MatchRun, past_give_up: bool, give_up: timedelta, report: WatchdogReport
) -> None:
    """Fail a stalled run, or count and re-queue its pending chunks, never waiting for a lock.

    A chunk holds its row and the run's while it writes its results: such a chunk is at work,
    however long it takes, so the run (run's row locked) or the chunk (its row locked) is left
    alone. Copies of a chunk that is still writing would only wait for its locks, each holding a
    worker and a connection until its time limit.
    """
    locked = (
        MatchRun.objects.select_for_update(skip_locked=True)
        .filter(pk=run.pk, status=MatchRun.Status.RUNNING)
        .values_list("pk", flat=True)
        .first()
    )
    if locked is None:
        return  # a chunk is writing its results, or the run has just finished
    worn = (
        run.chunks.filter(
            status=MatchChunk.Status.PENDING, attempts__gte=settings.MATCH_CHUNK_MAX_ATTEMPTS
        )
        .order_by("index")
        .first()
    )
    if worn is not None:
        match_run_fail(
            run_id=run.pk,
            reason=(
                f"part {worn.index + 1} of the catalog could not be matched"
                f" after {worn.attempts} attempts; the run was stopped. Start it again, "
                "and contact support if it fails again."
            ),
        )
        report.failed.append(run.pk)
        return
    if past_give_up:
        minutes = int(give_up.total_seconds() // 60)
        match_run_fail(
            run_id=run.pk,
            reason=(
                f"no progress for {minutes} minutes: no worker picked up the remaining work. "
                "Check that workers are running, then start the run again."
            ),
        )
        report.failed.append(run.pk)
        return
    pending = list(
        run.chunks.select_for_update(skip_locked=True, of=("self",))
        .filter(status=MatchChunk.Status.PENDING)
        .order_by("index")
        .values_list("pk", flat=True)
    )
    if pending:
        # A re-queue is an attempt: a chunk that never finishes is given up after the limit.
        MatchChunk.objects.filter(pk__in=pending).update(attempts=F("attempts") + 1)
        report.requeue[run.pk] = pending
