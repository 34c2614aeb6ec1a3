"""DRF authentication with personal API tokens (see accounts.models.ApiToken)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiToken, Membership

KEY_PREFIX = "tw_"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> str | None:
    """The token's prefix, or None when the key does not have the ``tw_<prefix>_<secret>`` form."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not prefix or not secret:
        return None
    return prefix


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer tw_...`` (``Token tw_...`` is accepted too)."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as: Authorization: Bearer <key>."
            )
        key = header[1].decode(errors="replace")
        prefix = parse_key(key)
        token = None
        if prefix is not None:
            token = (
                ApiToken.objects.select_related("user", "organization")
                .filter(prefix=prefix, revoked_at__isnull=True)
                .first()
            )
        if token is None or not hmac.compare_digest(token.key_sha256, key_hash(key)):
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        # A token works only while its user belongs to its organization: removing someone from
        # the organization stops their tokens at once (401, like a revoked token).
        membership = (
            Membership.objects.select_related("organization")
            .filter(user_id=token.user_id, organization_id=token.organization_id)
            .first()
        )
        if membership is None:
            raise exceptions.AuthenticationFailed(
                "This token's user is no longer a member of its organization."
            )
        token.membership = membership  # type: ignore[attr-defined]  # read by accounts.scoping.api_membership
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
