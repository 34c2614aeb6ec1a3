"""Writes for organizations, memberships, invitations and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from accounts.authentication import KEY_PREFIX, key_hash
from accounts.models import ApiToken, Invitation, Membership, Organization, Role
from accounts.permissions import MANAGE
from accounts.scoping import require, user_actor


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    clean = slugify(slug)
    if not clean:
        raise ValueError(f"{slug!r} is not a usable organization slug (use letters, digits, -)")
    org, _ = Organization.objects.get_or_create(slug=clean, defaults={"name": name or slug})
    return org


@transaction.atomic
def membership_set(
    *, organization: Organization, user: User, role: str = Role.MEMBER
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "") -> User:
    user_model = get_user_model()
    return user_model.objects.create_user(username=username, password=password, email=email)


def api_token_create(*, user: User, organization: Organization, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` in ``organization`` and its key, which is never stored or shown
    again (only its SHA-256 is kept)."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name (what or where it is used).")
    if len(name) > ApiToken._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValueError("The token name is too long (100 characters at most).")
    if not Membership.objects.filter(user=user, organization=organization).exists():
        raise PermissionError(f"{user} is not a member of {organization}.")
    for _ in range(5):
        prefix = secrets.token_hex(6)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user, organization=organization, name=name, prefix=prefix, key_sha256=key_hash(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """Stop a token at once. Only its own user may revoke it (owners remove members instead)."""
    if token.user_id != by.pk:
        raise PermissionError("Only the token's owner can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


class MembershipError(Exception):
    """A membership or invitation change that cannot be made; the message is for the user."""


def _require_manager(*, organization: Organization, by: User) -> None:
    require(user_actor(by), MANAGE, organization_id=organization.pk)


def _check_role(role: str) -> None:
    if role not in Role.values:
        choices = ", ".join(Role.values)
        raise MembershipError(f"{role!r} is not a role (choose one of: {choices}).")


def _owners_locked(organization: Organization) -> list[int]:
    """Ids of the organization's owners, rows locked until the transaction ends, so two
    concurrent changes cannot both remove "the other" owner."""
    return list(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.OWNER)
        .values_list("pk", flat=True)
    )


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, by: User) -> Membership:
    _require_manager(organization=membership.organization, by=by)
    _check_role(role)
    owners = _owners_locked(membership.organization)
    if role != Role.OWNER and owners == [membership.pk]:
        raise MembershipError(
            f"{membership.user} is the only owner of {membership.organization}: make someone "
            "else owner first."
        )
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: User) -> None:
    """Remove someone from an organization; their API tokens there stop working too."""
    _require_manager(organization=membership.organization, by=by)
    owners = _owners_locked(membership.organization)
    if owners == [membership.pk]:
        raise MembershipError(
            f"{membership.user} is the only owner of {membership.organization}: make someone "
            "else owner first."
        )
    ApiToken.objects.filter(
        user_id=membership.user_id,
        organization_id=membership.organization_id,
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    membership.delete()


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by: User
) -> tuple[Invitation, str]:
    """A new invitation and the token for its link (shown in the e-mail only)."""
    _require_manager(organization=organization, by=invited_by)
    _check_role(role)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email.strip(),
        role=role,
        token_sha256=invitation_token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    return invitation, token


def invitation_send(*, invitation: Invitation, accept_url: str) -> None:
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "Someone"
    send_mail(
        subject=f"You are invited to {invitation.organization.name} on trainwatch",
        message=render_to_string(
            "accounts/invitation_email.txt",
            {"invitation": invitation, "inviter": inviter, "accept_url": accept_url},
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: User) -> Invitation:
    _require_manager(organization=invitation.organization, by=by)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_unusable_reason(invitation: Invitation) -> str | None:
    """Why the invitation's link no longer works, in words for its recipient (None: it works)."""
    state = invitation.state
    org = invitation.organization.name
    if state == Invitation.State.ACCEPTED:
        return f"This invitation to {org} has already been used."
    if state == Invitation.State.REVOKED:
        return f"This invitation to {org} was withdrawn. Ask its owner for a new one."
    if state == Invitation.State.EXPIRED:
        return (
            f"This invitation to {org} expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Ask its owner for a new one."
        )
    return None


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's organization in its role. The invitation is used once."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    reason = invitation_unusable_reason(invitation)
    if reason:
        raise MembershipError(reason)
    if Membership.objects.filter(user=user, organization=invitation.organization).exists():
        raise MembershipError(
            f"You are already a member of {invitation.organization.name}; the invitation was "
            "not used and your role is unchanged."
        )
    membership = Membership.objects.create(
        user=user, organization=invitation.organization, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_accept_new_user(
    *, invitation: Invitation, username: str, password: str
) -> tuple[User, Membership]:
    """Create an account (with the invitation's e-mail) and join. The caller validated the
    password against AUTH_PASSWORD_VALIDATORS (the form does)."""
    reason = invitation_unusable_reason(invitation)
    if reason:
        raise MembershipError(reason)
    user = user_create(username=username, password=password, email=invitation.email)
    return user, invitation_accept(invitation=invitation, user=user)
