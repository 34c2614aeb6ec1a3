"""Reads scoped to a user: which organizations they belong to and in what role."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, Invitation, Membership, Organization


def organizations_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct()


def membership_for(
    *, user: AbstractBaseUser | AnonymousUser, organization_id: int
) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=organization_id)
        .first()
    )


def default_membership(user: AbstractBaseUser | AnonymousUser) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user)
        .order_by("organization__name")
        .first()
    )


def role_in(*, user: AbstractBaseUser | AnonymousUser, organization_id: int) -> str | None:
    membership = membership_for(user=user, organization_id=organization_id)
    return membership.role if membership else None


def api_membership(request: Any) -> Membership | None:
    """The Membership an API request acts as, or None.

    A token request acts in the token's organization (``request.auth`` is the ApiToken); a session
    request in the current organization chosen in the browser (set by the middleware). The token
    authentication already refuses a token whose user has left the organization (401), so None
    here means "no organization": views answer 403 (session) or 404 (object lookups).
    """
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        cached = getattr(token, "membership", None)  # set by ApiTokenAuthentication
        if isinstance(cached, Membership):
            return cached
        return membership_for(user=token.user, organization_id=token.organization_id)
    django_request = getattr(request, "_request", request)
    return getattr(django_request, "membership", None)


def api_tokens_for(*, user: AbstractBaseUser, organization_id: int) -> QuerySet[ApiToken]:
    """The user's own tokens in one organization, newest first (revoked ones included)."""
    return ApiToken.objects.filter(user=user, organization_id=organization_id)


def api_token_for_user(*, user: AbstractBaseUser, pk: int) -> ApiToken | None:
    return ApiToken.objects.filter(user=user, pk=pk).first()


def memberships_for_organization(organization_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user")
        .filter(organization_id=organization_id)
        .order_by("user__username")
    )


def memberships_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Membership]:
    """Memberships of every organization the user belongs to (object lookups: others are 404)."""
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.select_related("user", "organization").filter(
        organization__in=organizations_for_user(user)
    )


def invitations_pending_for_organization(organization_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(
        organization_id=organization_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def invitations_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Invitation]:
    if not user.is_authenticated:
        return Invitation.objects.none()
    return Invitation.objects.select_related("organization").filter(
        organization__in=organizations_for_user(user)
    )


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token belongs to, whatever its state (None if none does)."""
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(token_sha256=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
