"""REST API for catalogs: upload a file (multipart), read its offered column mapping, list
stored catalogs.

The same two steps as the pages: the upload is stored and checked as a pending upload whose
guessed mapping and preview come back at once; confirming it (as guessed, or with another sheet
or mapping) stores the catalog. Confirming, and reading or deleting one catalog, answer with
its runs: those endpoints are matcher's (matcher.apis), built on the pieces here.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.permissions import UPLOAD
from accounts.scoping import api_actor, require
from config.api import PayloadTooLarge, StandardPagination, error_responses
from config.throttling import UploadThrottle
from uploads import selectors
from uploads.columns import FIELDS, mapping_errors
from uploads.models import Catalog, PendingUpload
from uploads.selectors import SheetChoice
from uploads.services import (
    UploadError,
    declared_too_large,
    pending_upload_create,
    pending_upload_discard,
    too_large_message,
)

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
    warning_count = serializers.IntegerField(
        help_text="Valid rows matched with an identifier ignored (an ISRC that is not valid)"
    )
    duplicate_count = serializers.IntegerField()
    mojibake_repaired = serializers.IntegerField()
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    created_at = serializers.DateTimeField()


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
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="Why the row will be invalid (not matched)"
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What will be ignored on the row (a bad ISRC); the row is still matched",
    )


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


class CatalogListApi(APIView):
    """GET lists the organization's catalogs; POST uploads a catalog file (multipart)."""

    pagination_class = StandardPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_throttles(self) -> list[BaseThrottle]:
        # Only uploads are throttled (THROTTLE_UPLOADS): reading the list is not.
        return [UploadThrottle()] if self.request.method == "POST" else []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST" and declared_too_large(request.META):
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
        catalogs = selectors.catalogs_for(api_actor(request))
        page = paginator.paginate_queryset(catalogs, request, view=self)
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
        membership = require(api_actor(request), UPLOAD)
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


# --- the pending upload and its mapping -------------------------------------------------------


def pending_for(request: Request, pk: uuid.UUID) -> PendingUpload:
    """The pending upload if it is in the request's organization (404 otherwise) and the role
    may upload (403 otherwise)."""
    actor = api_actor(request)
    pending = get_object_or_404(selectors.pending_uploads_for(actor), pk=pk)
    require(actor, UPLOAD, organization_id=pending.organization_id)
    return pending


class PendingUploadApi(APIView):
    @extend_schema(
        operation_id="uploads_retrieve",
        summary="A pending upload with its offered mapping and preview",
        responses={200: PendingUploadSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        pending = pending_for(request, pk)
        return Response(PendingUploadSerializer(_pending_payload(pending)).data)

    @extend_schema(
        operation_id="uploads_discard",
        summary="Discard a pending upload (its file is deleted; nothing was stored)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        pending = pending_for(request, pk)
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


class UploadMappingApi(APIView):
    @extend_schema(
        operation_id="uploads_mapping_retrieve",
        summary="The mapping offered for a sheet of a pending upload, with its preview",
        parameters=[MappingQuerySerializer],
        responses={200: PendingUploadSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        pending = pending_for(request, pk)
        query = MappingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payload = _pending_payload(pending, query.validated_data.get("sheet"))
        return Response(PendingUploadSerializer(payload).data)

    def confirmation(
        self,
        request: Request,
        pending: PendingUpload,
        serializer_class: type[MappingInputSerializer] = MappingInputSerializer,
    ) -> tuple[SheetChoice, dict[str, int], dict[str, Any]]:
        """The sheet and mapping a confirmation asks for (the offered mapping when it names
        none), checked, and the validated input (400 with what is wrong otherwise)."""
        serializer = serializer_class(data=request.data)
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
        errors = mapping_errors(mapping, sheet.headers)
        if errors:
            raise serializers.ValidationError(
                {f"mapping.{name}": messages for name, messages in errors.items()}
            )
        return sheet, mapping, data
