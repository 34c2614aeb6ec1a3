"""Celery tasks of the upload flow: thin wrappers that take ids, call one service, and are safe to
run twice."""

from __future__ import annotations

import datetime as dt
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError, close_old_connections

from uploads import services

logger = logging.getLogger(__name__)

STORE_RETRIES = 5
# A 2M-row workbook takes minutes to read and store on a busy machine: far more than the
# default limits made for match chunks. (Redis may redeliver the message of a task running
# longer than its visibility timeout: the copy finds the catalog locked and does nothing.)
STORE_SOFT_TIME_LIMIT = 3600
STORE_TIME_LIMIT = STORE_SOFT_TIME_LIMIT + 120


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=STORE_RETRIES,
    soft_time_limit=STORE_SOFT_TIME_LIMIT,
    time_limit=STORE_TIME_LIMIT,
)
def catalog_store_rows(self: Task, catalog_id: int) -> str:
    """Store the rows of a confirmed upload and start its waiting match run."""
    try:
        return services.catalog_rows_store(catalog_id=catalog_id)
    except (DatabaseError, InterfaceError) as exc:
        # A dropped connection or a deadlock: the transaction wrote nothing, so the same
        # catalog can simply be stored again on a fresh connection.
        close_old_connections()
        if self.request.retries < STORE_RETRIES:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        _fail(catalog_id, "the database could not be reached while its rows were stored")
        raise
    except SoftTimeLimitExceeded:
        minutes = STORE_SOFT_TIME_LIMIT // 60
        _fail(catalog_id, f"storing its rows took longer than {minutes} minutes")
        raise
    except Exception:
        logger.exception("catalog rows not stored", extra={"catalog": catalog_id})
        _fail(catalog_id, "an unexpected error stopped storing its rows")
        raise


def _fail(catalog_id: int, what: str) -> None:
    try:
        services.catalog_store_fail(
            catalog_id=catalog_id,
            reason=(
                f"{what}. Nothing was kept: upload the file again, and contact support if it "
                "happens again."
            ),
        )
    except Exception:  # the database may be the problem: catalogs_storing_check retries later
        logger.exception("catalog not marked failed", extra={"catalog": catalog_id})


@shared_task(ignore_result=True)
def catalogs_storing_watchdog() -> dict[str, int]:
    """Periodic (celery beat): queue again the catalogs whose storing task was lost."""
    check = services.catalogs_storing_check()
    for catalog_id in check.requeue:
        catalog_store_rows.delay(catalog_id)
    return {"requeued": len(check.requeue), "failed": len(check.failed)}


@shared_task(ignore_result=True)
def pending_uploads_purge(hours: float = 24.0) -> int:
    """Periodic (celery beat): remove uploads never confirmed, with their files (the same
    service as `manage.py purge_pending_uploads`)."""
    return services.pending_uploads_purge(older_than=dt.timedelta(hours=hours))
