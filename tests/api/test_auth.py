"""Token and session authentication, the organization a request acts in, the error body."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import key_hash
from accounts.middleware import SESSION_KEY
from accounts.models import ApiToken, Membership
from tests.api.conftest import error_of
from tests.factories import PASSWORD, token_client


def _runs_url() -> str:
    return reverse("api-runs")


def test_without_credentials_the_api_answers_401_with_the_error_body(db):
    response = APIClient().get(_runs_url())
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_made_with_the_model_authenticates(label, bob, run):
    key = "tw_abc123_" + "s3cret" * 6
    ApiToken.objects.create(
        user=bob, organization=label, name="made by hand", prefix="abc123", key_sha256=key_hash(key)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get(_runs_url())
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [run.pk]


def test_a_revoked_token_gets_401(label, bob, run):
    key = "tw_def456_" + "s3cret" * 6
    token = ApiToken.objects.create(
        user=bob, organization=label, name="old", prefix="def456", key_sha256=key_hash(key)
    )
    token.revoked_at = timezone.now()
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get(reverse("api-run-detail", args=[run.pk]))
    assert response.status_code == 401
    assert "revoked" in error_of(response)["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer tw_nope_nope", "Bearer not-a-key", "Bearer", "Bearer a b", "Token tw_x_y"],
)
def test_a_malformed_or_unknown_key_gets_401_not_500(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(_runs_url())
    assert response.status_code == 401
    error_of(response)


def test_a_token_acts_in_its_own_organization_only(label, other_label, alice, run):
    """Alice is in both labels; her token for the other label does not see this label's run."""
    Membership.objects.create(user=alice, organization=other_label, role="owner")
    client = token_client(alice, other_label)
    assert client.get(reverse("api-run-detail", args=[run.pk])).status_code == 404
    assert client.get(_runs_url()).json()["count"] == 0
    own = token_client(alice, label)
    assert own.get(reverse("api-run-detail", args=[run.pk])).status_code == 200


def test_a_session_acts_in_the_current_organization(client, label, other_label, alice, run):
    """The browsable API: signed in, the organization switched to in the browser applies."""
    Membership.objects.create(user=alice, organization=other_label, role="owner")
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    session = client.session
    session[SESSION_KEY] = label.pk
    session.save()
    assert client.get(reverse("api-run-detail", args=[run.pk])).status_code == 200
    session[SESSION_KEY] = other_label.pk
    session.save()
    assert client.get(reverse("api-run-detail", args=[run.pk])).status_code == 404


def test_the_browsable_api_renders_for_a_signed_in_user(client, bob, run):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.get(reverse("api-run-detail", args=[run.pk]), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"alice-catalog.csv" in response.content


def test_session_writes_need_the_csrf_token(bob, label, run):
    client = APIClient(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.post(reverse("api-run-cancel", args=[run.pk]))
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["detail"]


def test_token_use_is_recorded(label, bob, db):
    client = token_client(bob, label)
    token = ApiToken.objects.get(user=bob)
    assert token.last_used_at is None
    client.get(_runs_url())
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < dt.timedelta(minutes=1)


def test_validation_errors_say_what_and_where(as_, run):
    response = as_("bob").post(_runs_url(), {"catalog": "abc"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert "catalog" in error["fields"]
    assert error["detail"].startswith("catalog: ")


def test_malformed_json_is_a_400(as_, run):
    response = as_("bob").post(_runs_url(), data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_an_unknown_method_is_a_405_with_the_error_body(as_, run):
    response = as_("bob").delete(reverse("api-run-detail", args=[run.pk]))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_an_unknown_api_path_answers_the_error_body(as_, label, bob):
    client = as_("bob")
    for url in ("/api/nothing/", "/api/runs/abc/", "/api/uploads/not-a-uuid/mapping/", "/api/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert error_of(response)["code"] == "not_found"
    assert client.get("/api/runs").status_code == 301
    # Writes too (they never reach a view that could check a CSRF token).
    strict = token_client(bob, label, enforce_csrf_checks=True)
    for url in ("/api/runs/null/cancel/", "/api/uploads/0/"):
        response = strict.post(url) if "cancel" in url else strict.delete(url)
        assert response.status_code == 404, url
        error_of(response)
