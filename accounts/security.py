"""The client's address, as sign-in throttling (django-axes) sees it behind reverse proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    """With ``TRUSTED_PROXY_COUNT`` = n > 0, the n-th address from the right of X-Forwarded-For
    (each trusted proxy appends the address it received the request from; anything further left
    was written by the client and is not trusted). With 0, the connecting address."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
