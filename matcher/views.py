"""Pages: dashboard, a catalog's mapping page (with the datasets to match) and page (with its
runs), run progress (live, through an htmx fragment) and report, starting a run
from a catalog, evidence and verdicts, re-run difference, datasets; the CSV, XLSX, printable
report and evidence-pack downloads.

Views stay thin: they fetch through the scoped selectors (an object of another organization is
a 404) and render.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership
from accounts.permissions import READ, REVIEW, UPLOAD, role_allows
from accounts.scoping import Actor, page_actor, require
from matcher.catalogs import catalog_upload_confirm
from matcher.forms import MappingDatasetsForm, RunStartForm
from matcher.models import DatasetVersion, Match, MatchRun, RowResult, Verdict
from matcher.reports import exports, selectors, wording
from matcher.reports.wording import counted
from matcher.review import selectors as review_selectors
from matcher.review import services as review
from matcher.runs import services
from matcher.runs.progress import HTMX_STOP_POLLING, POLL_SECONDS, RunProgress, run_progress
from uploads.forms import MappingForm
from uploads.models import Catalog, PendingUpload
from uploads.selectors import catalogs_for
from uploads.views import catalog_page, mapping_page

ROWS_PER_PAGE = 25  # a page of the report stays readable on a phone (one block per row)
DIFF_LINES_SHOWN = 500


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    # The dashboard lists the current organization's catalogs and runs only.
    actor = page_actor(request).acting_only()
    runs: list[tuple[RunProgress, selectors.RunOverlap | None]] | None = None
    catalogs = None
    if actor.membership is not None:
        runs = [(run_progress(r), selectors.run_overlap(r)) for r in selectors.runs_for(actor)[:50]]
        catalogs = catalogs_for(actor)[:50]
    return render(
        request,
        "matcher/dashboard.html",
        {
            "runs": runs,
            "catalogs": catalogs,
            "can_upload": actor.can(UPLOAD),
            "datasets": selectors.datasets_with_versions(),
            "poll_seconds": POLL_SECONDS,
        },
    )


KIND_COLOURS = {
    "identifier": "#1e7a46",
    "exact": "#3f9e64",
    "strong": "#2d5bd7",
    "version": "#c27c0e",
    "possible": "#e0b252",
}
CHART_WIDTH = 640  # px of the bar area; labels sit above each bar


def _overlap_chart(summary: selectors.ReportSummary) -> dict[str, object]:
    """Geometry of the per-dataset overlap chart: one bar per dataset, as wide as its share of
    the catalog, split into segments by match kind. Rendered as inline SVG (no script, no CDN)."""
    bars = []
    for i, d in enumerate(summary.datasets):
        x = 0.0
        segments = []
        for kind, n in d.kind_bars:
            if not n:
                continue
            width = CHART_WIDTH * n / summary.rows if summary.rows else 0.0
            segments.append(
                {
                    "kind": kind,
                    "n": n,
                    "x": round(x, 2),
                    "width": round(max(width, 1.0), 2),
                    "colour": KIND_COLOURS.get(kind, "#888"),
                }
            )
            x += width
        bars.append({"d": d, "y": 8 + i * 46, "segments": segments, "percent": d.share * 100})
    legend = [
        {"kind": kind, "label": label, "colour": KIND_COLOURS[kind], "x": 8 + i * 128}
        for i, (kind, label, _n) in enumerate(summary.kind_rows)
    ]
    return {
        "bars": bars,
        "legend": legend,
        "width": CHART_WIDTH + 16,
        "height": 8 + len(bars) * 46 + 28,
        "legend_y": 8 + len(bars) * 46 + 6,
    }


class _CountedPaginator(Paginator):
    """A paginator told its count by a cheaper query than COUNT(*) over the sorted one."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


