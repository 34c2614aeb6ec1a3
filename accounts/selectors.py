"""Reads about organizations, memberships, invitations and API tokens; object lookups go through
accounts.scoping (an actor reaches only its organizations)."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, Invitation, Membership, Organization
from accounts.scoping import Actor, scoped


def organizations_for_user(user: User | AnonymousUser) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct()


def membership_for(*, user: User | AnonymousUser, organization_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=organization_id)
        .first()
    )


def default_membership(user: User | AnonymousUser) -> Membership | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user)
        .order_by("organization__name")
        .first()
    )


def api_tokens_for(*, user: User, organization_id: int) -> QuerySet[ApiToken]:
    """The user's own tokens in one organization, newest first (revoked ones included)."""
    return ApiToken.objects.filter(user=user, organization_id=organization_id)


def api_token_for_user(*, user: User, pk: int) -> ApiToken | None:
    return ApiToken.objects.filter(user=user, pk=pk).first()


def memberships_for_organization(organization_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user")
        .filter(organization_id=organization_id)
        .order_by("user__username")
    )


def memberships_for(actor: Actor) -> QuerySet[Membership]:
    """Memberships of the organizations the actor reaches (object lookups: others are 404)."""
    return scoped(Membership.objects.select_related("user", "organization"), actor)


def invitations_pending_for_organization(organization_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(
        organization_id=organization_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def invitations_for(actor: Actor) -> QuerySet[Invitation]:
    return scoped(Invitation.objects.select_related("organization"), actor)


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token belongs to, whatever its state (None if none does)."""
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(token_sha256=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
