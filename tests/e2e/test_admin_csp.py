"""The Django admin under the site's Content-Security-Policy (issue 18): its pages load their
scripts and styles from this site, and the policy blocks nothing they need. The `page` fixture
fails the test on any "Content Security Policy" console message; this test also checks that
the admin's own scripts ran (the changelist's action counter and the filter sidebar)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Organization

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "an-admin-passphrase-42"


def test_the_admin_pages_work_under_the_content_security_policy(page: Any, shots: Any) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    Organization.objects.create(name="Northern Lights Records", slug="northern-lights")
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")
    assert "Site administration" in page.content()

    page.goto("/admin/accounts/organization/")
    page.locator("#action-toggle").check()
    # actions.js counts the selection: it only runs if the policy let the admin's script load.
    page.locator(".action-counter").get_by_text("1 of 1 selected").wait_for()
    shots(page, "admin-changelist")

    page.goto("/admin/accounts/organization/add/")
    page.fill("#id_name", "Southern Cross Music")
    page.fill("#id_slug", "southern-cross")
    # inlines.js adds a membership form: the admin's scripts run under the policy.
    forms = page.locator(".dynamic-memberships").count()
    page.locator(".add-row a").first.click()
    assert page.locator(".dynamic-memberships").count() == forms + 1
    shots(page, "admin-add-organization")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/accounts/organization/")
    assert Organization.objects.filter(name="Southern Cross Music").exists()
    created = Organization.objects.get(slug="southern-cross")
    page.goto(f"/admin/accounts/organization/{created.pk}/change/")
    assert page.locator("#id_name").input_value() == "Southern Cross Music"
    page.goto("/admin/auth/user/")
    page.locator("#changelist-filter").wait_for()  # the filter sidebar (its script toggles it)
    assert not page.errors, page.errors
