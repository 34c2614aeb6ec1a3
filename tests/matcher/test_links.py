"""Only http(s) addresses from imported data become links (issue 18: stored XSS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from matcher.datasets.importer import dataset_import
from matcher.search.services import search_terms_refresh
from matcher.templatetags.trainwatch import http_url

HEADER = "track_id,artist,title,album,duration_s,isrc,url\n"


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(document.domain)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "https://ok.example/a b",
        "",
    ],
)
def test_anything_but_an_http_address_is_not_a_link(value):
    assert http_url(value) == ""


def test_http_and_https_addresses_stay_links():
    assert http_url("https://genius.com/Hozier-take-me-to-church-lyrics") == (
        "https://genius.com/Hozier-take-me-to-church-lyrics"
    )
    assert http_url("HTTP://Example.org/x?y=1") == "HTTP://Example.org/x?y=1"


def test_an_imported_javascript_url_is_shown_as_text_on_the_public_search(db, client, tmp_path):
    path = Path(tmp_path) / "evil.csv"
    path.write_text(
        HEADER
        + "evil-1,Aurora Lane,Night Drive,,,,javascript:alert(document.domain)\n"
        + "good-1,Aurora Lane,Night Ride,,,,https://example.org/good-1\n",
        encoding="utf-8",
    )
    dataset_import(slug="evil", paths=[path], file_format="generic-csv")
    search_terms_refresh()
    body = client.get(reverse("search"), {"artist": "Aurora Lane"}).content.decode()
    assert "Night Drive" in body and "Night Ride" in body
    assert 'href="javascript:' not in body
    assert 'href="https://example.org/good-1"' in body
