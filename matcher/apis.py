"""REST API for datasets, match runs, reports, matches, evidence, verdicts and exports, and what
matching adds to uploads' catalog endpoints (a catalog with its runs, confirming an upload).

Thin views over the same selectors and services as the pages. A request acts in one
organization (its API token's, or the browser session's current one): an object of any other
organization is a 404, and an action the role does not allow is a 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import DELETE, READ, REVIEW, UPLOAD
from accounts.scoping import api_actor, require
from config.api import (
    Conflict,
    DownloadNegotiation,
    StandardPagination,
    error_responses,
)
from matcher.catalogs import catalog_upload_confirm
from matcher.models import Dataset, DatasetVersion, Match, MatchRun, Verdict
from matcher.reports import exports, selectors, wording
from matcher.review import services as review
from matcher.review.selectors import MATCH_ORDER
from matcher.runs import services
from matcher.runs.progress import run_progress
from uploads import apis as upload_apis
from uploads.selectors import catalogs_for
from uploads.services import UploadError, catalog_delete

# --- shared representations -------------------------------------------------------------------


class DatasetVersionRefSerializer(serializers.Serializer):
    slug = serializers.CharField(source="dataset.slug")
    version = serializers.IntegerField(source="number")
    sha256 = serializers.CharField()


class DatasetSlugsField(serializers.ListField):
    """The datasets to match against, by slug (see datasets_from_slugs); optional."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs = {
            "child": serializers.SlugField(max_length=64),
            "required": False,
            "allow_empty": False,
            "max_length": 50,
            "help_text": "Dataset slugs to match against; leave out for every imported dataset",
            **kwargs,
        }
        super().__init__(**kwargs)


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    catalog = serializers.IntegerField(source="catalog_id")
    catalog_name = serializers.CharField(source="catalog.name")
    status = serializers.ChoiceField(choices=MatchRun.Status.choices)
    rows_done = serializers.IntegerField(help_text="Catalog rows checked so far")
    total_rows = serializers.IntegerField(help_text="Catalog rows (the report's `rows`)")
    percent = serializers.IntegerField(help_text="Rows checked, in percent of all rows")
    rows_per_second = serializers.SerializerMethodField(
        help_text="Average speed since the run started"
    )
    seconds_left = serializers.SerializerMethodField(
        help_text="Estimated time left (null when finished or not started)"
    )
    chunk_count = serializers.IntegerField()
    chunks_done = serializers.IntegerField()
    datasets = DatasetVersionRefSerializer(source="dataset_versions", many=True)
    thresholds = serializers.DictField()
    engine_version = serializers.CharField()
    error = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_rows_per_second(self, run: MatchRun) -> float | None:
        rate = run_progress(run).rate
        return None if rate is None else round(rate, 1)

    def get_seconds_left(self, run: MatchRun) -> int | None:
        left = run_progress(run).seconds_left
        return None if left is None else round(left)


def _runs(request: Request) -> QuerySet[MatchRun]:
    return (
        selectors.runs_for(api_actor(request))
        .select_related("created_by")
        .prefetch_related("dataset_versions__dataset")
    )


def _run_for(request: Request, pk: int, action: str) -> MatchRun:
    run, _membership = selectors.run_for(api_actor(request), pk, action)
    return run


def _finished_report(run: MatchRun) -> None:
    if run.status not in (MatchRun.Status.DONE, MatchRun.Status.CANCELLED):
        raise Conflict(
            f"Run {run.pk} is {run.status}: its report is ready once it is done (or cancelled).",
            code="run_not_finished",
        )


# --- datasets ---------------------------------------------------------------------------------


class DatasetSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    publisher = serializers.CharField()
    source_url = serializers.CharField()
    licence = serializers.CharField()
    description = serializers.CharField()
    tracks = serializers.IntegerField(source="current_version.row_count", default=0)
    version = serializers.IntegerField(source="current_version.number", default=None)
    version_sha256 = serializers.CharField(source="current_version.sha256", default=None)


class DatasetVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.ChoiceField(choices=DatasetVersion.Status.choices)
    sha256 = serializers.CharField()
    file_format = serializers.CharField()
    files = serializers.ListField(
        child=serializers.DictField(), help_text="[{name, bytes, sha256}]"
    )
    normalizer_version = serializers.CharField()
    row_count = serializers.IntegerField()
    problem_count = serializers.IntegerField()
    duplicate_count = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class DatasetDetailSerializer(DatasetSerializer):
    versions = DatasetVersionSerializer(many=True, help_text="Newest first")


class DatasetListApi(APIView):
    """The public datasets a catalog is matched against (public: no sign-in needed)."""

    permission_classes = [AllowAny]
    pagination_class = StandardPagination

    @extend_schema(operation_id="datasets_list", responses={200: DatasetSerializer(many=True)})
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.datasets_with_versions(), request, view=self)
        return paginator.get_paginated_response(DatasetSerializer(page, many=True).data)


class DatasetDetailApi(APIView):
    """One dataset and every imported version of it (public)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="datasets_retrieve",
        responses={200: DatasetDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        dataset = get_object_or_404(selectors.datasets_with_versions(), slug=slug)
        return Response(DatasetDetailSerializer(dataset).data)


# --- runs -------------------------------------------------------------------------------------


class RunListApi(APIView):
    pagination_class = StandardPagination

    class FilterSerializer(serializers.Serializer):
        catalog = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
        status = serializers.ChoiceField(choices=MatchRun.Status.choices, required=False)

    class InputSerializer(serializers.Serializer):
        catalog = serializers.IntegerField(
            min_value=1, max_value=2**31 - 1, help_text="The catalog to match"
        )
        datasets = DatasetSlugsField()

    @extend_schema(
        operation_id="runs_list",
        parameters=[FilterSerializer],
        responses={200: RunSerializer(many=True), **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        runs = _runs(request)
        if "catalog" in filters.validated_data:
            runs = runs.filter(catalog_id=filters.validated_data["catalog"])
        if "status" in filters.validated_data:
            runs = runs.filter(status=filters.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(runs.order_by("-created_at", "-pk"), request, view=self)
        return paginator.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(
        operation_id="runs_create",
        summary="Start a match run over a stored catalog",
        request=InputSerializer,
        responses={201: RunSerializer, **error_responses(400, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        actor = api_actor(request)
        require(actor, UPLOAD)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        catalog = catalogs_for(actor).filter(pk=data["catalog"]).first()
        if catalog is None:
            raise serializers.ValidationError(
                {"catalog": [f"There is no catalog {data['catalog']} in your organization."]}
            )
        if not getattr(catalog, "is_ready", True):
            raise Conflict(
                f'The rows of "{catalog.name}" are not stored ({catalog.status}); '
                "start a run once the catalog is ready.",
                code="catalog_not_ready",
            )
        datasets = datasets_from_slugs(data.get("datasets"))
        try:
            run = services.match_run_start(
                catalog=catalog, datasets=datasets, created_by=request.user
            )
        except services.MatchRunError as exc:
            raise Conflict(str(exc), code="no_dataset") from exc
        return Response(RunSerializer(_reread(request, run)).data, status=status.HTTP_201_CREATED)


def datasets_from_slugs(slugs: list[str] | None) -> list[Dataset] | None:
    """The datasets named (None: every imported one); an unknown name is a 400."""
    if slugs is None:
        return None
    found = {d.slug: d for d in selectors.datasets_with_versions().filter(slug__in=slugs)}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        raise serializers.ValidationError(
            {"datasets": [f"No dataset is called {', '.join(unknown)}; see GET /api/datasets/."]}
        )
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _reread(request: Request, run: MatchRun) -> MatchRun:
    return _runs(request).get(pk=run.pk)


class RunDetailApi(APIView):
    @extend_schema(
        operation_id="runs_retrieve",
        summary="A run's status and progress",
        responses={200: RunSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, READ)
        return Response(RunSerializer(run).data)


class RunCancelApi(APIView):
    @extend_schema(
        operation_id="runs_cancel",
        summary="Cancel a queued or running run",
        request=None,
        responses={200: RunSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, UPLOAD)
        try:
            cancelled = services.match_run_cancel(run=run)
        except services.MatchRunBusy as exc:
            raise Conflict(str(exc), code="run_busy") from exc
        if not cancelled:
            run.refresh_from_db(fields=["status"])
            if run.status != MatchRun.Status.CANCELLED:
                raise Conflict(f"Run {run.pk} is already {run.status}.", code="run_finished")
        return Response(RunSerializer(_reread(request, run)).data)


class RunRerunApi(APIView):
    @extend_schema(
        operation_id="runs_rerun",
        summary="Match the run's catalog again, against the current versions of its datasets",
        request=None,
        responses={201: RunSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, UPLOAD)
        if not run.is_finished:
            raise Conflict(
                f"Run {run.pk} is still {run.status}: re-run it once it has finished.",
                code="run_not_finished",
            )
        datasets = [v.dataset for v in run.dataset_versions.all()]
        try:
            new_run = services.match_run_start(
                catalog=run.catalog, datasets=datasets, created_by=request.user
            )
        except services.MatchRunError as exc:
            raise Conflict(str(exc), code="no_dataset") from exc
        return Response(
            RunSerializer(_reread(request, new_run)).data, status=status.HTTP_201_CREATED
        )


# --- report -----------------------------------------------------------------------------------


class DatasetOverlapSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    version_sha256 = serializers.CharField()
    tracks = serializers.IntegerField(help_text="Tracks in this version of the dataset")
    found = serializers.IntegerField(help_text=wording.definition("dataset_found"))
    found_duplicates = serializers.IntegerField(
        help_text="Of `found`, rows that duplicate an earlier row of the catalog"
    )
    share = serializers.FloatField(help_text="found / catalog rows (0..1)")
    by_kind = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="The rows found, by the kind of their best match in this dataset",
    )
    matches = serializers.IntegerField(help_text="Matches in this dataset")
    match_lines = serializers.IntegerField(
        help_text="Match lines in this dataset (the lines of its XLSX sheet)"
    )
    confirmed = serializers.IntegerField(
        help_text="Rows with a confirmed match in this dataset, duplicates of such a row included"
    )


class BreakdownSerializer(serializers.Serializer):
    # A field named like Field's own `label`: the serializer metaclass moves declared fields out
    # of the class attributes, so the two do not clash (django-stubs cannot tell).
    label = serializers.CharField()  # type: ignore[assignment]
    rows = serializers.IntegerField()
    found = serializers.IntegerField()
    share = serializers.FloatField()


class ReportSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    headline = serializers.CharField(help_text="The report's first sentence, as the page has it")
    rows = serializers.IntegerField(help_text=wording.definition("rows"))
    matched = serializers.IntegerField(help_text=wording.definition("matched"))
    found_duplicates = serializers.IntegerField(help_text=wording.definition("found_duplicates"))
    unmatched = serializers.IntegerField(help_text=wording.definition("unmatched"))
    invalid = serializers.IntegerField(help_text=wording.definition("invalid"))
    unchecked = serializers.IntegerField(help_text=wording.definition("unchecked"))
    matches = serializers.IntegerField(help_text=wording.definition("matches"))
    match_lines = serializers.IntegerField(help_text=wording.definition("match_lines"))
    lines = serializers.IntegerField(help_text=wording.definition("lines"))
    reviewed = serializers.IntegerField(help_text=wording.definition("reviewed"))
    unreviewed = serializers.IntegerField(help_text="Matches without a verdict")
    confirmed = serializers.IntegerField(help_text=wording.definition("confirmed"))
    confirmed_rows = serializers.IntegerField(help_text=wording.definition("confirmed_rows"))
    verdicts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Matches by verdict"
    )
    by_kind = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows found, by the kind of their best match"
    )
    datasets = DatasetOverlapSerializer(many=True)
    by_artist = BreakdownSerializer(many=True)
    by_album = BreakdownSerializer(many=True)


class RunReportApi(APIView):
    @extend_schema(
        operation_id="runs_report",
        summary="The report's summary figures: rows found per dataset, kinds, review",
        responses={200: ReportSerializer, **error_responses(404, 409)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, READ)
        _finished_report(run)
        summary = selectors.report_summary(run)
        data = {
            "run": run.pk,
            **{
                name: getattr(summary, name)
                for name in (
                    "headline",
                    *selectors.RUN_FIGURES,
                    "unreviewed",
                    "verdicts",
                    "by_kind",
                    "datasets",
                )
            },
            "by_artist": selectors.report_breakdown(run, by="artist"),
            "by_album": selectors.report_breakdown(run, by="album"),
        }
        return Response(ReportSerializer(data).data)


# --- matches ----------------------------------------------------------------------------------


class MatchFilterSerializer(serializers.Serializer):
    dataset = serializers.SlugField(max_length=64, required=False, help_text="Dataset slug")
    kind = serializers.ChoiceField(choices=Match.Kind.choices, required=False)
    review = serializers.ChoiceField(choices=list(selectors.REVIEW_FILTERS.items()), required=False)
    conf_min = serializers.IntegerField(min_value=0, max_value=100, required=False)
    conf_max = serializers.IntegerField(min_value=0, max_value=100, required=False)
    q = serializers.CharField(
        max_length=200, required=False, help_text="Text in the row's artist, title, album, or ISRC"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("conf_min"), attrs.get("conf_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {"conf_min": f"conf_min {low} is above conf_max {high}: an empty range."}
            )
        return attrs

    def filters(self) -> selectors.ReportFilters:
        data = self.validated_data
        return selectors.ReportFilters(
            dataset=data.get("dataset", ""),
            kind=data.get("kind", ""),
            review=data.get("review", ""),
            conf_min=data.get("conf_min"),
            conf_max=data.get("conf_max"),
            q=data.get("q", "").strip(),
        )


class CatalogRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(source="row_number", help_text="Row number in the sheet")
    artist = serializers.CharField()
    title = serializers.CharField()
    version = serializers.CharField()
    album = serializers.CharField()
    isrc = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)


class TrackSerializer(serializers.Serializer):
    dataset = serializers.CharField(source="version.dataset.slug")
    dataset_version = serializers.IntegerField(source="version.number")
    dataset_version_sha256 = serializers.CharField(source="version.sha256")
    track_id = serializers.CharField(help_text="The dataset's own id of the track")
    artist = serializers.CharField()
    title = serializers.CharField()
    album = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)
    isrc = serializers.CharField()
    url = serializers.CharField()
    source_file = serializers.CharField()
    source_row = serializers.IntegerField()


class VerdictSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=Verdict.Value.choices)
    note = serializers.CharField()
    reviewer = serializers.CharField(source="reviewed_by.username", allow_null=True)
    reviewed_at = serializers.DateTimeField()
    carried_from_run = serializers.IntegerField(source="carried_from_run_id", allow_null=True)


class MatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField(source="run_id")
    dataset = serializers.CharField(source="dataset.slug")
    kind = serializers.ChoiceField(choices=Match.Kind.choices)
    confidence = serializers.IntegerField()
    rank = serializers.IntegerField(help_text="1 = the best match of the row in this dataset")
    artist_score = serializers.FloatField(allow_null=True)
    title_score = serializers.FloatField(allow_null=True)
    duration_delta_s = serializers.FloatField(allow_null=True)
    version_note = serializers.CharField()
    catalog_row = CatalogRowSerializer()
    track = TrackSerializer()
    verdict = VerdictSerializer(allow_null=True)


class RunMatchListApi(APIView):
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="runs_matches",
        summary="The run's matches, filtered, in sheet order",
        parameters=[MatchFilterSerializer],
        responses={200: MatchSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, READ)
        filters = MatchFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        matches = (
            selectors.filtered_matches(run, filters.filters())
            .select_related(
                "run",
                "catalog_row",
                "dataset",
                "track__version__dataset",
                "verdict__reviewed_by",
            )
            .order_by(*MATCH_ORDER)
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(matches, request, view=self)
        return paginator.get_paginated_response(MatchSerializer(page, many=True).data)


class CandidateSerializer(serializers.Serializer):
    track = TrackSerializer(allow_null=True)
    kind = serializers.CharField()
    confidence = serializers.IntegerField()
    scores = serializers.DictField()
    is_this_match = serializers.BooleanField()
    match = serializers.IntegerField(
        source="match_pk", allow_null=True, help_text="The match of this candidate, if it is one"
    )


class VerdictEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    user = serializers.CharField(source="user_name")
    old_value = serializers.CharField()
    new_value = serializers.CharField()
    note = serializers.CharField()
    carried_from_run = serializers.IntegerField(allow_null=True)
    undoes_at = serializers.DateTimeField(
        source="undoes.at",
        allow_null=True,
        help_text="For an undo: when the change it took back was made (new_value is then the "
        'verdict restored, "" for none)',
    )


class EvidenceSerializer(serializers.Serializer):
    match = MatchSerializer()
    cells = serializers.DictField(help_text="The catalog row's cells as uploaded: header -> text")
    row_note = serializers.CharField(help_text="The matcher's note on the row")
    track_identifiers = serializers.ListField(
        child=serializers.CharField(), help_text='The track\'s identifiers ("isrc:...")'
    )
    evidence = serializers.DictField(
        help_text="Normalized values, scores, rules applied, thresholds and provenance"
    )
    candidates = CandidateSerializer(many=True, help_text="The best candidates considered")
    history = VerdictEventSerializer(many=True, help_text="Every verdict change, oldest first")


class MatchEvidenceApi(APIView):
    @extend_schema(
        operation_id="matches_evidence",
        summary="One match with its evidence, candidates and verdict history",
        responses={200: EvidenceSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        actor = api_actor(request)
        match = get_object_or_404(selectors.matches_for(actor), pk=pk)
        require(actor, READ, organization_id=match.run.organization_id)
        context = selectors.evidence_context(match)
        row_result = context["row_result"]
        data = {
            "match": match,
            "cells": match.catalog_row.cells or {},
            "row_note": row_result.note if row_result is not None else "",
            "track_identifiers": [f"{kind}:{value}" for kind, value in context["identifiers"]],
            "evidence": match.evidence or {},
            "candidates": context["candidates"],
            "history": context["history"],
        }
        return Response(EvidenceSerializer(data).data)


# --- verdicts ---------------------------------------------------------------------------------


class VerdictInputSerializer(serializers.Serializer):
    value = serializers.ChoiceField(choices=Verdict.Value.choices)
    note = serializers.CharField(
        max_length=review.NOTE_MAX, required=False, allow_blank=True, default=""
    )


class MatchVerdictApi(APIView):
    @extend_schema(
        operation_id="matches_verdict",
        summary="Record a verdict on one match (owners and reviewers)",
        request=VerdictInputSerializer,
        responses={200: VerdictSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = api_actor(request)
        match = get_object_or_404(selectors.matches_for(actor), pk=pk)
        require(actor, REVIEW, organization_id=match.run.organization_id)
        serializer = VerdictInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            verdict = review.verdict_record(
                match=match, user=request.user, **serializer.validated_data
            )
        except review.ReviewError as exc:
            raise serializers.ValidationError({"value": [str(exc)]}) from exc
        return Response(VerdictSerializer(verdict).data)


class BulkVerdictInputSerializer(MatchFilterSerializer, VerdictInputSerializer):
    pass


class BulkVerdictOutputSerializer(serializers.Serializer):
    selected = serializers.IntegerField(help_text="Matches the filters selected")
    changed = serializers.IntegerField(help_text="Verdicts recorded or changed")


class RunBulkVerdictApi(APIView):
    @extend_schema(
        operation_id="runs_verdicts",
        summary="Record one verdict on every match the filters select",
        description="At least one of dataset, kind, review, conf_min, conf_max is required, so "
        "that a verdict never reaches every match of a run by accident.",
        request=BulkVerdictInputSerializer,
        responses={200: BulkVerdictOutputSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        run = _run_for(request, pk, REVIEW)
        serializer = BulkVerdictInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        filters = serializer.filters()
        if not filters.has_match_filter:
            raise serializers.ValidationError(
                "Choose at least one filter (dataset, kind, review, conf_min or conf_max) before "
                "recording a verdict on a selection, so it cannot reach every match by accident."
            )
        selection = selectors.filtered_matches(run, filters)
        selected = selection.count()
        try:
            changed = review.verdicts_bulk_record(
                run=run,
                matches=selection,
                user=request.user,
                value=serializer.validated_data["value"],
                note=serializer.validated_data["note"],
            )
        except review.ReviewError as exc:
            raise serializers.ValidationError({"value": [str(exc)]}) from exc
        return Response({"selected": selected, "changed": changed})


# --- exports ----------------------------------------------------------------------------------


class _Download(APIView):
    """Downloads stream the same files as the report page's links."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = DownloadNegotiation


