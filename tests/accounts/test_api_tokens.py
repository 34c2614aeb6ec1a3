"""API tokens: creation, revocation, and the organization an API request acts in."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.authentication import key_hash
from accounts.middleware import SESSION_KEY
from accounts.models import ApiToken, Membership
from accounts.scoping import api_membership
from accounts.services import api_token_create, api_token_revoke
from tests.factories import PASSWORD


class WhoAmI(APIView):
    def get(self, request):  # type: ignore[no-untyped-def]
        membership = api_membership(request)
        if membership is None:
            return Response({"organization": None, "role": None})
        return Response({"organization": membership.organization.slug, "role": membership.role})


def _call(request):  # type: ignore[no-untyped-def]
    return WhoAmI.as_view()(request)


def _get(key_header: str):  # type: ignore[no-untyped-def]
    """A request to an authenticated API view (independent of the project's URLs)."""
    response = _call(APIRequestFactory().get("/x/", HTTP_AUTHORIZATION=key_header))
    response.render()
    return response


def test_a_token_request_acts_in_the_tokens_organization(label, other_label, alice):
    Membership.objects.create(user=alice, organization=other_label, role="reviewer")
    _, key = api_token_create(user=alice, organization=other_label, name="ci")
    request = APIRequestFactory().get("/x/", HTTP_AUTHORIZATION=f"Bearer {key}")
    response = _call(request)
    assert response.status_code == 200
    assert response.data == {"organization": other_label.slug, "role": "reviewer"}


def test_api_membership_through_the_real_middleware(client, label, other_label, alice):
    """Session requests: the organization switched to in the browser is the API's too."""
    Membership.objects.create(user=alice, organization=other_label, role="reviewer")
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    from django.test import RequestFactory

    from accounts.middleware import CurrentOrganizationMiddleware

    seen = {}

    def view(request):  # type: ignore[no-untyped-def]
        from rest_framework.request import Request

        seen["membership"] = api_membership(Request(request))
        return Response()

    request = RequestFactory().get("/x/")
    request.user = alice
    request.session = client.session
    request.session[SESSION_KEY] = other_label.pk
    CurrentOrganizationMiddleware(view)(request)
    assert seen["membership"].organization == other_label
    assert seen["membership"].role == "reviewer"


def test_the_key_is_stored_only_as_a_hash_and_has_the_documented_form(label, alice):
    token, key = api_token_create(user=alice, organization=label, name="laptop")
    assert key.startswith(f"tw_{token.prefix}_")
    assert len(key) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_sha256 == key_hash(key)
    assert key not in str(stored.__dict__)


def test_two_tokens_have_different_keys(label, alice):
    _, a = api_token_create(user=alice, organization=label, name="a")
    _, b = api_token_create(user=alice, organization=label, name="b")
    assert a != b


def test_a_token_needs_a_name_and_a_membership(label, other_label, alice):
    with pytest.raises(ValueError, match="name"):
        api_token_create(user=alice, organization=label, name="  ")
    with pytest.raises(PermissionError):
        api_token_create(user=alice, organization=other_label, name="x")


def test_a_revoked_token_gets_401(label, alice):
    token, key = api_token_create(user=alice, organization=label, name="ci")
    assert _get(f"Bearer {key}").status_code == 200
    api_token_revoke(token=token, by=alice)
    response = _get(f"Bearer {key}")
    assert response.status_code == 401


def test_only_the_tokens_user_can_revoke_it(label, alice, bob):
    token, _ = api_token_create(user=alice, organization=label, name="ci")
    with pytest.raises(PermissionError):
        api_token_revoke(token=token, by=bob)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_removing_a_member_stops_their_tokens_with_401(label, bob):
    """Decided: a token whose user left the organization answers 401, like a revoked one."""
    _, key = api_token_create(user=bob, organization=label, name="script")
    assert _get(f"Bearer {key}").status_code == 200
    Membership.objects.filter(user=bob, organization=label).delete()
    response = _get(f"Bearer {key}")
    assert response.status_code == 401
    assert "no longer a member" in response.content.decode()


def test_a_malformed_or_unknown_key_gets_401(label, alice):
    for header in ["Bearer nonsense", "Bearer tw_abc_def", "Bearer a b", "Token tw__x"]:
        response = _get(header)
        assert response.status_code == 401, header


def test_an_inactive_users_token_gets_401(label, alice):
    _, key = api_token_create(user=alice, organization=label, name="ci")
    alice.is_active = False
    alice.save()
    response = _get(f"Bearer {key}")
    assert response.status_code == 401
