"""The printable report (issue 17): the run page's figures, each confirmed match side by side with
its provenance and verdict, escaped; a download of the run page and a file of the evidence pack."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from html.parser import HTMLParser
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from matcher.reports.exports import evidence_pack_verify, evidence_pack_write
from matcher.reports.printable import report_html
from matcher.reports.selectors import report_summary
from matcher.review import services as review
from tests.factories import PASSWORD, Built

BLOCKS = {"td", "th", "tr", "dt", "dd", "p", "li", "h1", "h2", "h3", "br", "div"}


class _Report(HTMLParser):
    """The parts of the report the tests read: text by element id, the cells of each
    per-dataset row, the ids of the match articles and every link's address."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.dataset_cells: dict[str, list[str]] = {}
        self.articles: dict[str, str] = {}
        self.links: list[str] = []
        self._open: list[tuple[str, str | None, str | None]] = []  # (tag, id, dataset)
        self._text: dict[str, list[str]] = {}
        self._cells: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def _gap(self, tag: str) -> None:
        # Text of neighbouring cells and lines reads apart, as a reader sees it.
        if tag in BLOCKS:
            for parts in self._text.values():
                parts.append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._gap(tag)
        if tag == "a":
            self.links.append(a.get("href") or "")
        if tag in ("br", "meta", "col", "link"):
            return
        self._open.append((tag, a.get("id"), a.get("data-dataset")))
        if a.get("id"):
            self._text[a["id"] or ""] = []
        if a.get("data-dataset"):
            self._cells = []
        if tag == "td" and self._cells is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        self._gap(tag)
        while self._open:
            open_tag, element_id, dataset = self._open.pop()
            if element_id:
                text = " ".join("".join(self._text.pop(element_id)).split())
                self.by_id[element_id] = text
                if element_id.startswith("match-"):
                    self.articles[element_id] = text
            if open_tag == "td" and self._cell is not None and self._cells is not None:
                self._cells.append(" ".join("".join(self._cell).split()))
                self._cell = None
            if dataset and self._cells is not None:
                self.dataset_cells[dataset] = self._cells
                self._cells = None
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for parts in self._text.values():
            parts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture
def reviewed(built: Built, rita: Any) -> Built:
    """The small run with two confirmed matches, one rejected and one unsure."""
    review.verdict_record(
        match=built.matches[(2, "alpha")],
        user=rita,
        value="confirmed",
        note="Same master as our 2019 release.\n<script>alert('note')</script>",
    )
    review.verdict_record(
        match=built.matches[(4, "beta")], user=rita, value="confirmed", note="Demo take."
    )
    review.verdict_record(
        match=built.matches[(3, "alpha")], user=rita, value="rejected", note="Another song."
    )
    review.verdict_record(match=built.matches[(2, "beta")], user=rita, value="unsure")
    return built


def test_printable_report_shows_the_run_page_figures(reviewed: Built) -> None:
    run = reviewed.run
    summary = report_summary(run)
    page = _Report(report_html(run))
    assert _number(page.by_id["fig-rows"]) == summary.rows == 6
    assert _number(page.by_id["fig-matched"]) == summary.matched
    assert _number(page.by_id["fig-unmatched"]) == summary.unmatched
    assert _number(page.by_id["fig-invalid"]) == summary.invalid
    assert _number(page.by_id["fig-matches"]) == summary.matches == 4
    assert _number(page.by_id["fig-reviewed"]) == summary.reviewed == 4
    assert _number(page.by_id["fig-confirmed"]) == summary.confirmed == 2
    assert _number(page.by_id["fig-confirmed-rows"]) == summary.confirmed_rows
    assert set(page.dataset_cells) == {d.slug for d in summary.datasets} == {"alpha", "beta"}
    for d in summary.datasets:
        _name, found, share, confirmed, kinds = page.dataset_cells[d.slug]
        assert _number(found) == d.found
        assert share == f"{d.percent:.1f}%"
        assert _number(confirmed) == d.confirmed
        assert kinds == "; ".join(f"{k} {n}" for k, n in d.kind_bars if n) != ""


def test_printable_report_names_catalog_run_versions_and_datasets(reviewed: Built, alice: Any):
    run = reviewed.run
    run.created_by = alice
    run.save()
    alice.first_name, alice.last_name = "Alice", "Owner"
    alice.save()
    page = _Report(report_html(run))
    facts = page.by_id["run"]
    assert "catalog.xlsx" in facts and "c" * 64 in facts
    assert "by Alice Owner (alice)" in facts
    assert "score-1/norm-1" in facts
    assert "Normalizer version" in facts
    datasets = page.by_id["datasets"]
    for version in run.dataset_versions.all():
        assert version.sha256 in datasets
    assert "Alpha Set" in datasets and "Beta Set" in datasets


