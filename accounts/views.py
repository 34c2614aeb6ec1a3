"""Account pages: switching the current organization."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.middleware import SESSION_KEY
from accounts.selectors import organizations_for_user


@login_required
@require_POST
def organization_switch(request: HttpRequest) -> HttpResponse:
    org = get_object_or_404(organizations_for_user(request.user), pk=request.POST.get("org"))
    request.session[SESSION_KEY] = org.pk
    target = request.POST.get("next") or reverse("dashboard")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard")
    return HttpResponseRedirect(target)