def _page_url(filters: selectors.ReportFilters, **extra: object) -> str:
    query = filters.as_query()
    query.update({k: str(v) for k, v in extra.items() if v not in ("", None)})
    return "?" + urlencode(query) if query else "?"


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run, membership = selectors.run_for(page_actor(request), pk, READ)
    role = membership.role
    context: dict[str, object] = {
        "run": run,
        "progress": run_progress(run),
        "poll_seconds": POLL_SECONDS,
        "can_cancel": role_allows(role, UPLOAD),
        "can_rerun": role_allows(role, UPLOAD) and run.is_finished,
        "can_review": role_allows(role, REVIEW),
    }
    if run.status == MatchRun.Status.DONE or run.status == MatchRun.Status.CANCELLED:
        summary = selectors.report_summary(run)
        filters = selectors.ReportFilters.from_query(
            request.GET, datasets={d.slug: d.name for d in summary.datasets}
        )
        # Page through ids only (a narrow sort), then load the page's rows.
        page = _CountedPaginator(
            selectors.row_table(run, filters=filters).values_list("pk", flat=True),
            ROWS_PER_PAGE,
            count=selectors.row_table_count(run, filters),
        )
        page_obj = page.get_page(request.GET.get("page"))
        results = selectors.row_results_in_order(list(page_obj.object_list))
        matches = selectors.run_matches_by_row(
            run, [r.catalog_row.duplicate_of_id or r.catalog_row_id for r in results]
        )
        sort_links = {
            key.replace("-", "desc_"): _page_url(dataclasses.replace(filters, sort=key))
            for key in selectors.SORTS
        }
        context.update(
            summary=summary,
            chart=_overlap_chart(summary),
            definitions=[
                (name, *wording.FIGURES[name])
                for name in selectors.PAGE_FIGURES
                if name != "unchecked" or summary.unchecked
            ],
            by_artist=selectors.report_breakdown(run, by="artist"),
            by_album=selectors.report_breakdown(run, by="album"),
            page_obj=page_obj,
            rows=[
                (r, matches.get(r.catalog_row.duplicate_of_id or r.catalog_row_id, []))
                for r in results
            ],
            filters=filters,
            filter_query=urlencode(filters.as_query()),
            prev_url=_page_url(filters, page=page_obj.previous_page_number())
            if page_obj.has_previous()
            else "",
            next_url=_page_url(filters, page=page_obj.next_page_number())
            if page_obj.has_next()
            else "",
            sort_links=sort_links,
            statuses=RowResult.Status.choices,
            kinds=Match.Kind.choices,
            review_filters=list(selectors.REVIEW_FILTERS.items()),
            sorts=[
                ("-confidence", "Best matches first"),
                ("row", "Sheet order (row number)"),
                ("confidence", "Confidence, lowest first"),
                ("artist", "Artist"),
                ("title", "Title"),
            ],
            verdict_choices=Verdict.Value.choices,
            selected_matches=selectors.filtered_matches(run, filters).count()
            if role_allows(role, REVIEW) and filters.has_match_filter
            else None,
            previous=selectors.previous_run(run),
            first_unreviewed=review_selectors.run_first_unreviewed(run.pk)
            if role_allows(role, REVIEW)
            else None,
        )
    return render(request, "matcher/run_detail.html", context)