def test_printable_report_lists_confirmed_matches_with_verdict_note_and_provenance(
    reviewed: Built,
) -> None:
    page = _Report(report_html(reviewed.run))
    confirmed = {reviewed.matches[(2, "alpha")].pk, reviewed.matches[(4, "beta")].pk}
    assert set(page.articles) == {f"match-{pk}" for pk in confirmed}
    first = page.articles[f"match-{reviewed.matches[(2, 'alpha')].pk}"]
    assert first.startswith("1 of 2: catalog row 2 in Alpha Set")
    assert "Confirmed by rita on" in first
    assert "Same master as our 2019 release." in first
    assert "<script>alert('note')</script>" in first  # shown as text (escaped in the HTML)
    assert "Exact, confidence 100 of 100" in first
    assert "file alpha.csv, row 2" in first
    assert "https://example.org/alpha/a-1" in first
    assert "Track id a-1" in first
    second = page.articles[f"match-{reviewed.matches[(4, 'beta')].pk}"]
    assert second.startswith("2 of 2: catalog row 4 in Beta Set")
    assert "Open Water (demo)" in second and "Demo take." in second
    # Rejected and unsure matches are counted, never listed as confirmed.
    assert "Another song." not in page.by_id["confirmed"]
    assert f"match-{reviewed.matches[(3, 'alpha')].pk}" not in page.articles
    assert f"match-{reviewed.matches[(2, 'beta')].pk}" not in page.articles


def test_printable_report_says_so_when_nothing_is_confirmed(built: Built) -> None:
    page = _Report(report_html(built.run))
    assert page.articles == {}
    assert "No match of this run has been confirmed" in page.by_id["no-confirmed"]


def test_printable_report_escapes_catalog_and_dataset_text(reviewed: Built) -> None:
    row = reviewed.rows[2]
    row.title = '<img src=x onerror="alert(1)">Night Drive'
    row.save()
    track = reviewed.matches[(2, "alpha")].track
    track.url = "javascript:alert(document.cookie)"
    track.artist = "</td></tr></table><script>alert(2)</script>"
    track.save()
    reviewed.run.catalog.name = "<b>catalog</b>.xlsx"
    reviewed.run.catalog.save()
    html = report_html(reviewed.run)
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<script>" not in html and "&lt;script&gt;alert(2)" in html
    assert "<b>catalog</b>" not in html
    page = _Report(html)
    assert not [href for href in page.links if not href.startswith(("http://", "https://"))]
    article = page.articles[f"match-{reviewed.matches[(2, 'alpha')].pk}"]
    assert "URL javascript:alert(document.cookie)" in article  # as text
    assert "https://example.org/beta/b-2" in page.links  # an http(s) URL stays a link
    assert "<script" not in html.lower()  # the report has no script of its own either


def test_printable_report_is_a_download_of_the_run_page(reviewed: Built, client: Client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    url = reverse("run-report-print", args=[reviewed.run.pk])
    page = client.get(reverse("run-detail", args=[reviewed.run.pk])).content.decode()
    link = rf'<a class="button" href="{re.escape(url)}" download id="download-print"'
    assert re.search(link, page)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="catalog_run-{reviewed.run.pk}_printable-report_{day}.html"'
    )
    body = _Report(b"".join(response.streaming_content).decode())
    expected = _Report(report_html(reviewed.run))
    assert body.articles == expected.articles and len(body.articles) == 2
    assert body.by_id["figures"] == expected.by_id["figures"]


def test_an_outsider_gets_404_for_the_printable_report(reviewed: Built, client: Client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    assert client.get(reverse("run-report-print", args=[reviewed.run.pk])).status_code == 404


def test_evidence_pack_holds_the_printable_report_in_its_manifest(reviewed: Built, tmp_path):
    target = tmp_path / "pack.zip"
    manifest = evidence_pack_write(reviewed.run, target)
    entry = next(f for f in manifest["files"] if f["path"] == "report.html")
    with zipfile.ZipFile(target) as zf:
        data = zf.read("report.html")
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert entry["bytes"] == len(data)
    page = _Report(data.decode("utf-8"))
    assert len(page.articles) == 2
    assert evidence_pack_verify(target) == []
    # Altered after the fact, the report no longer verifies.
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(target) as src, zipfile.ZipFile(altered, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "report.html":
                body = body.replace(b"Demo take.", b"Master take.")
            dst.writestr(item, body)
    assert evidence_pack_verify(io.BytesIO(altered.read_bytes())) == [
        "report.html does not match its SHA-256 in the manifest"
    ]
