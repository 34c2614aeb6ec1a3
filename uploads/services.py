"""Storing an uploaded catalog: the file under a random name, then every row, in one transaction.

A file that cannot be read leaves nothing behind (no catalog, no rows, no file) and raises
UploadError with a message for the person who uploaded it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from accounts.models import Organization
from matcher.engine.identifiers import spotify_track_id, youtube_video_id
from matcher.engine.normalize import fold
from uploads.models import Catalog, CatalogRow
from uploads.parsing import CatalogFileError, Limits, ParsedRow, open_catalog

logger = logging.getLogger(__name__)

INSERT_BATCH = 2000
COPY_CHUNK = 1 << 20


class UploadError(Exception):
    """The upload was refused; str() says what is wrong and what to do."""


def upload_limits() -> Limits:
    return Limits(max_bytes=settings.CATALOG_MAX_BYTES, max_rows=settings.CATALOG_MAX_ROWS)


def catalog_storage_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "catalogs"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
                    raise UploadError(
                        f'"{filename}" is larger than {cap // (1024 * 1024)} MB, the most one '
                        "upload may be. Split the catalog into smaller files."
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise UploadError(f'"{filename}" is empty. Choose the catalog file again and upload it.')
    return target, size, digest.hexdigest()


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
    display_name = Path(filename or "catalog").name[:255] or "catalog"
    path, size, sha256 = _store_file(stream, display_name)
    try:
        with (
            open_catalog(
                path, filename=display_name, sheet=sheet, mapping=mapping, limits=upload_limits()
            ) as parsed,
            transaction.atomic(),
        ):
            catalog = Catalog.objects.create(
                organization=organization,
                uploaded_by=uploaded_by,
                name=display_name,
                stored_file=path.name,
                file_format=parsed.format,
                file_bytes=size,
                sha256=sha256,
                sheet_name=parsed.sheet.name if parsed.format != "csv" else "",
                header_row=parsed.sheet.header_row,
                headers=list(parsed.sheet.headers),
                mapping=dict(parsed.mapping),
                encoding=parsed.encoding or "",
            )
            total = invalid = 0
            for batch in _batches(parsed.rows(), catalog):
                CatalogRow.objects.bulk_create(batch)
                total += len(batch)
                invalid += sum(1 for r in batch if r.status == CatalogRow.Status.INVALID)
            if total == 0:
                raise CatalogFileError(
                    f'"{display_name}" has a header row but no rows under it. Add the '
                    "recordings and upload it again."
                )
            catalog.row_count = total
            catalog.invalid_count = invalid
            catalog.mojibake_repaired = parsed.repaired_mojibake
            catalog.duplicate_count = _flag_duplicates(catalog)
            catalog.save()
    except CatalogFileError as exc:
        path.unlink(missing_ok=True)
        raise UploadError(str(exc)) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.info(
        "catalog stored",
        extra={"catalog": catalog.pk, "org": organization.slug, "rows": catalog.row_count},
    )
    return catalog


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
    )
    if not problems:
        key = "\x1f".join((fold(row.artist), fold(row.title), fold(row.version), row.isrc)).encode()
        row.dedup_key = hashlib.blake2b(key, digest_size=16).hexdigest()
    return row


def _flag_duplicates(catalog: Catalog) -> int:
    """Point each repeated row at its first occurrence; it is then matched once."""
    first_ids: dict[str, int] = {}
    duplicates: list[CatalogRow] = []
    # Only keys seen more than once are loaded, so memory follows the duplicates, not the file.
    repeated = (
        CatalogRow.objects.filter(catalog=catalog)
        .exclude(dedup_key="")
        .values("dedup_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("dedup_key", flat=True)
    )
    rows = (
        CatalogRow.objects.filter(catalog=catalog, dedup_key__in=repeated)
        .order_by("id")
        .only("id", "dedup_key")
    )
    for row in rows.iterator(2000):
        first = first_ids.setdefault(row.dedup_key, row.pk)
        if first != row.pk:
            row.duplicate_of_id = first
            duplicates.append(row)
    CatalogRow.objects.bulk_update(duplicates, ["duplicate_of"], batch_size=1000)
    return len(duplicates)