def _download_schema(media_type: str, summary: str, **kwargs: Any) -> Any:
    return extend_schema(
        summary=summary,
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file"),
            **error_responses(404),
        },
        **kwargs,
    )


class RunReportCsvApi(_Download):
    @_download_schema(
        "text/csv",
        "The report as CSV (one line per row and match)",
        operation_id="runs_report_csv",
        parameters=[
            OpenApiParameter(
                "bom", OpenApiTypes.BOOL, description="Start with a UTF-8 BOM (for old Excel)"
            )
        ],
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        run = _run_for(request, pk, READ)
        bom = request.query_params.get("bom", "").lower() in ("1", "true", "yes")
        return exports.report_csv_response(run, bom=bom)


class RunReportXlsxApi(_Download):
    @_download_schema(
        exports.XLSX_TYPE,
        "The report as an Excel workbook (summary, all rows, one sheet per dataset)",
        operation_id="runs_report_xlsx",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        run = _run_for(request, pk, READ)
        return exports.report_xlsx_response(run)


class RunReportHtmlApi(_Download):
    @_download_schema(
        "text/html",
        "The printable report: HTML with print CSS (figures, each confirmed match side by side "
        "with its provenance and verdict, page numbers when printed)",
        operation_id="runs_report_html",
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        run = _run_for(request, pk, READ)
        return exports.report_html_response(run)


class RunEvidencePackApi(_Download):
    @_download_schema(
        "application/zip",
        "The evidence pack: report.csv, one JSON per match, and a SHA-256 manifest",
        operation_id="runs_evidence_pack",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        run = _run_for(request, pk, READ)
        return exports.evidence_pack_response(run)


# --- catalogs: what matching adds to uploads' endpoints ---------------------------------------


class RunRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MatchRun.Status.choices)
    percent = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CatalogDetailSerializer(upload_apis.CatalogSerializer):
    runs = RunRefSerializer(many=True, help_text="The catalog's runs, newest first")


class CatalogDetailApi(APIView):
    @extend_schema(
        operation_id="catalogs_retrieve",
        responses={200: CatalogDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        actor = api_actor(request)
        catalog = get_object_or_404(catalogs_for(actor), pk=pk)
        require(actor, READ, organization_id=catalog.organization_id)
        return Response(CatalogDetailSerializer(catalog).data)

    @extend_schema(
        operation_id="catalogs_destroy",
        summary="Delete a catalog with its runs, matches and verdicts (owners)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        actor = api_actor(request)
        catalog = get_object_or_404(catalogs_for(actor), pk=pk)
        require(actor, DELETE, organization_id=catalog.organization_id)
        catalog_delete(catalog=catalog)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MappingDatasetsInputSerializer(upload_apis.MappingInputSerializer):
    datasets = DatasetSlugsField()


class ConfirmedSerializer(serializers.Serializer):
    catalog = upload_apis.CatalogSerializer()
    run = RunSerializer()


class UploadMappingApi(upload_apis.UploadMappingApi):
    """uploads' mapping endpoint; confirming it starts the catalog's match run."""

    @extend_schema(
        operation_id="uploads_mapping_confirm",
        summary="Confirm the mapping (as offered, or another sheet or mapping): store the "
        "catalog and start matching",
        request=MappingDatasetsInputSerializer,
        responses={201: ConfirmedSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        pending = upload_apis.pending_for(request, pk)
        sheet, mapping, data = self.confirmation(request, pending, MappingDatasetsInputSerializer)
        try:
            run = catalog_upload_confirm(
                pending=pending,
                sheet=sheet.name,
                mapping=mapping,
                datasets=datasets_from_slugs(data.get("datasets")),
                confirmed_by=request.user,
            )
        except UploadError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        run = _reread(request, run)
        return Response(
            ConfirmedSerializer({"catalog": run.catalog, "run": run}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-run-detail", args=[run.pk])},
        )
