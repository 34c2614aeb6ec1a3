"""The members page: owners list, change roles and remove members; an organization always keeps
an owner; members and reviewers get 403, outsiders 404."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import ApiToken, Membership
from accounts.services import (
    MembershipError,
    api_token_create,
    membership_remove,
    membership_role_change,
)
from tests.factories import PASSWORD


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)


def _m(user, org) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=user, organization=org)


def test_the_owner_sees_every_member_with_their_role(client, label, alice, bob, rita, charlie):
    _login(client, "alice")
    response = client.get(reverse("org-members"))
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("alice", "bob", "rita"):
        assert name in body
    assert "charlie" not in body


@pytest.mark.parametrize("username", ["bob", "rita"])
def test_members_and_reviewers_get_403_on_the_members_page(client, label, bob, rita, username):
    _login(client, username)
    assert client.get(reverse("org-members")).status_code == 403
    assert (
        client.post(reverse("org-members"), {"email": "x@example.com", "role": "owner"}).status_code
        == 403
    )


@pytest.mark.parametrize("username", ["bob", "rita"])
def test_members_and_reviewers_cannot_change_roles_or_remove(
    client, label, alice, bob, rita, username
):
    _login(client, username)
    target = _m(alice, label)
    assert (
        client.post(reverse("org-member-role", args=[target.pk]), {"role": "reviewer"}).status_code
        == 403
    )
    assert client.post(reverse("org-member-remove", args=[target.pk])).status_code == 403
    assert _m(alice, label).role == "owner"


def test_an_outsider_gets_404_on_another_labels_members(client, label, alice, bob, charlie):
    _login(client, "charlie")
    target = _m(bob, label)
    assert (
        client.post(reverse("org-member-role", args=[target.pk]), {"role": "owner"}).status_code
        == 404
    )
    assert client.post(reverse("org-member-remove", args=[target.pk])).status_code == 404
    assert _m(bob, label).role == "member"
    # Charlie's own members page shows his organization only.
    body = client.get(reverse("org-members")).content.decode()
    assert "Rival Sounds" in body
    assert "bob" not in body


def test_the_owner_changes_a_role(client, label, alice, bob):
    _login(client, "alice")
    response = client.post(
        reverse("org-member-role", args=[_m(bob, label).pk]), {"role": "reviewer"}
    )
    assert response.status_code == 302
    assert _m(bob, label).role == "reviewer"


def test_an_unknown_role_is_refused_with_a_message(client, label, alice, bob):
    _login(client, "alice")
    response = client.post(
        reverse("org-member-role", args=[_m(bob, label).pk]), {"role": "emperor"}, follow=True
    )
    assert "Choose a role" in response.content.decode()
    assert _m(bob, label).role == "member"


def test_the_owner_removes_a_member_and_their_tokens_stop(client, label, alice, bob):
    token, _ = api_token_create(user=bob, organization=label, name="script")
    _login(client, "alice")
    response = client.post(reverse("org-member-remove", args=[_m(bob, label).pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob, organization=label).exists()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_the_last_owner_can_neither_leave_nor_be_demoted(client, label, alice, bob):
    _login(client, "alice")
    me = _m(alice, label)
    response = client.post(
        reverse("org-member-role", args=[me.pk]), {"role": "member"}, follow=True
    )
    assert "only owner" in response.content.decode()
    response = client.post(reverse("org-member-remove", args=[me.pk]), follow=True)
    assert "only owner" in response.content.decode()
    assert _m(alice, label).role == "owner"
    with pytest.raises(MembershipError):
        membership_role_change(membership=me, role="reviewer", by=alice)
    with pytest.raises(MembershipError):
        membership_remove(membership=me, by=alice)


def test_with_a_second_owner_the_first_may_step_down(label, alice, bob):
    membership_role_change(membership=_m(bob, label), role="owner", by=alice)
    membership_role_change(membership=_m(alice, label), role="member", by=alice)
    assert _m(alice, label).role == "member"
    # Now bob is the only owner: alice (a member) cannot manage anymore, and bob cannot leave.
    with pytest.raises(PermissionDenied):
        membership_role_change(membership=_m(bob, label), role="member", by=alice)
    with pytest.raises(MembershipError):
        membership_remove(membership=_m(bob, label), by=bob)
    assert Membership.objects.filter(organization=label, role="owner").count() == 1


def test_an_owner_can_leave_when_another_owner_remains(client, label, alice, bob):
    membership_role_change(membership=_m(bob, label), role="owner", by=alice)
    _login(client, "alice")
    response = client.post(reverse("org-member-remove", args=[_m(alice, label).pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert not Membership.objects.filter(user=alice, organization=label).exists()


def test_a_user_without_organization_gets_404_on_member_and_token_pages(client, db):
    from tests.factories import UserFactory

    UserFactory(username="loner").save()
    _login(client, "loner")
    assert client.get(reverse("org-members")).status_code == 404
    assert client.get(reverse("account-tokens")).status_code == 404