@login_required
@require_POST
def run_bulk_verdict(request: HttpRequest, pk: int) -> HttpResponse:
    """Record one verdict on every match of the report's current filtered selection, in two
    steps: the first submit shows what it would do; only the confirmation records it."""
    run, _membership = selectors.run_for(page_actor(request), pk, REVIEW)
    filters = selectors.ReportFilters.from_query(request.POST)
    back = reverse("run-detail", args=[run.pk]) + _page_url(filters)
    if not filters.has_match_filter:
        messages.error(
            request,
            "Choose at least one filter (dataset, kind, review status or confidence) before "
            "recording a verdict on a selection, so it cannot reach every match by accident.",
        )
        return redirect(back)
    matches = selectors.filtered_matches(run, filters)
    value = request.POST.get("value", "")
    note = request.POST.get("note", "")
    try:
        preview = review.verdicts_bulk_preview(
            run=run, matches=matches, user=request.user, value=value
        )
    except review.ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if preview.selected == 0:
        messages.error(
            request,
            "No match is in this selection, so no verdict was recorded. Change the filters.",
        )
        return redirect(back)
    # The count the reviewer confirmed travels with the confirmation: if the selection changed
    # in between (another reviewer, a review-status filter), it is shown again with the new count.
    confirmed_count = request.POST.get("selected", "")
    if request.POST.get("confirm") != "yes" or confirmed_count != str(preview.selected):
        changed_since = request.POST.get("confirm") == "yes"
        return render(
            request,
            "matcher/bulk_verdict_confirm.html",
            {
                "run": run,
                "preview": preview,
                "note": note.strip()[: review.NOTE_MAX],
                "filter_items": list(filters.as_query().items()),
                "selection": _selection_words(filters),
                "back": back,
                "changed_since": changed_since,
            },
        )
    try:
        changed = review.verdicts_bulk_record(
            run=run, matches=matches, user=request.user, value=value, note=note
        )
    except review.ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, f"Verdict recorded on {counted(changed, 'match', 'matches')}.")
    return redirect(back)


# The report's filters as the confirmation of a bulk verdict names them.
FILTER_LABELS = {
    "status": "row status",
    "dataset": "dataset",
    "kind": "match kind",
    "review": "review",
    "conf_min": "confidence from",
    "conf_max": "confidence up to",
    "q": "search",
    "sort": "sorted by",
}


def _selection_words(filters: selectors.ReportFilters) -> list[str]:
    """The filters as the reviewer reads them ("dataset alpha", "review: not reviewed")."""
    words = []
    for key, value in filters.as_query().items():
        if key == "review":
            value = str(selectors.REVIEW_FILTERS.get(value, value)).lower()
            words.append(f"review: {value}")
        else:
            words.append(f"{FILTER_LABELS.get(key, key)} {value}")
    return words


# The change the reviewer just made, offered for undo on the next page they see (once).
LAST_VERDICT_SESSION_KEY = "review_last_verdict"


