"""Content-Security-Policy on every page: scripts from this site only, no inline handlers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
# An inline event handler (onclick=, onchange=...) or htmx's hx-on (evaluated as code): both
# need 'unsafe-inline' / 'unsafe-eval', which the policy does not give.
INLINE_HANDLER = re.compile(r"\s(?:on[a-z]+|hx-on(?::[\w:-]+)?)\s*=", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0]] = words[1:]
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["search", "login", "dataset-list", "api-docs"])
def test_pages_send_a_policy_without_inline_scripts(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    body = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, flags=re.S)
    assert scripts, "each page loads its scripts"
    for attributes, content in scripts:
        assert "src=" in attributes and not content.strip(), "an inline script would be blocked"


@pytest.mark.django_db
def test_the_api_docs_script_comes_from_this_site(client):
    page = client.get(reverse("api-docs")).content.decode()
    src = re.search(r'<script src="([^"]*\?[^"]*script[^"]*)"', page)
    assert src, "the docs page loads its init script by URL"
    script = client.get(src.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_no_template_has_an_inline_handler():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in ROOT.glob("*/templates/**/*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INLINE_HANDLER.search(line)
    ]
    assert offenders == []
