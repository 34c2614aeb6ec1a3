"""Sign-in throttling (django-axes): 5 wrong passwords for a username from one address lock that
pair out, with a clear 429 page; other users and addresses are not affected."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from tests.factories import PASSWORD


def _sign_in(client, username: str, password: str, ip: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_five_failures_lock_out_even_the_right_password(client, settings, alice, bob):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = _sign_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    fifth = _sign_in(client, "alice", "wrong")
    assert fifth.status_code == 429

    response = _sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many sign-in attempts" in body
    assert "reset your password" in body
    assert "_auth_user_id" not in client.session

    # Another user from the same address, and alice from another address, still sign in.
    other = _sign_in(client, "bob", PASSWORD)
    assert other.status_code == 302
    client.logout()
    elsewhere = _sign_in(client, "alice", PASSWORD, ip="198.51.100.9")
    assert elsewhere.status_code == 302


def test_client_login_is_refused_too_while_locked_out(client, alice):
    for _ in range(5):
        assert not client.login(request=HttpRequest(), username="alice", password="wrong")
    assert not client.login(request=HttpRequest(), username="alice", password=PASSWORD)


def test_a_success_resets_the_failure_count(client, alice):
    for _ in range(4):
        _sign_in(client, "alice", "wrong")
    assert _sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _sign_in(client, "alice", "wrong").status_code == 200
    assert _sign_in(client, "alice", PASSWORD).status_code == 302


def _request(remote: str, forwarded: str | None = None) -> HttpRequest:
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_trusted_proxies_the_connecting_address_counts(settings):
    from accounts.security import client_ip_address

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip_address(_request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


def test_behind_one_proxy_a_client_cannot_choose_its_address(settings):
    from accounts.security import client_ip_address

    settings.TRUSTED_PROXY_COUNT = 1
    # The proxy appends the real client address; whatever the client sent stays on the left.
    assert client_ip_address(_request("10.0.0.2", "6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip_address(_request("10.0.0.2", "203.0.113.7")) == "203.0.113.7"
    assert client_ip_address(_request("10.0.0.2")) == "10.0.0.2"


def test_behind_a_proxy_lockouts_follow_the_forwarded_address(client, settings, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            reverse("login"),
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.1",
        )
    locked = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert locked.status_code == 429
    # The same proxy, another client: not locked out.
    other = client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert other.status_code == 302
