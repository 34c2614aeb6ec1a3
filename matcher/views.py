"""Pages: dashboard, run progress and report, evidence, datasets; the CSV download.

Views stay thin: they fetch through the scoped selectors (an object of another organization is
a 404) and render.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.permissions import READ, UPLOAD, role_allows
from accounts.selectors import role_in
from matcher import selectors, services
from matcher.exports import report_csv_lines
from matcher.models import MatchRun, RowResult
from uploads.forms import CatalogUploadForm

ROWS_PER_PAGE = 50


def _require(request: HttpRequest, organization_id: int, action: str) -> str:
    role = role_in(user=request.user, organization_id=organization_id)
    if not role_allows(role, action):
        raise PermissionDenied("Your role in this organization does not allow this.")
    return role or ""


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    runs = catalogs = None
    if membership is not None:
        runs = selectors.runs_for_organization(membership.organization_id)[:50]
        catalogs = selectors.catalogs_for_organization(membership.organization_id)[:50]
    return render(
        request,
        "matcher/dashboard.html",
        {
            "runs": runs,
            "catalogs": catalogs,
            "form": CatalogUploadForm(),
            "can_upload": membership is not None and role_allows(membership.role, UPLOAD),
            "datasets": selectors.datasets_with_versions(),
        },
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(selectors.runs_for_user(request.user), pk=pk)
    role = _require(request, run.organization_id, READ)
    context: dict[str, object] = {"run": run, "can_cancel": role_allows(role, UPLOAD)}
    if run.status == MatchRun.Status.DONE or run.status == MatchRun.Status.CANCELLED:
        status = request.GET.get("status", "")
        if status not in RowResult.Status.values:
            status = ""
        dataset = request.GET.get("dataset", "")
        page = Paginator(selectors.row_table(run, status=status, dataset=dataset), ROWS_PER_PAGE)
        page_obj = page.get_page(request.GET.get("page"))
        results = list(page_obj.object_list)
        matches = selectors.run_matches_by_row(
            run, [r.catalog_row.duplicate_of_id or r.catalog_row_id for r in results]
        )
        context.update(
            summary=selectors.report_summary(run),
            page_obj=page_obj,
            rows=[
                (r, matches.get(r.catalog_row.duplicate_of_id or r.catalog_row_id, []))
                for r in results
            ],
            filter_status=status,
            filter_dataset=dataset,
            statuses=RowResult.Status.choices,
        )
    return render(request, "matcher/run_detail.html", context)


@login_required
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(selectors.runs_for_user(request.user), pk=pk)
    _require(request, run.organization_id, READ)
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "rows_done": run.rows_done,
            "total_rows": run.total_rows,
            "percent": run.percent,
            "error": run.error,
        }
    )


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(selectors.runs_for_user(request.user), pk=pk)
    _require(request, run.organization_id, UPLOAD)
    services.match_run_cancel(run=run)
    return redirect("run-detail", pk=run.pk)


@login_required
def run_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(selectors.runs_for_user(request.user), pk=pk)
    _require(request, run.organization_id, READ)
    bom = request.GET.get("bom") == "1"
    response = StreamingHttpResponse(
        report_csv_lines(run, bom=bom), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="trainwatch-run-{run.pk}.csv"'
    return response


@login_required
def match_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    match = get_object_or_404(selectors.matches_for_user(request.user), pk=pk)
    _require(request, match.run.organization_id, READ)
    return render(request, "matcher/evidence.html", selectors.evidence_context(match))


def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "matcher/datasets.html", {"datasets": selectors.datasets_with_versions()}
    )
