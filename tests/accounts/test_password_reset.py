"""Password reset by e-mail, with Django's views and our templates."""

from __future__ import annotations

import re

from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from tests.factories import PASSWORD

NEW_PASSWORD = "a brand new long passphrase 42"


def test_the_reset_mail_is_sent_and_its_link_sets_a_new_password(client, settings, alice):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice.email = "alice@northern-lights.example"
    alice.save()

    response = client.post(reverse("password_reset"), {"email": alice.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert message.subject == "Reset your trainwatch password"
    link = re.search(r"https?://[^/\s]+(/password/reset/\S+/\S+/)", message.body)
    assert link is not None, message.body

    # Django redirects the token URL to a session-backed "set-password" URL first.
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    assert "Choose a new password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("password_reset_complete")

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not alice.check_password(PASSWORD)
    assert client.login(request=HttpRequest(), username="alice", password=NEW_PASSWORD)


def test_an_unknown_address_sends_nothing_but_looks_the_same(client, settings, alice):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_used_or_forged_link_says_so(client, db):
    response = client.get(
        reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "forged-token"})
    )
    assert response.status_code == 200
    assert "This link no longer works" in response.content.decode()


def test_the_pages_use_our_templates(client):
    body = client.get(reverse("password_reset")).content.decode()
    assert "Send reset link" in body
    assert "trainwatch" in body


def test_the_sign_in_page_links_to_password_reset(client):
    body = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in body


def test_the_sign_in_page_offers_the_reset_link_once(client):
    # It was offered twice (issue 17): a fixed link and the optional one.
    page = client.get(reverse("login")).content.decode()
    assert page.count("Forgot your password?") == 1
    assert f'href="{reverse("password_reset")}"' in page
