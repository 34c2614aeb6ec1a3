"""A user in two organizations switches between them and sees each one's data only."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest
from django.urls import reverse

from accounts.models import Membership
from accounts.services import api_token_create
from tests.factories import PASSWORD
from uploads.services import catalog_create

SKELETON = Path(__file__).parent.parent / "data" / "skeleton"


def _catalog(org, filename: str):  # type: ignore[no-untyped-def]
    with (SKELETON / "catalog.csv").open("rb") as fh:
        return catalog_create(organization=org, stream=fh, filename=filename)


def test_switching_organization_changes_what_the_pages_show(
    client, label, other_label, alice, charlie
):
    Membership.objects.create(user=alice, organization=other_label, role="reviewer")
    _catalog(label, "northern-catalog.csv")
    _catalog(other_label, "rival-catalog.csv")
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)

    # Default: the first organization by name (Northern Lights Records).
    body = client.get(reverse("dashboard")).content.decode()
    assert "northern-catalog" in body
    assert "rival-catalog" not in body

    response = client.post(reverse("org-switch"), {"org": other_label.pk})
    assert response.status_code == 302
    page = client.get(reverse("dashboard"))
    body = page.content.decode()
    assert page.wsgi_request.membership.organization == other_label
    assert page.wsgi_request.membership.role == "reviewer"
    assert "rival-catalog" in body
    assert "northern-catalog" not in body
    # The members page is the current organization's, where alice is only a reviewer.
    assert client.get(reverse("org-members")).status_code == 403

    client.post(reverse("org-switch"), {"org": label.pk})
    body = client.get(reverse("dashboard")).content.decode()
    assert "northern-catalog" in body
    assert "rival-catalog" not in body
    assert client.get(reverse("org-members")).status_code == 200


def test_one_cannot_switch_into_an_organization_one_is_not_in(client, label, other_label, alice):
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.post(reverse("org-switch"), {"org": other_label.pk})
    assert response.status_code == 404
    assert client.get(reverse("dashboard")).wsgi_request.membership.organization == label


def test_the_switch_redirects_only_to_this_site(client, label, alice):
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.post(
        reverse("org-switch"), {"org": label.pk, "next": "https://evil.example/phish"}
    )
    assert response["Location"] == reverse("dashboard")


def test_tokens_belong_to_the_organization_they_were_made_in(client, label, other_label, alice):
    Membership.objects.create(user=alice, organization=other_label, role="member")
    api_token_create(user=alice, organization=label, name="northern-token")
    api_token_create(user=alice, organization=other_label, name="rival-token")
    assert client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    body = client.get(reverse("account-tokens")).content.decode()
    assert "northern-token" in body and "rival-token" not in body
    client.post(reverse("org-switch"), {"org": other_label.pk})
    body = client.get(reverse("account-tokens")).content.decode()
    assert "rival-token" in body and "northern-token" not in body
