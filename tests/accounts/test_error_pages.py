"""The site's own error pages (issue 17): what a visitor sees is the product, in its layout, not
Django's plain or debug pages."""

from __future__ import annotations

from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse

from config.errors import server_error
from tests.factories import PASSWORD
from tests.test_isolation import SKELETON


def test_an_unknown_address_shows_the_sites_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert 'class="brand"' in page  # the site's layout, with its navigation
    assert f'href="{reverse("dashboard")}"' in page


def test_a_role_that_may_not_upload_sees_the_sites_403_page(client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    with (SKELETON / "catalog.csv").open("rb") as fh:
        response = client.post(reverse("catalog-upload"), {"file": fh})
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and 'class="brand"' in page


def test_an_expired_form_says_so_in_the_sites_layout(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page and 'class="brand"' in page


def test_a_server_error_page_needs_no_request_context(db):
    # Django renders 500.html without context processors (the database may be what failed).
    request = RequestFactory().get("/catalogs/1/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = server_error(request)
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "boom" not in page and "Traceback" not in page
    assert "/static/" in page  # styled like the rest of the site
