"""Staff administer organizations, memberships, tokens and invitations in the Django admin."""

from __future__ import annotations

from django.urls import reverse

from accounts.services import api_token_create, invitation_create


def test_only_staff_reach_the_admin(client, label, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_see_organizations_tokens_and_invitations_but_never_keys(client, label, alice):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x-long-pass-1")
    token, key = api_token_create(user=alice, organization=label, name="ci")
    invitation_create(organization=label, email="d@example.com", role="member", invited_by=alice)
    client.force_login(admin)
    assert client.get(reverse("admin:accounts_organization_changelist")).status_code == 200
    page = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert page.status_code == 200
    assert key not in page.content.decode()
    assert token.prefix in page.content.decode()
    invitations = client.get(reverse("admin:accounts_invitation_changelist"))
    assert "d@example.com" in invitations.content.decode()
    # Tokens and invitations are made where their secret can be shown once: not in the admin.
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    assert client.get(reverse("admin:accounts_invitation_add")).status_code == 403
