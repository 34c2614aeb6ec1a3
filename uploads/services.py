"""Storing uploaded catalogs. The web flow is two steps: pending_upload_create stores the file and
checks it; pending_upload_confirm checks the chosen sheet and mapping and creates the catalog
("storing"), and a task (catalog_rows_store) stores the rows. catalog_create does it all at once
with the automatic mapping (the CLI). What follows a confirmation, its rows settling and a
deletion (matching) is up to the receivers of uploads.signals.

A file that cannot be read leaves nothing behind (no catalog, no rows, no file) and raises
UploadError with a message for the person who uploaded it. Rows are stored all or nothing: a
catalog is "ready" with every row, or "failed" with none and the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Window
from django.utils import timezone

from accounts.models import Organization
from config.celery import enqueue
from config.db import statistics_refresh
from matcher.engine.identifiers import spotify_track_id, youtube_video_id
from matcher.engine.normalize import fold
from uploads.columns import mapping_headers
from uploads.models import Catalog, CatalogRow, PendingUpload, SavedMapping
from uploads.parsing import (
    Catalog as ParsedCatalog,
)
from uploads.parsing import (
    CatalogFileError,
    ParsedRow,
    SheetInfo,
    list_sheets,
    open_catalog,
)
from uploads.selectors import (
    SheetChoice,
    offered_mapping,
    saved_mapping_for,
    stored_file_path,
    upload_limits,
)
from uploads.signals import (
    CatalogRefused,
    catalog_confirmed,
    catalog_deleting,
    catalog_rows_settled,
)

logger = logging.getLogger(__name__)

STORE_TASK = "uploads.tasks.catalog_store_rows"  # queued by name: see config.celery.enqueue

INSERT_BATCH = 2000
COPY_CHUNK = 1 << 20
# Room for the multipart boundaries and the other form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class UploadError(Exception):
    """The upload was refused; str() says what is wrong and what to do."""


__all__ = [
    "UploadError",
    "catalog_create",
    "catalog_rows_store",
    "catalog_store_fail",
    "catalogs_storing_check",
    "declared_too_large",
    "pending_upload_confirm",
    "pending_upload_create",
    "pending_upload_discard",
    "pending_uploads_purge",
    "size_text",
    "too_large_message",
    "upload_limits",
]


def catalog_storage_dir() -> Path:
    path = stored_file_path("x").parent
    path.mkdir(parents=True, exist_ok=True)
    return path


def size_text(size: int) -> str:
    """A byte count as a label manager reads it: "100 MB", "512 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(size / 1024, 1):.3g} KB"


