from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.selectors import organizations_for_user


def organization(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "membership": membership,
        "current_organization": membership.organization if membership else None,
        "user_organizations": organizations_for_user(user) if user is not None else [],
    }