@login_required
@require_POST
def match_verdict(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a verdict, then show the next match of the run not reviewed yet (when the form
    asks for it with then=next) or this match again."""
    actor = page_actor(request)
    match = get_object_or_404(selectors.matches_for(actor), pk=pk)
    require(actor, REVIEW, organization_id=match.run.organization_id)
    value = request.POST.get("value", "")
    try:
        verdict = review.verdict_record(
            match=match, user=request.user, value=value, note=request.POST.get("note", "")
        )
    except review.ReviewError as exc:
        messages.error(request, str(exc))
        return redirect("match-evidence", pk=match.pk)
    change = review_selectors.verdict_undoable(match)
    if change is not None and change.user_id == request.user.pk:
        request.session[LAST_VERDICT_SESSION_KEY] = {"match": match.pk, "event": change.pk}
    saved = (
        f"Verdict saved: {verdict.get_value_display().lower()}, row "
        f"{match.catalog_row.row_number} in {match.dataset.name}."
    )
    if request.POST.get("then") == "next":
        following = review_selectors.match_next_unreviewed(match)
        if following is not None:
            messages.success(request, f"{saved} Here is the next match to review.")
            return redirect("match-evidence", pk=following.pk)
        messages.success(request, f"{saved} Every match of this run has a verdict now.")
        return redirect("match-evidence", pk=match.pk)
    messages.success(request, saved)
    return redirect("match-evidence", pk=match.pk)


@login_required
@require_POST
def match_verdict_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the last change of a match's verdict, then show that match (restored verdict and
    the undo in its audit trail)."""
    actor = page_actor(request)
    match = get_object_or_404(selectors.matches_for(actor), pk=pk)
    require(actor, REVIEW, organization_id=match.run.organization_id)
    raw_event = request.POST.get("event", "")
    event_id = int(raw_event) if raw_event.isdigit() else None
    try:
        restored = review.verdict_undo(match=match, user=request.user, event_id=event_id)
    except review.ReviewError as exc:
        messages.error(request, str(exc))
        return redirect("match-evidence", pk=match.pk)
    request.session.pop(LAST_VERDICT_SESSION_KEY, None)
    where = f"row {match.catalog_row.row_number} in {match.dataset.name}"
    if restored is None:
        messages.success(request, f"Verdict undone: {where} is not reviewed any more.")
    else:
        messages.success(
            request,
            f"Verdict undone: {where} is back to {restored.get_value_display().lower()}"
            f"{' with its note' if restored.note else ''}.",
        )
    return redirect("match-evidence", pk=match.pk)


@login_required
@require_POST
def run_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Match the same catalog again against the datasets' current versions."""
    run, _membership = selectors.run_for(page_actor(request), pk, UPLOAD)
    datasets = [v.dataset for v in run.dataset_versions.select_related("dataset")]
    try:
        new_run = services.match_run_start(
            catalog=run.catalog, datasets=datasets, created_by=request.user
        )
    except services.MatchRunError as exc:
        messages.error(request, str(exc))
        return redirect("run-detail", pk=run.pk)
    return redirect("run-detail", pk=new_run.pk)


@login_required
@require_POST
def catalog_run_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a run of a stored catalog against the datasets ticked on the catalog page."""
    actor = page_actor(request)
    catalog = get_object_or_404(catalogs_for(actor), pk=pk)
    require(actor, UPLOAD, organization_id=catalog.organization_id)
    form = RunStartForm(request.POST)
    if not form.is_valid():
        problems = form.errors.get("datasets", ["Choose the datasets."])
        messages.error(request, " ".join(str(problem) for problem in problems))
        return redirect("catalog-detail", pk=catalog.pk)
    try:
        run = services.match_run_start(
            catalog=catalog, datasets=list(form.cleaned_data["datasets"]), created_by=request.user
        )
    except services.MatchRunError as exc:
        messages.error(request, str(exc))
        return redirect("catalog-detail", pk=catalog.pk)
    messages.success(request, f"Matching of {catalog.name} started.")
    return redirect("run-detail", pk=run.pk)


@login_required
@require_http_methods(["GET", "POST"])
def catalog_upload_mapping(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """uploads' mapping page, with the datasets to match against; confirming starts the run."""
    return mapping_page(
        request,
        pk,
        form_class=MappingDatasetsForm,
        confirm=_confirm_and_match,
        confirmed=_confirmed_upload,
        template="matcher/upload_mapping.html",
    )


def _confirmed_upload(request: HttpRequest, catalog: Catalog) -> HttpResponse:
    """An upload's mapping page once confirmed: the catalog's latest run (the one confirming
    started, unless it was matched again since), or the catalog if it has none."""
    run = catalog.runs.order_by("-created_at").first()
    if run is None:
        return redirect("catalog-detail", pk=catalog.pk)
    return redirect("run-detail", pk=run.pk)


def _confirm_and_match(
    request: HttpRequest, pending: PendingUpload, sheet: str, form: MappingForm
) -> HttpResponse:
    run = catalog_upload_confirm(
        pending=pending,
        sheet=sheet,
        mapping=form.mapping(),
        datasets=list(form.cleaned_data["datasets"]) or None,
        confirmed_by=request.user,
    )
    catalog = run.catalog
    if catalog.status == catalog.Status.READY:
        messages.success(
            request, f"{catalog.name}: {catalog.row_count:,} rows stored; matching started."
        )
    elif catalog.status == catalog.Status.FAILED:
        messages.error(request, f"{catalog.name} was not stored: {catalog.error}")
    else:  # stored by a worker (uploads.tasks.catalog_store_rows)
        # Only what stays true: the run page's live progress says what is happening now
        # (storing the rows, then matching), and this message does not update.
        messages.success(request, f"{catalog.name}: columns confirmed.")
    return redirect("run-detail", pk=run.pk)


@login_required
def catalog_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """uploads' catalog page, with the catalog's runs and a form to match it again."""
    return catalog_page(
        request, pk, template="matcher/catalog_detail.html", extra=_catalog_matching
    )


def _catalog_matching(catalog: Catalog, membership: Membership) -> dict[str, Any]:
    can_upload = role_allows(membership.role, UPLOAD)
    return {
        "runs": [run_progress(r) for r in catalog.runs.order_by("-created_at")[:50]],
        "start_form": RunStartForm() if can_upload else None,
        "poll_seconds": POLL_SECONDS,
    }


@login_required
def run_diff(request: HttpRequest, pk: int) -> HttpResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    previous = selectors.previous_run(run)
    diff = None
    if previous is not None and run.status == MatchRun.Status.DONE:
        diff = selectors.run_diff(run, previous)
    return render(
        request,
        "matcher/run_diff.html",
        {"run": run, "previous": previous, "diff": diff, "limit": DIFF_LINES_SHOWN},
    )


@login_required
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
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
@require_GET
def run_progress_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar as an htmx fragment, polled while the run is queued or running.

    `?compact=1` is the dashboard's one-line form. Once the run has finished the response tells
    htmx to stop polling; the run page also reloads, to show the report or the failure.
    """
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("run-detail", pk=run.pk)
    compact = request.GET.get("compact") == "1"
    template = "matcher/_run_progress_compact.html" if compact else "matcher/_run_progress.html"
    context = {"progress": run_progress(run), "poll_seconds": POLL_SECONDS}
    response = render(request, template, context)
    if run.is_finished:
        response.status_code = HTMX_STOP_POLLING
        if not compact:
            response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, UPLOAD)
    try:
        services.match_run_cancel(run=run)
    except services.MatchRunBusy as exc:
        messages.error(request, str(exc))
    return redirect("run-detail", pk=run.pk)


@login_required
def run_report_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    return exports.report_csv_response(run, bom=request.GET.get("bom") == "1")


@login_required
def run_report_xlsx(request: HttpRequest, pk: int) -> FileResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    return exports.report_xlsx_response(run)


@login_required
def run_report_print(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    return exports.report_html_response(run)


@login_required
def run_evidence_pack(request: HttpRequest, pk: int) -> FileResponse:
    run, _membership = selectors.run_for(page_actor(request), pk, READ)
    return exports.evidence_pack_response(run)


@login_required
def match_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    actor = page_actor(request)
    match = get_object_or_404(selectors.matches_for(actor), pk=pk)
    role = require(actor, READ, organization_id=match.run.organization_id).role
    context = selectors.evidence_context(match)
    previous, following = review_selectors.match_neighbours(match)
    can_review = role_allows(role, REVIEW)
    context.update(
        can_review=can_review,
        undoable=review_selectors.verdict_undoable(match) if can_review else None,
        just_recorded=_just_recorded(request, actor) if can_review else None,
        previous_match=previous,
        next_match=following,
        unreviewed=review_selectors.run_unreviewed_count(match.run_id),
    )
    return render(request, "matcher/evidence.html", context)


def _just_recorded(request: HttpRequest, actor: Actor) -> dict[str, Any] | None:
    """The verdict change this reviewer made just before this page (offered once for undo), if
    it is still the last change of its match."""
    last = request.session.pop(LAST_VERDICT_SESSION_KEY, None)
    if not isinstance(last, dict) or not isinstance(last.get("match"), int):
        return None
    match = selectors.matches_for(actor).filter(pk=last["match"]).first()
    if match is None or not actor.can(REVIEW, match.run.organization_id):
        return None
    change = review_selectors.verdict_undoable(match)
    if change is None or change.pk != last.get("event"):
        return None
    return {"match": match, "event": change}


def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "matcher/datasets.html", {"datasets": selectors.datasets_with_versions()}
    )


def dataset_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """What a dataset is, who assembled it, its size, licence, source and versions (public)."""
    dataset = get_object_or_404(selectors.datasets_with_versions(), slug=slug)
    versions = dataset.versions.order_by("-number")
    return render(
        request,
        "matcher/dataset_detail.html",
        {
            "dataset": dataset,
            "version": dataset.current_version,
            "versions": versions,
            "ready": DatasetVersion.Status.READY,
        },
    )
