"""The overlap report: headline figures on a known small run, each row filter, sort, the chart,
breakdowns, the evidence page and isolation."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.http import HttpRequest
from django.urls import reverse

from matcher.reports.selectors import (
    PAGE_SORT,
    ReportFilters,
    report_breakdown,
    report_summary,
    row_table,
)
from matcher.review import services as review
from tests.factories import PASSWORD


def _numbers(qs: Any) -> list[int]:
    return [r.catalog_row.row_number for r in qs]


# --- figures ------------------------------------------------------------------------------


def test_report_headline_counts_rows_by_status_and_by_best_kind(built):
    summary = report_summary(built.run)
    assert (summary.rows, summary.matched, summary.unmatched, summary.invalid) == (6, 4, 1, 1)
    assert summary.accounted
    # Row 7 duplicates row 2, so its best kind (exact) is counted as a row of its own.
    assert summary.by_kind == {"exact": 2, "version": 1, "possible": 1}


def test_report_counts_each_row_once_per_dataset_under_its_best_kind(built):
    datasets = {d.slug: d for d in report_summary(built.run).datasets}
    # Row 7 duplicates row 2: found in both datasets with it, as the headline counts it.
    assert (datasets["alpha"].found, datasets["alpha"].found_duplicates) == (3, 1)
    assert datasets["alpha"].by_kind == {"exact": 2, "version": 1}
    assert (datasets["beta"].found, datasets["beta"].found_duplicates) == (3, 1)
    assert datasets["beta"].by_kind == {"strong": 2, "possible": 1}
    assert datasets["beta"].share == pytest.approx(3 / 6)
    assert (datasets["beta"].matches, datasets["beta"].match_lines) == (2, 3)
    assert datasets["alpha"].licence == "CC BY 4.0"
    assert datasets["alpha"].tracks == 2


def test_review_figures_count_reviewed_unreviewed_and_confirmed_separately(built, rita):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(2, "beta")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(4, "beta")], user=rita, value="rejected")
    summary = report_summary(built.run)
    assert (summary.matches, summary.reviewed, summary.unreviewed) == (4, 3, 1)
    assert summary.confirmed == 2
    # Two confirmed matches of the same row are one row, plus row 7 that duplicates it.
    assert summary.confirmed_rows == 2
    datasets = {d.slug: d for d in summary.datasets}
    assert (datasets["alpha"].confirmed, datasets["beta"].confirmed) == (2, 2)


def test_breakdown_by_artist_and_album_ranks_the_most_found_first(built):
    artists = report_breakdown(built.run, by="artist")
    assert [(b.label, b.found, b.rows) for b in artists] == [
        ("Aurora Lane", 3, 3),
        ("Kite Parade", 1, 2),
    ]
    albums = report_breakdown(built.run, by="album")
    assert [(b.label, b.found) for b in albums] == [("Neon", 3), ("Tides", 1)]


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [2, 3, 4, 5, 6, 7]),
        ({"status": "invalid"}, [6]),
        ({"status": "unmatched"}, [5]),
        ({"dataset": "beta"}, [2, 4, 7]),
        ({"dataset": "alpha", "kind": "version"}, [3]),
        ({"kind": "possible"}, [4]),
        ({"conf_min": "90"}, [2, 7]),
        ({"conf_max": "80"}, [3, 4]),
        ({"conf_min": "77", "conf_max": "95"}, [2, 3, 7]),
        ({"q": "glass"}, [3]),
        ({"q": "KITE"}, [4, 5]),
        ({"q": "kite", "status": "matched"}, [4]),
        ({"kind": "not-a-kind"}, [2, 3, 4, 5, 6, 7]),
    ],
)
def test_each_row_filter_keeps_exactly_the_rows_it_describes(built, query, expected):
    filters = ReportFilters.from_query({"sort": "row", **query})
    assert _numbers(row_table(built.run, filters=filters)) == expected


def test_review_filter_separates_reviewed_from_unreviewed_rows(built, rita):
    review.verdict_record(match=built.matches[(4, "beta")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(3, "alpha")], user=rita, value="rejected")

    def rows(**query: str) -> list[int]:
        return _numbers(row_table(built.run, filters=ReportFilters.from_query(query)))

    assert rows(review="confirmed") == [4]
    assert rows(review="rejected") == [3]
    assert rows(review="reviewed") == [3, 4]
    assert rows(review="unreviewed") == [2, 7]
    assert rows(review="unsure") == []


def test_sort_by_confidence_puts_the_strongest_rows_first(built):
    ordered = _numbers(
        row_table(built.run, filters=ReportFilters.from_query({"sort": "-confidence"}))
    )
    assert ordered[:2] == [2, 7]
    assert ordered[2:4] == [3, 4]
    by_title = _numbers(row_table(built.run, filters=ReportFilters.from_query({"sort": "title"})))
    assert by_title[0] == 3  # "Glass"


def test_a_filter_value_that_cannot_be_used_is_not_applied_and_says_so():
    # They were dropped or clamped in silence (issue 17): the table was not what was asked for.
    f = ReportFilters.from_query({"conf_min": "-5", "conf_max": "250", "sort": "drop table"})
    assert (f.conf_min, f.conf_max, f.sort) == (None, None, PAGE_SORT)
    assert f.problems == [
        "There is no sort order “drop table”; best matches first.",
        "Confidence from “-5” is not a whole number from 0 to 100; ignored.",
        "Confidence to “250” is not a whole number from 0 to 100; ignored.",
    ]
    f = ReportFilters.from_query({"conf_min": "90", "conf_max": "50", "kind": "remix"})
    assert (f.conf_min, f.conf_max, f.kind) == (None, None, "")
    assert f.problems == [
        "There is no match kind “remix”; all are shown.",
        "Confidence from 90 to 50 is an empty range (the first is above the second); the range "
        "is not applied.",
    ]
    f = ReportFilters.from_query({"dataset": "gamma"}, datasets={"alpha": "Alpha Set"})
    assert f.dataset == "" and f.problems == [
        "This run did not match against a dataset “gamma”; all are shown."
    ]
    good = ReportFilters.from_query({"conf_min": "77", "conf_max": "95", "dataset": "alpha"})
    assert (good.conf_min, good.conf_max, good.dataset, good.problems) == (77, 95, "alpha", [])


def test_the_report_opens_on_the_best_matches_with_sheet_order_one_click_away(built, client, bob):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    url = reverse("run-detail", args=[built.run.pk])
    body = client.get(url).content.decode()
    table = body.split('class="rows report-rows"', 1)[1]
    cells = re.findall(r'<td data-label="Row">(\d+)</td>', table)
    assert cells[:2] == ["2", "7"] and cells[-1] in {"5", "6"}, cells  # matched rows first
    link = re.search(r'<a href="([^"]+)" id="sheet-order">', body)
    assert link is not None
    body = client.get(url + html.unescape(link.group(1))).content.decode()
    cells = re.findall(
        r'<td data-label="Row">(\d+)</td>', body.split('class="rows report-rows"')[1]
    )
    assert cells == ["2", "3", "4", "5", "6", "7"]
    assert 'id="best-first"' in body


def test_the_report_says_which_filters_it_could_not_apply(built, client, bob):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    url = reverse("run-detail", args=[built.run.pk])
    body = html.unescape(client.get(url, {"conf_min": "95", "conf_max": "10"}).content.decode())
    assert 'id="filter-problems" role="alert"' in body
    assert "Confidence from 95 to 10 is an empty range" in body
    body = html.unescape(client.get(url, {"dataset": "nope"}).content.decode())
    assert "This run did not match against a dataset “nope”" in body
    body = html.unescape(client.get(url, {"q": "glass"}).content.decode())
    assert 'id="filter-problems"' not in body
    assert "1 row matches these filters." in body  # not "1 row match"


# --- pages --------------------------------------------------------------------------------


def test_report_page_shows_figures_chart_context_and_filtered_rows(built, client, bob):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.get(reverse("run-detail", args=[built.run.pk]), {"dataset": "beta"})
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "4 of 6 catalog rows found in at least one dataset (1 of them a duplicate of an "
        "earlier row, reported with its original&#x27;s matches); 1 not found; 1 invalid"
    ) in body
    assert '<svg role="img" aria-labelledby="chart-title chart-desc"' in body
    assert "Alpha Set: 3 of 6 catalog rows (50.0%), 2 exact, 1 version." in body
    assert "not proof that a model was trained" in body
    assert "Alpha Lab" in body and "CC BY 4.0" in body
    assert "3 rows match these filters." in body
    assert "Aurora Lane" in body and "Neon" in body
    # Bob is a member: he reads but cannot review.
    assert "run-bulk-verdict" not in body and 'name="value"' not in body


def test_report_page_paginates_and_keeps_filters_in_page_links(built, client, alice, settings):
    from matcher import views

    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    before = views.ROWS_PER_PAGE
    views.ROWS_PER_PAGE = 2
    try:
        response = client.get(reverse("run-detail", args=[built.run.pk]), {"q": "a", "page": "2"})
    finally:
        views.ROWS_PER_PAGE = before
    body = response.content.decode()
    assert "Page 2 of" in body
    assert 'href="?q=a&amp;page=1"' in body
    assert 'href="?q=a&amp;page=3"' in body


def test_outsider_gets_404_on_every_report_page(built, client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    m = built.matches[(2, "alpha")]
    for url in (
        reverse("run-detail", args=[built.run.pk]),
        reverse("run-diff", args=[built.run.pk]),
        reverse("run-report-csv", args=[built.run.pk]),
        reverse("run-report-xlsx", args=[built.run.pk]),
        reverse("run-report-print", args=[built.run.pk]),
        reverse("run-evidence-pack", args=[built.run.pk]),
        reverse("match-evidence", args=[m.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("match-verdict", args=[m.pk]),
        reverse("run-bulk-verdict", args=[built.run.pk]),
        reverse("run-rerun", args=[built.run.pk]),
    ):
        assert client.post(url, {"value": "confirmed", "kind": "exact"}).status_code == 404, url


def test_evidence_page_shows_both_sides_provenance_and_other_candidates(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    m = built.matches[(4, "beta")]
    body = client.get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert "Open Water (demo)" in body and "Open Water" in body
    assert "https://example.org/beta/b-2" in body
    assert "beta.csv" in body
    assert "1.5 s" in body
    # The runner-up candidate is shown with its artist and title, loaded from its track.
    assert "Open Waters" in body
    assert "(this match)" in body
    assert f'action="{reverse("match-verdict", args=[m.pk])}"' in body
