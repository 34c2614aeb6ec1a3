"""Matching's side of a catalog's life: the receivers of uploads.signals (connected in
matcher/apps.py) and confirming an upload for the pages and the API, which answer with its run.

uploads knows nothing of matcher: confirming an upload sends catalog_confirmed, on which the run
that waits for the rows is created; catalog_rows_settled releases it (or fails it with the
catalog); catalog_deleting cancels the runs still going.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matcher.models import Dataset, MatchRun
from matcher.runs.services import (
    MatchRunError,
    match_run_cancel,
    match_run_release,
    match_run_start,
)
from uploads.models import Catalog, PendingUpload
from uploads.services import pending_upload_confirm
from uploads.signals import CatalogRefused


def on_catalog_confirmed(
    *, catalog: Catalog, confirmed_by: Any = None, options: dict[str, Any], **_: Any
) -> None:
    """The run of a confirmed upload, waiting for its rows (`options["datasets"]`: the datasets
    chosen, None for every imported one). No dataset to match against refuses the upload."""
    try:
        match_run_start(
            catalog=catalog,
            datasets=options.get("datasets"),
            created_by=confirmed_by,
            after_storing=True,
        )
    except MatchRunError as exc:
        raise CatalogRefused(str(exc)) from exc


def on_catalog_rows_settled(*, catalog: Catalog, **_: Any) -> None:
    match_run_release(catalog=catalog)


def on_catalog_deleting(*, catalog: Catalog, **_: Any) -> None:
    for run in catalog.runs.filter(status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]):
        match_run_cancel(run=run, wait=True)  # the deletion waits for a chunk's lock anyway


def catalog_upload_confirm(
    *,
    pending: PendingUpload,
    sheet: str,
    mapping: dict[str, int],
    datasets: Sequence[Dataset] | None = None,
    confirmed_by: Any = None,
) -> MatchRun:
    """Confirm a pending upload (uploads.services.pending_upload_confirm) and return the match
    run created for it, with its catalog; raises UploadError as that does."""
    catalog = pending_upload_confirm(
        pending=pending,
        sheet=sheet,
        mapping=mapping,
        confirmed_by=confirmed_by,
        options={"datasets": datasets},
    )
    run = MatchRun.objects.get(catalog=catalog)
    run.catalog = catalog
    return run
