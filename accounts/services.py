"""Writes for organizations and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from accounts.models import Membership, Organization, Role


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    clean = slugify(slug)
    if not clean:
        raise ValueError(f"{slug!r} is not a usable organization slug (use letters, digits, -)")
    org, _ = Organization.objects.get_or_create(slug=clean, defaults={"name": name or slug})
    return org


@transaction.atomic
def membership_set(
    *, organization: Organization, user: AbstractBaseUser, role: str = Role.MEMBER
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    user_model = get_user_model()
    return user_model.objects.create_user(username=username, password=password, email=email)
