"""Match runs' lifecycle: create a run and its chunks, start, release, begin, cancel or fail it.

Every write here is safe to repeat; the run is finished by whichever chunk completes it
(matcher.runs.chunk), with a conditional update.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from config.celery import enqueue
from config.db import statistics_refresh
from matcher.engine.score import (
    ENGINE_VERSION,
    Thresholds,
)
from matcher.models import (
    Dataset,
    DatasetVersion,
    Match,
    MatchChunk,
    MatchRun,
    RowResult,
)
from uploads.models import Catalog

logger = logging.getLogger(__name__)

DISPATCH_TASK = "matcher.tasks.match_run_dispatch"  # queued by name: see config.celery.enqueue
STATISTICS_TASK = "matcher.tasks.match_run_statistics"


class MatchRunError(Exception):
    """A run cannot start; the message is for the person who asked."""


class MatchRunBusy(Exception):
    """A chunk is writing the run's results (it holds the run's row): ask again in a moment."""


def default_thresholds() -> Thresholds:
    return Thresholds.from_dict(settings.MATCH_THRESHOLDS)


@transaction.atomic
def match_run_create(
    *,
    catalog: Catalog,
    datasets: Sequence[Dataset] | None = None,
    created_by: Any = None,
    thresholds: Thresholds | None = None,
    chunk_rows: int | None = None,
    after_storing: bool = False,
) -> MatchRun:
    """Create a run and its chunks. The caller enqueues it (see match_run_start).

    A catalog whose rows are not stored yet is refused, except with `after_storing` (the web
    upload, which stores them in a task): its run then waits, without chunks, until
    match_run_release plans and enqueues it.
    """
    _require_ready(catalog, after_storing=after_storing)
    chosen = list(datasets) if datasets is not None else list(Dataset.objects.all())
    versions = [
        d.current_version
        for d in chosen
        if d.current_version is not None and d.current_version.status == DatasetVersion.Status.READY
    ]
    if not versions:
        raise MatchRunError(
            "No dataset has been imported yet, so there is nothing to match against. "
            "Import one with `manage.py import_dataset`."
        )
    run = MatchRun.objects.create(
        organization=catalog.organization,
        catalog=catalog,
        created_by=created_by,
        thresholds=(thresholds or default_thresholds()).as_dict(),
        engine_version=ENGINE_VERSION,
        total_rows=catalog.row_count,
    )
    run.dataset_versions.set(versions)
    if catalog.status == Catalog.Status.READY:
        _plan_chunks(run, catalog, chunk_rows)
    return run


def _require_ready(catalog: Catalog, *, after_storing: bool) -> None:
    if catalog.status == Catalog.Status.FAILED:
        raise MatchRunError(
            f'"{catalog.name}" cannot be matched: its rows were not stored. {catalog.error}'
        )
    if catalog.status != Catalog.Status.READY and not after_storing:
        raise MatchRunError(
            f'The rows of "{catalog.name}" are still being stored, so matching cannot start yet. '
            "Try again in a minute; the catalog page shows when it is ready."
        )


def _plan_chunks(run: MatchRun, catalog: Catalog, chunk_rows: int | None = None) -> None:
    size = chunk_rows or settings.MATCH_CHUNK_ROWS
    chunks: list[MatchChunk] = []
    ids: list[int] = []
    for row_id in catalog.rows.order_by("id").values_list("id", flat=True).iterator(2000):
        ids.append(row_id)
        if len(ids) == size:
            chunks.append(_chunk(run, len(chunks), ids))
            ids = []
    if ids:
        chunks.append(_chunk(run, len(chunks), ids))
    MatchChunk.objects.bulk_create(chunks, batch_size=1000)
    run.total_rows = catalog.row_count
    run.chunk_count = len(chunks)
    if not chunks:
        run.status = MatchRun.Status.DONE
        run.started_at = run.finished_at = timezone.now()
    run.save()


def _chunk(run: MatchRun, index: int, ids: list[int]) -> MatchChunk:
    # An attempt is a time the chunk is put on the queue: this first one, then each re-queue by
    # the watchdog (matcher.runs.watchdog). The task itself counts nothing, so that a stall is
    # one attempt, not two (the re-queue, then the copy that runs it).
    return MatchChunk(
        run=run,
        index=index,
        first_row_id=ids[0],
        last_row_id=ids[-1],
        row_count=len(ids),
        attempts=1,
    )


def match_run_start(
    *,
    catalog: Catalog,
    datasets: Sequence[Dataset] | None = None,
    created_by: Any = None,
    thresholds: Thresholds | None = None,
    after_storing: bool = False,
) -> MatchRun:
    """Create a run and enqueue it once the transaction commits."""
    run = match_run_create(
        catalog=catalog,
        datasets=datasets,
        created_by=created_by,
        thresholds=thresholds,
        after_storing=after_storing,
    )
    if run.chunk_count:
        transaction.on_commit(partial(enqueue, DISPATCH_TASK, run.pk))
    return run


def match_run_release(*, catalog: Catalog) -> list[int]:
    """Plan and enqueue the runs that waited for this catalog's rows (now stored), or fail them
    with the catalog's reason when storing failed; returns the runs released. Safe to repeat:
    a run that has its chunks already is left alone."""
    waiting = MatchRun.objects.select_for_update().filter(
        catalog=catalog, status=MatchRun.Status.QUEUED, chunk_count=0
    )
    released = []
    for run in waiting:
        if catalog.status == Catalog.Status.FAILED:
            match_run_fail(run_id=run.pk, reason=f"The catalog was not stored: {catalog.error}")
            continue
        _plan_chunks(run, catalog)
        if run.chunk_count:
            transaction.on_commit(partial(enqueue, DISPATCH_TASK, run.pk))
        released.append(run.pk)
    return released


def match_run_begin(*, run_id: int, window: int | None = None) -> list[int]:
    """Mark the run running and return the chunks to enqueue first.

    With a `window`, only the first `window` chunks are queued at once; each finished chunk
    queues the one `window` further on (match_chunk_next). A run never has more than a window of
    tasks waiting, so a small catalog started behind a million-row one is not queued behind
    all of its chunks: concurrent runs share the workers.
    """
    now = timezone.now()
    MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=now
    )
    run = MatchRun.objects.get(pk=run_id)
    if run.status != MatchRun.Status.RUNNING:
        return []
    pending = run.chunks.filter(status=MatchChunk.Status.PENDING)
    if window is not None:
        pending = pending.filter(index__lt=window)
    return list(pending.order_by("index").values_list("pk", flat=True))


def match_chunk_next(*, chunk_id: int, window: int) -> int | None:
    """The chunk that follows this one in its chain (index + window), if it still needs doing.

    Asked also when this chunk turned out done already (a redelivered task), so that a worker
    killed between finishing a chunk and queueing the next one does not break the chain; a
    chunk queued twice is harmless.
    """
    chunk = MatchChunk.objects.select_related("run").get(pk=chunk_id)
    if chunk.run.status != MatchRun.Status.RUNNING:
        return None
    return (
        MatchChunk.objects.filter(
            run_id=chunk.run_id,
            index=chunk.index + window,
            status=MatchChunk.Status.PENDING,
        )
        .values_list("pk", flat=True)
        .first()
    )


CANCEL_LOCK_WAIT_MS = 2000  # how long a cancel waits for a chunk that is saving its results


def match_run_cancel(*, run: MatchRun, wait: bool = False) -> bool:
    """Cancel a queued or running run; False when it is finished already. Its chunks still
    queued then do nothing (they find the run no longer running).

    A chunk holds the run's row while it writes its results, usually for a second or two; the
    answer waits for it at most CANCEL_LOCK_WAIT_MS (a stuck chunk can hold it as long as its
    task lasts), then MatchRunBusy, to be asked again in a moment. With `wait` (deleting the
    catalog, which has to wait for the chunk anyway), it waits.
    """
    try:
        with transaction.atomic():
            if not wait and connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    # A constant, not input; SET takes no bound parameters.
                    cur.execute(f"SET LOCAL lock_timeout = {int(CANCEL_LOCK_WAIT_MS)}")
            active = (
                MatchRun.objects.select_for_update()
                .filter(pk=run.pk, status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING])
                .values_list("pk", flat=True)
                .first()
            )
            if active is None:
                return False
            MatchRun.objects.filter(pk=run.pk).update(
                status=MatchRun.Status.CANCELLED, finished_at=timezone.now()
            )
            # Its partial report is shown: planned from statistics taken before the run, its
            # pages would go row by row. Off the request, as ANALYZE may take a second.
            transaction.on_commit(partial(enqueue, STATISTICS_TASK, run.pk), robust=True)
    except OperationalError as exc:
        if not lock_not_available(exc):
            raise
        logger.info("match run cancel refused: busy", extra={"run": run.pk})
        raise MatchRunBusy(
            f"Run {run.pk} is saving the results of a part of the catalog right now, so it "
            "cannot be cancelled this second. Cancel it again in a moment."
        ) from exc
    return True


def lock_not_available(exc: DatabaseError) -> bool:
    """Whether `exc` is PostgreSQL's "row locked" answer to NOWAIT or lock_timeout (SQLSTATE
    55P03)."""
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"


def match_run_statistics_refresh(*, run_id: int) -> None:
    """Planner statistics that cover the results and matches of a run that has ended, for its
    report's pages and exports (the chunk that finishes a run calls it; a cancel queues it)."""
    statistics_refresh(RowResult, Match)
    logger.info("match run statistics refreshed", extra={"run": run_id})


def match_run_fail(*, run_id: int, reason: str) -> None:
    MatchRun.objects.filter(
        pk=run_id, status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]
    ).update(status=MatchRun.Status.FAILED, error=reason[:2000], finished_at=timezone.now())
