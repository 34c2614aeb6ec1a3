"""Reads for the upload flow: catalogs and pending uploads scoped to an actor, the mapping to
offer for a sheet, and the preview of a sheet's first rows under a mapping."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.scoping import Actor, scoped
from uploads.columns import mapping_from_headers
from uploads.models import Catalog, PendingUpload, SavedMapping
from uploads.parsing import CatalogFileError, Limits, column_letter, open_catalog

PREVIEW_ROWS = 10


def upload_limits() -> Limits:
    return Limits(max_bytes=settings.CATALOG_MAX_BYTES, max_rows=settings.CATALOG_MAX_ROWS)


def stored_file_path(stored_file: str) -> Path:
    """Where an uploaded file lives: a random name under MEDIA_ROOT/catalogs, outside web root."""
    return Path(settings.MEDIA_ROOT) / "catalogs" / stored_file


def catalogs_for(actor: Actor) -> QuerySet[Catalog]:
    """The catalogs the actor reaches (any other one is a 404)."""
    return scoped(Catalog.objects.select_related("uploaded_by"), actor)


def pending_uploads_for(actor: Actor) -> QuerySet[PendingUpload]:
    """The pending uploads the actor reaches (any other one is a 404)."""
    return scoped(PendingUpload.objects.select_related("organization"), actor)


def catalog_confirmed_from(actor: Actor, upload_id: uuid.UUID) -> Catalog | None:
    """The catalog the actor reaches that was confirmed from this pending upload, if any (its
    mapping page's address then leads to it)."""
    return catalogs_for(actor).filter(upload_id=upload_id).first()


def catalogs_with_same_file(pending: PendingUpload) -> list[Catalog]:
    """The organization's catalogs uploaded from byte-identical files (same SHA-256), newest
    first: a re-upload is pointed out before it is confirmed."""
    return list(
        Catalog.objects.filter(organization_id=pending.organization_id, sha256=pending.sha256)
        .select_related("uploaded_by")
        .order_by("-created_at")[:5]
    )


def saved_mapping_for(organization_id: int) -> SavedMapping | None:
    return SavedMapping.objects.filter(organization_id=organization_id).first()


@dataclass(frozen=True)
class SheetChoice:
    """One sheet of a pending upload, as detected when it was uploaded."""

    name: str
    header_row: int
    headers: tuple[str, ...]
    guessed_mapping: dict[str, int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SheetChoice:
        return cls(
            name=data["name"],
            header_row=int(data["header_row"]),
            headers=tuple(data["headers"]),
            guessed_mapping={k: int(v) for k, v in data["guessed_mapping"].items()},
        )

    @property
    def complete(self) -> bool:
        return {"artist", "title"} <= self.guessed_mapping.keys()


def pending_sheets(pending: PendingUpload) -> list[SheetChoice]:
    """The sheets a user may pick: those with a header row (empty sheets are left out)."""
    sheets = [SheetChoice.from_json(item) for item in pending.sheets]
    return [sheet for sheet in sheets if sheet.header_row]


def offered_mapping(
    *, saved: SavedMapping | None, sheet: SheetChoice
) -> tuple[dict[str, int], bool]:
    """The mapping to preselect for a sheet and whether it is the organization's last confirmed
    one (offered when every header it names is in this sheet) rather than the guess."""
    if saved is not None and saved.columns:
        remembered = mapping_from_headers(saved.columns, sheet.headers)
        if remembered is not None and {"artist", "title"} <= remembered.keys():
            return remembered, True
    return dict(sheet.guessed_mapping), False


@dataclass
class PreviewRow:
    row_number: int
    cells: list[str]  # aligned with the header row
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Preview:
    headers: list[tuple[str, str, str]]  # (column letter, header, field mapped to it or "")
    rows: list[PreviewRow]
    error: str = ""


def upload_preview(
    *,
    pending: PendingUpload,
    sheet: SheetChoice,
    mapping: dict[str, int],
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """The first data rows of the sheet as the parser reads them under the mapping, with each
    row's problems and warnings; a mapping without artist or title is previewed too (every row
    then says so)."""
    fields_by_index = {index: name for name, index in mapping.items()}
    headers = [
        (column_letter(i), header, fields_by_index.get(i, ""))
        for i, header in enumerate(sheet.headers)
    ]
    path = stored_file_path(pending.stored_file)
    rows: list[PreviewRow] = []
    try:
        with open_catalog(
            path,
            filename=pending.name,
            sheet=sheet.name,
            mapping=mapping,
            limits=upload_limits(),
            partial_mapping=True,
        ) as parsed:
            for row in parsed.rows():
                rows.append(
                    PreviewRow(
                        row_number=row.row_number,
                        cells=[row.cells.get(header, "") for header in sheet.headers],
                        problems=[f"{p.column}: {p.message}" for p in row.problems],
                        warnings=[f"{w.column}: {w.message}" for w in row.warnings],
                    )
                )
                if len(rows) >= limit:
                    break
    except CatalogFileError as exc:
        return Preview(headers, rows, str(exc))
    return Preview(headers, rows)
