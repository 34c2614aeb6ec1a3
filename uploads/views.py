"""Upload page: store the catalog, start its match run, go to the run's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.permissions import UPLOAD, role_allows
from matcher.services import MatchRunError, match_run_start
from uploads.forms import CatalogUploadForm
from uploads.services import UploadError, catalog_create


@login_required
@require_http_methods(["GET", "POST"])
def catalog_upload(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if membership is None or not role_allows(membership.role, UPLOAD):
        raise PermissionDenied("Your role in this organization cannot upload catalogs.")
    form = CatalogUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            catalog = catalog_create(
                organization=membership.organization,
                stream=upload,
                filename=upload.name,
                uploaded_by=request.user,
            )
            run = match_run_start(
                catalog=catalog,
                datasets=list(form.cleaned_data["datasets"]) or None,
                created_by=request.user,
            )
        except (UploadError, MatchRunError) as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(
                request, f"{catalog.name}: {catalog.row_count:,} rows stored; matching started."
            )
            return redirect("run-detail", pk=run.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "uploads/upload.html", {"form": form}, status=status)
