"""The upload flow: send a file, check its sheet and column mapping against a preview, confirm;
the rows are then stored. And the page of a stored catalog: its rows and invalid rows.

The mapping page and the catalog page are routed by matcher (matcher.views), which adds what is
about matching: the datasets to choose, what confirming starts, the catalog's runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from accounts.permissions import READ, UPLOAD
from accounts.scoping import page_actor, require
from config.polling import HTMX_STOP_POLLING, POLL_SECONDS
from config.throttling import UploadThrottle, throttle_wait
from uploads import selectors
from uploads.columns import FIELDS, column_letter
from uploads.forms import FIELD_LABELS, CatalogUploadForm, MappingForm
from uploads.models import Catalog, CatalogRow, PendingUpload
from uploads.services import (
    UploadError,
    declared_too_large,
    pending_upload_create,
    pending_upload_discard,
    too_large_message,
)

INVALID_ROWS_PER_PAGE = 50


@login_required
@csrf_exempt  # checked by _upload_post, after the size check that must not read the body
@require_http_methods(["GET", "POST"])
def catalog_upload(request: HttpRequest) -> HttpResponse:
    membership = require(page_actor(request), UPLOAD)
    if request.method == "POST":
        if declared_too_large(request.META):
            # Refused before anything reads the body: Django's upload handlers would otherwise
            # spool the whole request to disk first.
            context = {"form": CatalogUploadForm(), "upload_error": too_large_message()}
            return render(request, "uploads/upload.html", context, status=400)
        wait = throttle_wait(request, [UploadThrottle()])
        if wait is not None:
            # The API's budget (THROTTLE_UPLOADS per user), shared with it.
            minutes = max(1, round(wait / 60))
            message = (
                "You have uploaded as many catalogs as one hour allows: try again in "
                f"{minutes} minute{'s' if minutes != 1 else ''}."
            )
            context = {"form": CatalogUploadForm(), "upload_error": message}
            response = render(request, "uploads/upload.html", context, status=429)
            response["Retry-After"] = str(max(1, round(wait)))
            return response
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


# Confirming the mapping page: (request, pending upload, sheet name, bound valid form) -> the
# response (matcher's starts the match run); UploadError shows its message on the page.
Confirm = Callable[[HttpRequest, PendingUpload, str, MappingForm], HttpResponse]
# The mapping page of an upload already confirmed: (request, its catalog) -> the response
# (matcher's leads to the catalog's run).
Confirmed = Callable[[HttpRequest, Catalog], HttpResponse]


def mapping_page(
    request: HttpRequest,
    pk: uuid.UUID,
    *,
    form_class: type[MappingForm],
    confirm: Confirm,
    confirmed: Confirmed,
    template: str = "uploads/mapping.html",
) -> HttpResponse:
    """The page that checks a pending upload's sheet and columns against a preview: preview,
    switch sheet, discard, or confirm (through `confirm`). Once confirmed, its address leads to
    the catalog (through `confirmed`): Back after confirming, or a bookmarked link."""
    actor = page_actor(request)
    pending = selectors.pending_uploads_for(actor).filter(pk=pk).first()
    if pending is None:
        catalog = selectors.catalog_confirmed_from(actor, pk)
        if catalog is None:
            raise Http404("No upload waiting for confirmation at this address.")
        messages.info(request, f"{catalog.name} was already confirmed; here is where it went.")
        return confirmed(request, catalog)
    require(actor, UPLOAD, organization_id=pending.organization_id)
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
        form = form_class(request.POST, sheets=sheets, shown=shown)
        valid = form.is_valid()
        if action == "confirm" and valid:
            try:
                return confirm(request, pending, shown.name, form)
            except UploadError as exc:
                form.add_error(None, str(exc))
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
            # Whatever else the page's form holds (matcher's: the datasets) is kept.
            for name in form_class.base_fields:
                if name not in initial and name in request.POST:
                    initial[name] = request.POST.getlist(name)
            notice = f'Now showing sheet "{wanted.name}". Check its columns, then confirm.'
        form = form_class(initial=initial, sheets=sheets, shown=wanted)
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
        "same_file": selectors.catalogs_with_same_file(pending),
    }
    return render(request, template, context, status=status)


def catalog_page(
    request: HttpRequest,
    pk: int,
    *,
    template: str = "uploads/catalog_detail.html",
    extra: Callable[[Catalog, Membership], dict[str, Any]] | None = None,
) -> HttpResponse:
    """A stored catalog: its figures, mapping, invalid rows and rows with warnings (with
    `extra`'s context: matcher's adds the runs); `?part=status` is its status line, polled by
    htmx while rows are stored."""
    actor = page_actor(request)
    catalog = get_object_or_404(selectors.catalogs_for(actor), pk=pk)
    membership = require(actor, READ, organization_id=catalog.organization_id)
    can_upload = actor.can(UPLOAD, catalog.organization_id)
    if request.htmx and request.GET.get("part") == "status":  # type: ignore[attr-defined]
        return _catalog_status_fragment(request, catalog, can_upload=can_upload)
    invalid_rows = Paginator(
        catalog.rows.filter(status=CatalogRow.Status.INVALID)
        .order_by("row_number")
        .only("row_number", "problems", "artist", "title"),
        INVALID_ROWS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    warned_rows = Paginator(
        catalog.rows.filter(status=CatalogRow.Status.VALID)
        .exclude(warnings=[])
        .order_by("row_number")
        .only("row_number", "warnings", "artist", "title"),
        INVALID_ROWS_PER_PAGE,
    ).get_page(request.GET.get("warnings_page"))
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
    context = {
        "catalog": catalog,
        "valid_count": catalog.row_count - catalog.invalid_count,
        "mapping": mapping,
        "invalid_rows": invalid_rows,
        "warned_rows": warned_rows,
        "can_upload": can_upload,
        "poll_seconds": POLL_SECONDS,
    }
    if extra is not None:
        context.update(extra(catalog, membership))
    return render(request, template, context)


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
