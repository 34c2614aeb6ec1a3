"""The upload flow: send a file, check its sheet and column mapping against a preview, confirm;
the rows are then stored and the match run starts. And the page of a stored catalog: its rows,
its invalid rows, its runs, and a form to match it again."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from accounts.permissions import READ, UPLOAD, role_allows
from accounts.selectors import role_in
from matcher.reports.selectors import catalogs_for_user
from matcher.runs.progress import HTMX_STOP_POLLING, POLL_SECONDS, run_progress
from uploads import selectors
from uploads.columns import FIELDS
from uploads.forms import FIELD_LABELS, CatalogUploadForm, MappingForm, RunStartForm
from uploads.models import Catalog, CatalogRow
from uploads.parsing import column_letter
from uploads.services import (
    UploadError,
    pending_upload_confirm,
    pending_upload_create,
    pending_upload_discard,
    too_large_message,
)

INVALID_ROWS_PER_PAGE = 50

# Room for the multipart boundaries and the other form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def _uploader(request: HttpRequest) -> Membership:
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None or not role_allows(membership.role, UPLOAD):
        raise PermissionDenied("Your role in this organization cannot upload catalogs.")
    return membership


def _declared_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.CATALOG_MAX_BYTES + MULTIPART_OVERHEAD


@login_required
@csrf_exempt  # checked by _upload_post, after the size check that must not read the body
@require_http_methods(["GET", "POST"])
def catalog_upload(request: HttpRequest) -> HttpResponse:
    membership = _uploader(request)
    if request.method == "POST":
        if _declared_too_large(request):
            # Refused before anything reads the body: Django's upload handlers would otherwise
            # spool the whole request to disk first.
            context = {"form": CatalogUploadForm(), "upload_error": too_large_message()}
            return render(request, "uploads/upload.html", context, status=400)
        return _upload_post(request, membership)
    return render(request, "uploads/upload.html", {"form": CatalogUploadForm()})


@csrf_protect
def _upload_post(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = CatalogUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            pending = pending_upload_create(
                organization=membership.organization,
                stream=upload,
                filename=upload.name,
                uploaded_by=request.user,
            )
        except UploadError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("catalog-upload-mapping", pk=pending.pk)
    return render(request, "uploads/upload.html", {"form": form}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def catalog_upload_mapping(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    pending = get_object_or_404(selectors.pending_uploads_for_user(request.user), pk=pk)
    if not role_allows(role_in(user=request.user, organization_id=pending.organization_id), UPLOAD):
        raise PermissionDenied("Your role in this organization cannot upload catalogs.")
    sheets = selectors.pending_sheets(pending)
    by_name = {sheet.name: sheet for sheet in sheets}
    default = by_name.get(pending.default_sheet) or sheets[0]
    saved = selectors.saved_mapping_for(pending.organization_id)
    action = request.POST.get("action", "preview")

    if request.method == "POST" and action == "discard":
        pending_upload_discard(pending=pending)
        messages.info(request, f"{pending.name} was discarded; nothing was stored.")
        return redirect("catalog-upload")

    status = 200
    notice = ""
    if request.method == "POST":
        wanted = by_name.get(request.POST.get("sheet", ""), default)
        shown = by_name.get(request.POST.get("shown_sheet", ""), wanted)
    else:
        wanted = shown = by_name.get(request.GET.get("sheet", ""), default)

    if request.method == "POST" and wanted == shown:
        form = MappingForm(request.POST, sheets=sheets, shown=shown)
        valid = form.is_valid()
        if action == "confirm" and valid:
            try:
                run = pending_upload_confirm(
                    pending=pending,
                    sheet=shown.name,
                    mapping=form.mapping(),
                    datasets=list(form.cleaned_data["datasets"]) or None,
                    confirmed_by=request.user,
                )
            except UploadError as exc:
                form.add_error(None, str(exc))
            else:
                catalog = run.catalog
                if catalog.status == catalog.Status.READY:
                    messages.success(
                        request,
                        f"{catalog.name}: {catalog.row_count:,} rows stored; matching started.",
                    )
                elif catalog.status == catalog.Status.FAILED:
                    messages.error(request, f"{catalog.name} was not stored: {catalog.error}")
                else:  # stored by a worker (uploads.tasks.catalog_store_rows)
                    # Only what stays true: the run page's live progress says what is happening
                    # now (storing the rows, then matching), and this message does not update.
                    messages.success(request, f"{catalog.name}: columns confirmed.")
                return redirect("run-detail", pk=run.pk)
        if action == "confirm" or form.errors:
            status = 400
        mapping = form.mapping()
        remembered = False
    else:
        # First view of a sheet (or the user picked another sheet): preselect its mapping.
        mapping, remembered = selectors.offered_mapping(saved=saved, sheet=wanted)
        initial: dict[str, object] = {f"map_{name}": index for name, index in mapping.items()}
        initial.update(sheet=wanted.name, shown_sheet=wanted.name)
        if request.method == "POST":
            initial["datasets"] = request.POST.getlist("datasets")
            notice = f'Now showing sheet "{wanted.name}". Check its columns, then confirm.'
        form = MappingForm(initial=initial, sheets=sheets, shown=wanted)
        shown = wanted

    preview = selectors.upload_preview(pending=pending, sheet=shown, mapping=mapping)
    columns = [
        (letter, header, FIELD_LABELS.get(name, "")) for letter, header, name in preview.headers
    ]
    mapped = [bool(name) for _letter, _header, name in preview.headers]
    rows = [(row, list(zip(row.cells, mapped, strict=True))) for row in preview.rows]
    context = {
        "pending": pending,
        "form": form,
        "sheet": shown,
        "several_sheets": len(sheets) > 1,
        "row_count": pending.row_count if shown.name == pending.default_sheet else None,
        "preview": preview,
        "columns": columns,
        "rows": rows,
        "remembered": remembered,
        "saved": saved,
        "notice": notice,
    }
    return render(request, "uploads/mapping.html", context, status=status)


@login_required
def catalog_detail(request: HttpRequest, pk: int) -> HttpResponse:
    catalog = get_object_or_404(catalogs_for_user(request.user), pk=pk)
    role = role_in(user=request.user, organization_id=catalog.organization_id)
    if not role_allows(role, READ):
        raise PermissionDenied("Your role in this organization does not allow this.")
    can_upload = role_allows(role, UPLOAD)
    if request.htmx and request.GET.get("part") == "status":  # type: ignore[attr-defined]
        return _catalog_status_fragment(request, catalog, can_upload=can_upload)
    invalid_rows = Paginator(
        catalog.rows.filter(status=CatalogRow.Status.INVALID)
        .order_by("row_number")
        .only("row_number", "problems", "artist", "title"),
        INVALID_ROWS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    headers = list(catalog.headers or [])
    mapping = [
        (
            FIELD_LABELS.get(name, name),
            column_letter(catalog.mapping[name]),
            headers[catalog.mapping[name]] if catalog.mapping[name] < len(headers) else "",
        )
        for name in FIELDS
        if isinstance(catalog.mapping.get(name), int)
    ]
    return render(
        request,
        "uploads/catalog_detail.html",
        {
            "catalog": catalog,
            "valid_count": catalog.row_count - catalog.invalid_count,
            "mapping": mapping,
            "invalid_rows": invalid_rows,
            "runs": [run_progress(r) for r in catalog.runs.order_by("-created_at")[:50]],
            "can_upload": can_upload,
            "start_form": RunStartForm() if can_upload else None,
            "poll_seconds": POLL_SECONDS,
        },
    )


def _catalog_status_fragment(
    request: HttpRequest, catalog: Catalog, *, can_upload: bool
) -> HttpResponse:
    """The catalog's status line, polled by htmx while its rows are being stored; once they are
    in (or storing failed) htmx stops polling and the page reloads to show the figures."""
    response = render(
        request, "uploads/_catalog_status.html", {"catalog": catalog, "can_upload": can_upload}
    )
    if catalog.status != Catalog.Status.STORING:
        response.status_code = HTMX_STOP_POLLING
        response["HX-Refresh"] = "true"
    return response
