"""Celery tasks: thin wrappers that take ids, call one service, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections

from matcher.runs import chunk, services, watchdog

logger = logging.getLogger(__name__)

CHUNK_RETRIES = 5


def _window(task: Task) -> int | None:
    # In-process (eager) tasks would chain by recursion: there, every chunk is queued at once.
    return None if task.app.conf.task_always_eager else settings.MATCH_RUN_WINDOW


@shared_task(bind=True, acks_late=True, ignore_result=True)
def match_run_dispatch(self: Task, run_id: int) -> int:
    """Fan a run out into chunk tasks, a window at a time (see services.match_run_begin)."""
    chunk_ids = services.match_run_begin(run_id=run_id, window=_window(self))
    for chunk_id in chunk_ids:
        match_chunk.delay(run_id, chunk_id)
    return len(chunk_ids)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=CHUNK_RETRIES)
def match_chunk(self: Task, run_id: int, chunk_id: int) -> int:
    try:
        rows = chunk.match_chunk_process(chunk_id=chunk_id)
        window = _window(self)
        next_id = services.match_chunk_next(chunk_id=chunk_id, window=window) if window else None
    except (DatabaseError, InterfaceError) as exc:
        # A dropped connection or a deadlock: the chunk's transaction wrote nothing, so the
        # same chunk can simply run again on a fresh connection.
        close_old_connections()
        if self.request.retries < CHUNK_RETRIES:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        services.match_run_fail(run_id=run_id, reason=f"matching failed: {exc}")
        raise
    except Exception as exc:
        logger.exception("match chunk failed", extra={"run": run_id, "chunk": chunk_id})
        services.match_run_fail(run_id=run_id, reason=f"matching failed: {exc}")
        raise
    if next_id is not None:
        match_chunk.delay(run_id, next_id)
    return rows


@shared_task(ignore_result=True)
def match_run_statistics(run_id: int) -> None:
    """Statistics that cover a run that has ended (queued when it is cancelled)."""
    services.match_run_statistics_refresh(run_id=run_id)


@shared_task(ignore_result=True)
def match_runs_watchdog() -> dict[str, int]:
    """Periodic (celery beat): re-queue the unfinished work of runs whose tasks were lost."""
    report = watchdog.match_runs_check()
    for run_id in report.redispatch:
        match_run_dispatch.delay(run_id)
    for run_id, chunk_ids in report.requeue.items():
        for chunk_id in chunk_ids:
            match_chunk.delay(run_id, chunk_id)
    return {
        "redispatched": len(report.redispatch),
        "requeued": sum(len(v) for v in report.requeue.values()),
        "failed": len(report.failed),
        "prepared": len(report.prepared),
    }
