"""Attaches the signed-in user's current organization and role to each request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.selectors import default_membership, membership_for

SESSION_KEY = "organization_id"


class CurrentOrganizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = None
            org_id = request.session.get(SESSION_KEY)
            if org_id is not None:
                membership = membership_for(user=user, organization_id=org_id)
            if membership is None:
                membership = default_membership(user)
                if membership is not None:
                    request.session[SESSION_KEY] = membership.organization_id
            request.membership = membership  # type: ignore[attr-defined]
        return self.get_response(request)