def declared_too_large(meta: Mapping[str, Any]) -> bool:
    """Whether a request's declared length (its META's CONTENT_LENGTH) is over the upload cap,
    with room for the multipart boundaries and the other fields: checked before anything reads
    the body, which Django's upload handlers would otherwise spool to disk first."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.CATALOG_MAX_BYTES + MULTIPART_OVERHEAD


def too_large_message(filename: str | None = None) -> str:
    what = f'"{filename}"' if filename else "The file"
    return (
        f"{what} is larger than {size_text(settings.CATALOG_MAX_BYTES)}, the most one upload may "
        "be. Split the catalog into smaller files and upload them one by one."
    )


def _store_file(stream: IO[bytes], filename: str) -> tuple[Path, int, str]:
    """Copy the upload to a random name (no user input in the path), enforcing the size cap."""
    target = catalog_storage_dir() / f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    size = 0
    cap = settings.CATALOG_MAX_BYTES
    try:
        with target.open("wb") as out:
            while chunk := stream.read(COPY_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise UploadError(too_large_message(filename))
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise UploadError(f'"{filename}" is empty. Choose the catalog file again and upload it.')
    return target, size, digest.hexdigest()


def _display_name(filename: str) -> str:
    return Path(filename or "catalog").name[:255] or "catalog"


def catalog_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    filename: str,
    uploaded_by: Any = None,
    sheet: str | None = None,
    mapping: dict[str, int] | None = None,
) -> Catalog:
    """Store the file and all its rows; each row is kept with its number and raw cells."""
    display_name = _display_name(filename)
    path, size, sha256 = _store_file(stream, display_name)
    try:
        return _catalog_from_file(
            path=path,
            organization=organization,
            uploaded_by=uploaded_by,
            name=display_name,
            size=size,
            sha256=sha256,
            sheet=sheet,
            mapping=mapping,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _catalog_from_file(
    *,
    path: Path,
    organization: Organization,
    uploaded_by: Any,
    name: str,
    size: int,
    sha256: str,
    sheet: str | None,
    mapping: dict[str, int] | None,
) -> Catalog:
    """Store the rows of an already stored file as a Catalog, all or nothing, in this process
    (the CLI); the caller owns the file (it is not removed here on failure)."""
    try:
        with (
            open_catalog(
                path, filename=name, sheet=sheet, mapping=mapping, limits=upload_limits()
            ) as parsed,
            transaction.atomic(),
        ):
            catalog = Catalog.objects.create(
                organization=organization,
                uploaded_by=uploaded_by,
                name=name,
                stored_file=path.name,
                file_bytes=size,
                sha256=sha256,
                **_parsed_details(parsed),
            )
            _store_rows(catalog, parsed)
    except CatalogFileError as exc:
        raise UploadError(str(exc)) from exc
    logger.info(
        "catalog stored",
        extra={"catalog": catalog.pk, "org": organization.slug, "rows": catalog.row_count},
    )
    return catalog


def _parsed_details(parsed: ParsedCatalog) -> dict[str, Any]:
    """The Catalog fields that say how the file is read (format, sheet, header, mapping)."""
    return {
        "file_format": parsed.format,
        "sheet_name": parsed.sheet.name if parsed.format != "csv" else "",
        "header_row": parsed.sheet.header_row,
        "headers": list(parsed.sheet.headers),
        "mapping": dict(parsed.mapping),
        "encoding": parsed.encoding or "",
    }


def _store_rows(catalog: Catalog, parsed: ParsedCatalog) -> None:
    """Insert every row and the counts, and mark the catalog ready; the caller's transaction
    makes it all or nothing."""
    total = invalid = warned = 0
    for batch in _batches(parsed.rows(), catalog):
        CatalogRow.objects.bulk_create(batch)
        total += len(batch)
        invalid += sum(1 for r in batch if r.status == CatalogRow.Status.INVALID)
        warned += sum(1 for r in batch if r.warnings)
    if total == 0:
        raise CatalogFileError(
            f'"{catalog.name}" has a header row but no rows under it. Add the '
            "recordings and upload it again."
        )
    # What follows (planning the run's chunks, matching, the report) reads these rows; planned
    # from statistics that predate them, such reads can go row by row. After the commit, so
    # that the sample holds committed rows and no lock is kept while the transaction lasts.
    transaction.on_commit(partial(statistics_refresh, CatalogRow), robust=True)
    catalog.row_count = total
    catalog.invalid_count = invalid
    catalog.warning_count = warned
    catalog.mojibake_repaired = parsed.repaired_mojibake
    catalog.duplicate_count = _flag_duplicates(catalog)
    catalog.status = Catalog.Status.READY
    catalog.error = ""
    catalog.save()


# --- storing a confirmed upload's rows (uploads.tasks.catalog_store_rows) ------------------------


def catalog_rows_store(*, catalog_id: int) -> str:
    """Store the rows of a catalog created by pending_upload_confirm and send
    catalog_rows_settled (matcher releases the run waiting for them); returns the catalog's
    status afterwards ("skipped" when there was nothing to do).

    Safe to run twice or at once: the catalog row is locked while its rows are stored (a second
    task finding it locked, or no longer "storing", does nothing), and all rows are inserted in
    one transaction, so a task killed half-way leaves no row behind and can simply run again.
    A file that cannot be read marks the catalog failed with the reason, with no rows.
    """
    with transaction.atomic():
        catalog = (
            Catalog.objects.select_for_update(skip_locked=True)
            .filter(pk=catalog_id, status=Catalog.Status.STORING)
            .first()
        )
        if catalog is None:
            return "skipped"  # stored or failed already, or being stored by another task
        path = stored_file_path(catalog.stored_file)
        try:
            with transaction.atomic():
                # Rows of an earlier attempt cannot have been committed (one transaction); this
                # only guards against rows written some other way.
                CatalogRow.objects.filter(catalog=catalog).delete()
                if not path.is_file():
                    raise CatalogFileError(
                        f'The stored copy of "{catalog.name}" is gone. Upload the file again.'
                    )
                with open_catalog(
                    path,
                    filename=catalog.name,
                    sheet=catalog.sheet_name or None,
                    mapping=catalog.mapping,
                    limits=upload_limits(),
                ) as parsed:
                    _store_rows(catalog, parsed)
        except CatalogFileError as exc:
            _fail(catalog, str(exc))
        catalog_rows_settled.send(sender=Catalog, catalog=catalog)
    logger.info(
        "catalog rows stored" if catalog.is_ready else "catalog rows not stored",
        extra={"catalog": catalog.pk, "rows": catalog.row_count, "status": catalog.status},
    )
    return catalog.status


def catalog_store_fail(*, catalog_id: int, reason: str) -> bool:
    """Mark a catalog whose rows are still being stored as failed (no rows kept) and send
    catalog_rows_settled (matcher fails the runs waiting for it); False when it is not storing
    (stored, or failed already)."""
    with transaction.atomic():
        catalog = (
            Catalog.objects.select_for_update()
            .filter(pk=catalog_id, status=Catalog.Status.STORING)
            .first()
        )
        if catalog is None:
            return False
        CatalogRow.objects.filter(catalog=catalog).delete()
        _fail(catalog, reason)
        catalog_rows_settled.send(sender=Catalog, catalog=catalog)
    return True


def _fail(catalog: Catalog, reason: str) -> None:
    catalog.status = Catalog.Status.FAILED
    catalog.error = reason[:2000]
    catalog.row_count = catalog.invalid_count = catalog.warning_count = 0
    catalog.duplicate_count = 0
    catalog.save()
    # The file is of no further use; it goes once the failure is committed.
    path = stored_file_path(catalog.stored_file)
    transaction.on_commit(partial(path.unlink, missing_ok=True))


@dataclass
class StoringCheck:
    requeue: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def catalogs_storing_check(
    *, stall: dt.timedelta | None = None, give_up: dt.timedelta | None = None
) -> StoringCheck:
    """Catalogs still "storing" after `stall` whose task is not running (their row is not
    locked): their task was lost (a broker that lost its data), so they are queued again; after
    `give_up` they are failed with a reason. Periodic (celery beat)."""
    stall = stall or dt.timedelta(seconds=settings.MATCH_STALL_SECONDS)
    give_up = give_up or dt.timedelta(seconds=settings.MATCH_GIVE_UP_SECONDS)
    now = timezone.now()
    check = StoringCheck()
    with transaction.atomic():
        stale = Catalog.objects.select_for_update(skip_locked=True).filter(
            status=Catalog.Status.STORING, created_at__lt=now - stall
        )
        for catalog in stale.only("pk", "created_at"):
            if now - catalog.created_at >= give_up:
                check.failed.append(catalog.pk)
            else:
                check.requeue.append(catalog.pk)
    for catalog_id in check.failed:
        hours = give_up.total_seconds() / 3600
        catalog_store_fail(
            catalog_id=catalog_id,
            reason=(
                f"its rows were not stored within {hours:g} hours: no worker picked up the "
                "work. Upload the file again, and contact support if it happens again."
            ),
        )
    if check.requeue or check.failed:
        logger.warning(
            "catalog storing check acted",
            extra={"requeue": check.requeue, "failed": check.failed},
        )
    return check


# --- the two-step web flow ---------------------------------------------------------------------


def pending_upload_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    filename: str,
    uploaded_by: Any = None,
) -> PendingUpload:
    """Store the file and read it through once (sheets, header, row cap, damaged content), so
    that a file which cannot become a catalog is refused now, with nothing kept."""
    display_name = _display_name(filename)
    path, size, sha256 = _store_file(stream, display_name)
    try:
        sheets = list_sheets(path, filename=display_name, limits=upload_limits())
        default, file_format, row_count = _check_readable(
            path, display_name, sheets, saved_mapping_for(organization.pk)
        )
        pending = PendingUpload.objects.create(
            organization=organization,
            uploaded_by=uploaded_by,
            name=display_name,
            stored_file=path.name,
            file_format=file_format,
            file_bytes=size,
            sha256=sha256,
            sheets=[asdict(sheet) for sheet in sheets],
            default_sheet=default,
            row_count=row_count,
        )
    except CatalogFileError as exc:
        path.unlink(missing_ok=True)
        raise UploadError(str(exc)) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.info(
        "catalog upload pending",
        extra={"pending": str(pending.pk), "org": organization.slug, "rows": row_count},
    )
    return pending


def _check_readable(
    path: Path, name: str, sheets: list[SheetInfo], saved: SavedMapping | None
) -> tuple[str, str, int]:
    """The default sheet (the first whose header maps artist and title, by the organization's
    remembered mapping or by the guess, and that has rows), the file format and its row count."""
    usable: list[tuple[SheetInfo, dict[str, int]]] = []
    for info in sheets:
        if not info.header_row:
            continue
        mapping, _remembered = offered_mapping(
            saved=saved, sheet=SheetChoice.from_json(asdict(info))
        )
        if {"artist", "title"} <= mapping.keys():
            usable.append((info, mapping))
    if not usable:
        raise CatalogFileError(_no_header_message(name, sheets))
    first_error: CatalogFileError | None = None
    for info, mapping in usable:
        try:
            parsed = open_catalog(
                path, filename=name, sheet=info.name, mapping=mapping, limits=upload_limits()
            )
        except CatalogFileError as exc:  # an empty or header-only sheet: try the next one
            first_error = first_error or exc
            continue
        with parsed:
            # Reading every row now enforces the row cap and finds damaged content before the
            # user spends time on the mapping; the rows themselves are stored on confirmation.
            count = sum(1 for _row in parsed.rows())
        return info.name, parsed.format, count
    assert first_error is not None
    raise first_error


def _no_header_message(name: str, sheets: list[SheetInfo]) -> str:
    filled = [info for info in sheets if info.header_row]
    if not filled:
        return (
            f'"{name}" is empty. Export the catalog again with a header row (Artist, Title...) '
            "and one row per recording."
        )
    info = filled[0]
    missing = [f for f in ("artist", "title") if f not in info.guessed_mapping]
    lacks = " and ".join(f'"{f}"' for f in missing) or '"artist" and "title"'
    columns = ", ".join(info.headers[:20]) + (", ..." if len(info.headers) > 20 else "")
    if len(sheets) == 1:
        found = f'"{name}" has no column for {lacks} (the header row found, row {info.header_row}'
    else:
        found = (
            f'No sheet of "{name}" has a column for {lacks} (the header row found on sheet '
            f'"{info.name}", row {info.header_row}'
        )
    return (
        f'{found}, reads: {columns}). Name the columns "Artist" and "Title" (or "Track '
        'Artist", "Track Title"...) and upload it again.'
    )


def pending_upload_confirm(
    *,
    pending: PendingUpload,
    sheet: str,
    mapping: dict[str, int],
    confirmed_by: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Catalog:
    """Check the confirmed sheet and mapping, create the catalog (its rows are stored by the task
    uploads.tasks.catalog_store_rows, queued on commit), send catalog_confirmed (matcher creates
    the match run that waits for the rows; `options` go to the receivers as they are) and
    remember the mapping for the organization. An error here (bad mapping, a receiver's refusal)
    changes nothing and keeps the pending upload; an error found while the rows are stored marks
    the catalog failed, with the reason.

    With tasks run in-process (eager: tests, the embedded default) the rows are stored when the
    transaction commits, so the returned catalog is already ready when this returns.
    """
    path = stored_file_path(pending.stored_file)
    if not path.is_file():
        raise UploadError(
            f'The stored copy of "{pending.name}" is gone (uploads not confirmed within a day '
            "are removed). Upload the file again."
        )
    try:
        # Opening checks the sheet and the mapping and reads the header, not the rows.
        with open_catalog(
            path, filename=pending.name, sheet=sheet, mapping=mapping, limits=upload_limits()
        ) as parsed:
            details = _parsed_details(parsed)
    except CatalogFileError as exc:
        raise UploadError(str(exc)) from exc
    with transaction.atomic():
        catalog = Catalog.objects.create(
            organization=pending.organization,
            uploaded_by=pending.uploaded_by,
            name=pending.name,
            stored_file=pending.stored_file,
            file_bytes=pending.file_bytes,
            sha256=pending.sha256,
            upload_id=pending.pk,
            status=Catalog.Status.STORING,
            **details,
        )
        try:
            catalog_confirmed.send(
                sender=Catalog,
                catalog=catalog,
                confirmed_by=confirmed_by,
                options=dict(options or {}),
            )
        except CatalogRefused as exc:
            raise UploadError(str(exc)) from exc
        SavedMapping.objects.update_or_create(
            organization=pending.organization,
            defaults={
                "columns": mapping_headers(catalog.mapping, catalog.headers),
                "source_name": pending.name,
                "updated_by": confirmed_by,
            },
        )
        # The file now belongs to the catalog: delete the row only, not the file.
        pending.delete()
        # robust: the catalog is committed either way; if the broker cannot take the task now,
        # catalogs_storing_check queues it again later.
        transaction.on_commit(partial(enqueue, STORE_TASK, catalog.pk), robust=True)
    logger.info(
        "catalog upload confirmed",
        extra={"catalog": catalog.pk, "org": pending.organization.slug},
    )
    # Show what is committed now (in eager mode the rows are already stored).
    catalog.refresh_from_db()
    return catalog


def pending_upload_discard(*, pending: PendingUpload) -> None:
    path = stored_file_path(pending.stored_file)
    pending.delete()
    path.unlink(missing_ok=True)


def pending_uploads_purge(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Remove uploads never confirmed (their files too); returns how many."""
    stale = PendingUpload.objects.filter(created_at__lt=timezone.now() - older_than)
    removed = 0
    for pending in stale.iterator():
        pending_upload_discard(pending=pending)
        removed += 1
    return removed


def _batches(rows: Iterator[ParsedRow], catalog: Catalog) -> Iterator[list[CatalogRow]]:
    batch: list[CatalogRow] = []
    for parsed in rows:
        batch.append(_catalog_row(parsed, catalog))
        if len(batch) >= INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _catalog_row(parsed: ParsedRow, catalog: Catalog) -> CatalogRow:
    values = parsed.values
    problems = [{"column": p.column, "message": p.message} for p in parsed.problems]
    spotify = values.get("spotify", "")
    youtube = values.get("youtube", "")
    row = CatalogRow(
        catalog=catalog,
        row_number=parsed.row_number,
        cells=parsed.cells,
        artist=values.get("artist", ""),
        title=values.get("title", ""),
        version=values.get("version", ""),
        album=values.get("album", ""),
        label=values.get("label", ""),
        isrc=parsed.isrc or "",
        upc=values.get("upc", "")[:14],
        duration_s=parsed.duration_s,
        spotify_id=(spotify_track_id(spotify) or "") if spotify else "",
        youtube_id=(youtube_video_id(youtube) or "") if youtube else "",
        status=CatalogRow.Status.INVALID if problems else CatalogRow.Status.VALID,
        problems=problems,
        warnings=[{"column": w.column, "message": w.message} for w in parsed.warnings],
    )
    if not problems:
        key = "\x1f".join((fold(row.artist), fold(row.title), fold(row.version), row.isrc)).encode()
        row.dedup_key = hashlib.blake2b(key, digest_size=16).hexdigest()
    return row


def _flag_duplicates(catalog: Catalog) -> int:
    """Point each repeated row at its first occurrence; it is then matched once.

    One pass over the catalog's rows with a window function (the first id of each key), whose
    plan is a scan and a sort whatever the statistics say: the new rows are not in them yet
    while they are being stored, and a semi join on the repeated keys was planned as a nested
    loop over the catalog, once per row (quadratic; 10,000 rows took 38-56 s).
    """
    repeated = (
        CatalogRow.objects.filter(catalog=catalog)
        .exclude(dedup_key="")
        .annotate(first_id=Window(Min("id"), partition_by=[F("dedup_key")]))
        .filter(id__gt=F("first_id"))
        .order_by()
        .values_list("id", "first_id")
    )
    duplicates = [
        CatalogRow(pk=row_id, duplicate_of_id=first_id)
        for row_id, first_id in repeated.iterator(2000)
    ]
    CatalogRow.objects.bulk_update(duplicates, ["duplicate_of"], batch_size=1000)
    return len(duplicates)


def catalog_delete(*, catalog: Catalog) -> None:
    """Delete a catalog with its rows, then its stored file; catalog_deleting goes first (matcher
    cancels the runs still going, so their workers stop at their next chunk, and the runs,
    matches and verdicts go with the catalog; the verdict audit trail stays)."""
    path = stored_file_path(catalog.stored_file)
    with transaction.atomic():
        catalog_deleting.send(sender=Catalog, catalog=catalog)
        catalog_id, name = catalog.pk, catalog.name
        catalog.delete()
        transaction.on_commit(partial(path.unlink, missing_ok=True))
    logger.info("catalog deleted", extra={"catalog": catalog_id, "catalog_name": name})
