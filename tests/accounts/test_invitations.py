"""Invitations by link: sending, accepting (signed in or with a new account), expiry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership
from accounts.services import (
    MembershipError,
    invitation_accept,
    invitation_create,
    invitation_revoke,
)
from tests.factories import PASSWORD, UserFactory


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)


def _link_from_mail() -> str:
    assert len(mail.outbox) == 1
    found = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", mail.outbox[0].body)
    assert found is not None, mail.outbox[0].body
    return found.group(1)


def test_an_owner_invites_by_email_and_the_link_expires_after_the_ttl(
    client, settings, label, alice
):
    settings.INVITATION_TTL_HOURS = 48
    _login(client, "alice")
    response = client.post(
        reverse("org-members"), {"email": "dora@example.com", "role": "reviewer"}
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.organization == label
    assert invitation.role == "reviewer"
    assert invitation.invited_by == alice
    expected = timezone.now() + timedelta(hours=48)
    assert abs((invitation.expires_at - expected).total_seconds()) < 60
    link = _link_from_mail()
    assert mail.outbox[0].to == ["dora@example.com"]
    assert "Northern Lights Records" in mail.outbox[0].subject
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_sha256  # only the hash is stored
    assert len(invitation.token_sha256) == 64


def test_a_new_person_creates_an_account_and_joins_signed_in(client, label, alice):
    _login(client, "alice")
    client.post(reverse("org-members"), {"email": "dora@example.com", "role": "member"})
    link = _link_from_mail()
    client.logout()

    page = client.get(link)
    assert page.status_code == 200
    assert "Join Northern Lights Records" in page.content.decode()
    response = client.post(
        link,
        {"username": "dora", "password1": "s3cret-pass-phrase", "password2": "s3cret-pass-phrase"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    dora = get_user_model().objects.get(username="dora")
    assert dora.email == "dora@example.com"
    assert Membership.objects.get(user=dora).role == "member"
    assert Membership.objects.get(user=dora).organization == label
    # Signed in, in the new organization.
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.wsgi_request.user == dora
    assert dashboard.wsgi_request.membership.organization == label
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == dora
    assert invitation.accepted_at is not None


def test_the_new_account_password_is_checked_by_the_validators(client, label, alice):
    _, token = invitation_create(
        organization=label, email="d@example.com", role="member", invited_by=alice
    )
    link = reverse("invitation-accept", args=[token])
    response = client.post(
        link, {"username": "dora", "password1": "12345678", "password2": "12345678"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "too common" in body or "entirely numeric" in body
    mismatch = client.post(
        link,
        {"username": "dora", "password1": "s3cret-pass-phrase", "password2": "other-pass-phrase"},
    )
    assert mismatch.status_code == 400
    assert "match" in mismatch.content.decode()
    assert "password2" in mismatch.context["form"].errors
    taken = client.post(
        link,
        {"username": "alice", "password1": "s3cret-pass-phrase", "password2": "s3cret-pass-phrase"},
    )
    assert taken.status_code == 400
    assert "already exists" in taken.content.decode()
    assert not get_user_model().objects.filter(username="dora").exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_signed_in_user_joins_with_one_click_and_keeps_other_organizations(
    client, label, other_label, alice, charlie
):
    _, token = invitation_create(
        organization=label, email="charlie@example.com", role="reviewer", invited_by=alice
    )
    _login(client, "charlie")
    link = reverse("invitation-accept", args=[token])
    page = client.get(link)
    assert page.status_code == 200
    assert "signed in as charlie" in page.content.decode()
    response = client.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(user=charlie, organization=label).role == "reviewer"
    assert Membership.objects.get(user=charlie, organization=other_label).role == "owner"
    # The organization just joined becomes the current one.
    assert client.get(reverse("dashboard")).wsgi_request.membership.organization == label


def test_an_existing_member_gets_a_clear_message_and_keeps_their_role(client, label, alice, bob):
    _, token = invitation_create(
        organization=label, email="bob@example.com", role="owner", invited_by=alice
    )
    _login(client, "bob")
    link = reverse("invitation-accept", args=[token])
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 200
        assert "already a member of Northern Lights Records" in response.content.decode()
    assert Membership.objects.get(user=bob, organization=label).role == "member"
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.parametrize("state", ["expired", "revoked", "used"])
def test_an_unusable_invitation_answers_410_with_a_reason(client, label, alice, state):
    invitation, token = invitation_create(
        organization=label, email="d@example.com", role="member", invited_by=alice
    )
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        expected = "expired"
    elif state == "revoked":
        invitation_revoke(invitation=invitation, by=alice)
        expected = "withdrawn"
    else:
        invitation_accept(invitation=invitation, user=UserFactory(username="dora"))
        expected = "already been used"
    link = reverse("invitation-accept", args=[token])
    for response in (
        client.get(link),
        client.post(
            link,
            {
                "username": "eve",
                "password1": "s3cret-pass-phrase",
                "password2": "s3cret-pass-phrase",
            },
        ),
    ):
        assert response.status_code == 410
        assert expected in response.content.decode()
    assert not get_user_model().objects.filter(username="eve").exists()


def test_an_unknown_link_answers_404_with_a_message(client, db):
    response = client.get(reverse("invitation-accept", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_an_invitation_is_used_only_once(label, alice, bob):
    invitation, _ = invitation_create(
        organization=label, email="d@example.com", role="member", invited_by=alice
    )
    dora = UserFactory(username="dora")
    invitation_accept(invitation=invitation, user=dora)
    with pytest.raises(MembershipError, match="already been used"):
        invitation_accept(invitation=invitation, user=UserFactory(username="eve"))


def test_only_owners_invite(label, bob, rita):
    from django.core.exceptions import PermissionDenied

    for user in (bob, rita):
        with pytest.raises(PermissionDenied):
            invitation_create(
                organization=label, email="x@example.com", role="member", invited_by=user
            )


def test_an_owner_withdraws_an_invitation_from_the_members_page(client, label, alice):
    invitation, token = invitation_create(
        organization=label, email="d@example.com", role="member", invited_by=alice
    )
    _login(client, "alice")
    assert "d@example.com" in client.get(reverse("org-members")).content.decode()
    response = client.post(reverse("org-invitation-revoke", args=[invitation.pk]), follow=True)
    assert "The invitation to d@example.com was withdrawn" in response.content.decode()
    assert "invitation-list" not in response.content.decode()
    assert client.get(reverse("invitation-accept", args=[token])).status_code == 410


def test_a_bad_invitation_form_says_what_is_wrong(client, label, alice):
    _login(client, "alice")
    response = client.post(reverse("org-members"), {"email": "not-an-address", "role": "member"})
    assert response.status_code == 400
    assert "valid email" in response.content.decode()
    assert not Invitation.objects.exists()
