"""Reads scoped to a user: which organizations they belong to and in what role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from accounts.models import Membership, Organization


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
