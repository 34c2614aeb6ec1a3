"""REST API for catalogs: upload a file (multipart), check and confirm its column mapping, list,
read and delete stored catalogs.

The same two steps as the pages: the upload is stored and checked as a pending upload whose
guessed mapping and preview come back at once; confirming it (as guessed, or with another sheet
or mapping) stores the catalog and starts its match run.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import DELETE, READ, UPLOAD
from config.api import (
    PayloadTooLarge,
    StandardPagination,
    error_responses,
    organization_id_of,
    require_role,
)
from matcher.apis import RunSerializer, datasets_from_slugs
from matcher.models import MatchRun
from matcher.reports import selectors as matcher_selectors
from uploads import selectors
from uploads.columns import FIELDS
from uploads.models import Catalog, PendingUpload
from uploads.parsing import column_letter
from uploads.services import (
    UploadError,
    catalog_delete,
    pending_upload_confirm,
    pending_upload_create,
    pending_upload_discard,
    too_large_message,
)

# Room for the multipart boundaries and the other form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
REQUIRED_FIELDS = ("artist", "title")
MAPPING_HELP = (
    "Field -> column index (0 = column A) in the sheet's header row. Fields: "
    + ", ".join(FIELDS)
    + "; artist and title are required."
)


# --- catalogs ---------------------------------------------------------------------------------


class CatalogSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The file name as uploaded")
    status = serializers.ChoiceField(
        choices=Catalog.Status.choices,
        help_text="storing: rows are being stored; ready; failed: see error",
    )
    error = serializers.CharField()
    file_format = serializers.CharField()
    file_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    sheet_name = serializers.CharField()
    header_row = serializers.IntegerField()
    headers = serializers.ListField(child=serializers.CharField(allow_blank=True))
    mapping = serializers.DictField(child=serializers.IntegerField(), help_text=MAPPING_HELP)
    encoding = serializers.CharField()
    row_count = serializers.IntegerField()
    invalid_count = serializers.IntegerField()
    duplicate_count = serializers.IntegerField()
    mojibake_repaired = serializers.IntegerField()
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    created_at = serializers.DateTimeField()


class RunRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MatchRun.Status.choices)
    percent = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CatalogDetailSerializer(CatalogSerializer):
    runs = RunRefSerializer(many=True, help_text="The catalog's runs, newest first")


def _catalogs(request: Request) -> QuerySet[Catalog]:
    organization_id = organization_id_of(request)
    if organization_id is None:
        return Catalog.objects.none()
    return matcher_selectors.catalogs_for_organization(organization_id).select_related(
        "uploaded_by"
    )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="An .xlsx, .xls, .ods or .csv file with a header row (artist and title at least)"
    )


class SheetSerializer(serializers.Serializer):
    name = serializers.CharField()
    header_row = serializers.IntegerField(help_text="The row (1-based) holding the headers")
    headers = serializers.ListField(child=serializers.CharField(allow_blank=True))
    guessed_mapping = serializers.DictField(child=serializers.IntegerField())


class PreviewColumnSerializer(serializers.Serializer):
    letter = serializers.CharField()
    header = serializers.CharField()
    field = serializers.CharField(help_text="The field mapped to this column, or empty")


class PreviewRowSerializer(serializers.Serializer):
    row_number = serializers.IntegerField()
    cells = serializers.ListField(
        child=serializers.CharField(allow_blank=True), help_text="Aligned with the columns"
    )
    problems = serializers.ListField(child=serializers.CharField())


class PreviewSerializer(serializers.Serializer):
    columns = PreviewColumnSerializer(many=True)
    rows = PreviewRowSerializer(many=True)
    error = serializers.CharField(help_text="Why the sheet cannot be read this way, or empty")


class PendingUploadSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    file_format = serializers.CharField()
    file_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    row_count = serializers.IntegerField(help_text="Rows under the header of the default sheet")
    created_at = serializers.DateTimeField()
    sheets = SheetSerializer(many=True)
    default_sheet = serializers.CharField()
    sheet = serializers.CharField(help_text="The sheet the mapping and preview are for")
    mapping = serializers.DictField(child=serializers.IntegerField(), help_text=MAPPING_HELP)
    remembered = serializers.BooleanField(
        help_text="The mapping is the organization's last confirmed one (not a guess)"
    )
    preview = PreviewSerializer()
    mapping_url = serializers.CharField(help_text="Where to read and confirm the mapping")


def _pending_payload(pending: PendingUpload, sheet_name: str | None = None) -> dict[str, Any]:
    sheets = selectors.pending_sheets(pending)
    by_name = {sheet.name: sheet for sheet in sheets}
    if sheet_name is not None and sheet_name not in by_name:
        raise serializers.ValidationError({"sheet": [_unknown_sheet(sheet_name, sheets)]})
    sheet = by_name.get(sheet_name or pending.default_sheet) or sheets[0]
    saved = selectors.saved_mapping_for(pending.organization_id)
    mapping, remembered = selectors.offered_mapping(saved=saved, sheet=sheet)
    preview = selectors.upload_preview(pending=pending, sheet=sheet, mapping=mapping)
    return {
        "id": pending.pk,
        "name": pending.name,
        "file_format": pending.file_format,
        "file_bytes": pending.file_bytes,
        "sha256": pending.sha256,
        "row_count": pending.row_count,
        "created_at": pending.created_at,
        "sheets": [asdict(s) for s in sheets],
        "default_sheet": pending.default_sheet,
        "sheet": sheet.name,
        "mapping": mapping,
        "remembered": remembered,
        "preview": {
            "columns": [
                {"letter": letter, "header": header, "field": field}
                for letter, header, field in preview.headers
            ],
            "rows": [asdict(row) for row in preview.rows],
            "error": preview.error,
        },
        "mapping_url": reverse("api-upload-mapping", args=[pending.pk]),
    }


def _unknown_sheet(name: str, sheets: list[Any]) -> str:
    names = ", ".join(f'"{s.name}"' for s in sheets)
    return f'The file has no sheet "{name[:100]}" with a header row; its sheets are: {names}.'


def _declared_too_large(request: Request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.CATALOG_MAX_BYTES + MULTIPART_OVERHEAD


class CatalogListApi(APIView):
    """GET lists the organization's catalogs; POST uploads a catalog file (multipart)."""

    pagination_class = StandardPagination
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    def get_throttles(self) -> list[BaseThrottle]:
        # Only uploads are throttled (THROTTLE_UPLOADS): reading the list is not.
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST" and _declared_too_large(request):
            # Refused before anything reads the body (the session's CSRF check would parse it,
            # spooling the whole file to disk first).
            raise PayloadTooLarge(too_large_message())
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalogs_list",
        responses={200: CatalogSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_catalogs(request), request, view=self)
        return paginator.get_paginated_response(CatalogSerializer(page, many=True).data)

    @extend_schema(
        operation_id="catalogs_upload",
        summary="Upload a catalog file: returns the guessed column mapping and a preview",
        description="The file is checked at once (sheets, header row, row cap, damaged "
        "content); nothing is matched until the mapping is confirmed at `mapping_url`. "
        f"At most CATALOG_MAX_BYTES ({settings.CATALOG_MAX_BYTES:,} bytes by default) and "
        "CATALOG_MAX_ROWS rows; throttled per user (THROTTLE_UPLOADS).",
        request={"multipart/form-data": UploadSerializer},
        responses={201: PendingUploadSerializer, **error_responses(400, 403, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        membership = require_role(request, UPLOAD)
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            pending = pending_upload_create(
                organization=membership.organization,
                stream=upload,
                filename=upload.name,
                uploaded_by=request.user,
            )
        except UploadError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from exc
        payload = _pending_payload(pending)
        return Response(
            PendingUploadSerializer(payload).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": payload["mapping_url"]},
        )


class CatalogDetailApi(APIView):
    @extend_schema(
        operation_id="catalogs_retrieve",
        responses={200: CatalogDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        catalog = get_object_or_404(_catalogs(request), pk=pk)
        require_role(request, READ)
        return Response(CatalogDetailSerializer(catalog).data)

    @extend_schema(
        operation_id="catalogs_destroy",
        summary="Delete a catalog with its runs, matches and verdicts (owners)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        catalog = get_object_or_404(_catalogs(request), pk=pk)
        require_role(request, DELETE)
        catalog_delete(catalog=catalog)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the pending upload and its mapping -------------------------------------------------------


def _pending_for(request: Request, pk: uuid.UUID) -> PendingUpload:
    organization_id = organization_id_of(request)
    pending = get_object_or_404(
        selectors.pending_uploads_for_organization(organization_id)
        if organization_id is not None
        else PendingUpload.objects.none(),
        pk=pk,
    )
    require_role(request, UPLOAD)
    return pending


class PendingUploadApi(APIView):
    @extend_schema(
        operation_id="uploads_retrieve",
        summary="A pending upload with its offered mapping and preview",
        responses={200: PendingUploadSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        pending = _pending_for(request, pk)
        return Response(PendingUploadSerializer(_pending_payload(pending)).data)

    @extend_schema(
        operation_id="uploads_discard",
        summary="Discard a pending upload (its file is deleted; nothing was stored)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        pending = _pending_for(request, pk)
        pending_upload_discard(pending=pending)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MappingQuerySerializer(serializers.Serializer):
    sheet = serializers.CharField(
        required=False, max_length=255, help_text="A sheet name (default: the detected one)"
    )


class MappingInputSerializer(serializers.Serializer):
    sheet = serializers.CharField(
        required=False, max_length=255, help_text="A sheet name (default: the detected one)"
    )
    mapping = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=16383),
        required=False,
        help_text=MAPPING_HELP + " Leave out to confirm the offered mapping.",
    )
    datasets = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        required=False,
        allow_empty=False,
        max_length=50,
        help_text="Dataset slugs to match against; leave out for every imported dataset",
    )


class ConfirmedSerializer(serializers.Serializer):
    catalog = CatalogSerializer()
    run = RunSerializer()


def _check_mapping(mapping: dict[str, int], headers: tuple[str, ...]) -> dict[str, list[str]]:
    """Per field (as "mapping.<field>"), what is wrong with the chosen column."""
    errors: dict[str, list[str]] = {}
    taken: dict[int, str] = {}
    for name, index in mapping.items():
        where = f"mapping.{name}"
        if name not in FIELDS:
            errors[where] = [f'"{name[:50]}" is not a field; the fields are {", ".join(FIELDS)}.']
        elif index >= len(headers):
            last = column_letter(len(headers) - 1) if headers else "-"
            errors[where] = [
                f"Column {index} ({column_letter(index)}) is beyond the last column of the "
                f"sheet ({last}); columns count from 0 (A)."
            ]
        elif index in taken:
            errors[where] = [
                f'Column {column_letter(index)} ("{headers[index]}") is already chosen for the '
                f"{taken[index]}; each column can hold one field."
            ]
        else:
            taken[index] = name
    for name in REQUIRED_FIELDS:
        if name not in mapping:
            errors[f"mapping.{name}"] = [
                f"Choose the column that holds the {name}; every row needs one."
            ]
    return errors


class UploadMappingApi(APIView):
    @extend_schema(
        operation_id="uploads_mapping_retrieve",
        summary="The mapping offered for a sheet of a pending upload, with its preview",
        parameters=[MappingQuerySerializer],
        responses={200: PendingUploadSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        pending = _pending_for(request, pk)
        query = MappingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payload = _pending_payload(pending, query.validated_data.get("sheet"))
        return Response(PendingUploadSerializer(payload).data)

    @extend_schema(
        operation_id="uploads_mapping_confirm",
        summary="Confirm the mapping (as offered, or another sheet or mapping): store the "
        "catalog and start matching",
        request=MappingInputSerializer,
        responses={201: ConfirmedSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        pending = _pending_for(request, pk)
        serializer = MappingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sheets = selectors.pending_sheets(pending)
        by_name = {sheet.name: sheet for sheet in sheets}
        sheet_name = data.get("sheet", pending.default_sheet)
        sheet = by_name.get(sheet_name)
        if sheet is None:
            raise serializers.ValidationError({"sheet": [_unknown_sheet(sheet_name, sheets)]})
        mapping = data.get("mapping")
        if mapping is None:
            saved = selectors.saved_mapping_for(pending.organization_id)
            mapping, _remembered = selectors.offered_mapping(saved=saved, sheet=sheet)
        errors = _check_mapping(mapping, sheet.headers)
        if errors:
            raise serializers.ValidationError(errors)
        try:
            run = pending_upload_confirm(
                pending=pending,
                sheet=sheet.name,
                mapping=mapping,
                datasets=datasets_from_slugs(data.get("datasets")),
                confirmed_by=request.user,
            )
        except UploadError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        run = matcher_selectors.runs_for_organization(pending.organization_id).get(pk=run.pk)
        return Response(
            ConfirmedSerializer({"catalog": run.catalog, "run": run}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-run-detail", args=[run.pk])},
        )
