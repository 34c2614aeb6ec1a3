"""The API tokens page: create (key shown once), list, revoke."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from accounts.authentication import key_hash
from accounts.models import ApiToken
from accounts.services import api_token_create
from tests.factories import PASSWORD


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)


def test_creating_a_token_shows_its_key_once(client, label, rita):
    """Reviewers may have tokens too (the API then allows what a reviewer may do)."""
    _login(client, "rita")
    response = client.post(reverse("account-tokens"), {"name": "evidence export"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=rita)
    assert token.organization == label
    key = response.context["new_key"]
    assert token.key_sha256 == key_hash(key)
    assert key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    again = client.get(reverse("account-tokens"))
    assert "evidence export" in again.content.decode()
    assert key not in again.content.decode()


def test_a_token_without_a_name_is_refused_with_a_message(client, label, alice):
    _login(client, "alice")
    response = client.post(reverse("account-tokens"), {"name": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_page_lists_only_my_tokens_in_the_current_organization(client, label, alice, bob):
    api_token_create(user=bob, organization=label, name="bobs-script")
    api_token_create(user=alice, organization=label, name="alices-script")
    _login(client, "alice")
    body = client.get(reverse("account-tokens")).content.decode()
    assert "alices-script" in body
    assert "bobs-script" not in body


def test_revoking_a_token_stops_it(client, label, alice):
    token, key = api_token_create(user=alice, organization=label, name="ci")
    _login(client, "alice")
    response = client.post(reverse("account-token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.logout()
    api = client.get(reverse("api-datasets"), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 401


def test_nobody_else_can_revoke_my_token(client, label, alice, bob, charlie):
    token, _ = api_token_create(user=bob, organization=label, name="ci")
    for username in ("alice", "charlie"):
        _login(client, username)
        response = client.post(reverse("account-token-revoke", args=[token.pk]))
        assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_needs_post(client, label, alice):
    token, _ = api_token_create(user=alice, organization=label, name="ci")
    _login(client, "alice")
    assert client.get(reverse("account-token-revoke", args=[token.pk])).status_code == 405
