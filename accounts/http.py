"""Request types for views' annotations (they exist for the type checker only)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a ``login_required`` view: its user is signed in (never anonymous)."""

    user: User
