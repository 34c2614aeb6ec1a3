"""The pages of runs, evidence and datasets: each renders for the right persona, the live progress
fragment, keyboard review, and the layout's accessibility and offline promises."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from matcher.models import MatchRun, RowResult
from matcher.reports import selectors as report_selectors
from matcher.reports import services as report_services
from matcher.review import selectors as review_selectors
from matcher.review import services as review
from matcher.runs.watchdog import match_runs_check
from matcher.templatetags.trainwatch import duration, optional_url
from tests.factories import PASSWORD, Built, MatchRunFactory
from uploads.models import Catalog


def signed_in(client: Client, username: str) -> Client:
    client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


def running_run(built: Built, *, done: int = 3, seconds: int = 30) -> MatchRun:
    """A second run of the same catalog, half way through."""
    return MatchRunFactory(
        catalog=built.catalog,
        status=MatchRun.Status.RUNNING,
        engine_version="score-1/norm-1",
        thresholds={"strong": 90, "possible": 75},
        total_rows=6,
        rows_done=done,
        started_at=timezone.now() - dt.timedelta(seconds=seconds),
        dataset_versions=[d.current_version for d in built.datasets.values()],
    )


def htmx_get(client: Client, url: str, **params: str) -> Any:
    return client.get(url, params, HTTP_HX_REQUEST="true")


# --- layout -------------------------------------------------------------------------------


def test_layout_has_landmarks_skip_link_and_loads_htmx_from_our_own_static_files(
    client: Client, alice: Any
) -> None:
    body = signed_in(client, "alice").get(reverse("dashboard")).content.decode()
    assert '<a class="skip-link" href="#main">Skip to content</a>' in body
    assert '<header class="top">' in body and '<nav aria-label="Main"' in body
    assert '<main id="main"' in body
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in body
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', body), "no CDN"
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]+\"\}'>", body)
    # Sign out is a POST form, not a link.
    assert f'<form method="post" action="{reverse("logout")}">' in body


def test_the_account_menu_offers_to_change_the_password(client: Client, rita: Any) -> None:
    body = signed_in(client, "rita").get(reverse("dashboard")).content.decode()
    menu = body[body.index('<details class="menu">') : body.index("</details>")]
    assert f'<a href="{reverse("password_change")}">Change password</a>' in menu


def test_the_upload_link_is_shown_to_those_who_may_upload(
    client: Client, bob: Any, rita: Any
) -> None:
    upload = f'href="{reverse("catalog-upload")}"'
    assert upload in signed_in(client, "bob").get(reverse("dashboard")).content.decode()
    assert upload not in signed_in(client, "rita").get(reverse("dashboard")).content.decode()


def test_optional_url_is_empty_for_a_route_that_is_not_installed() -> None:
    assert optional_url("dashboard") == "/"
    assert optional_url("run-detail", 7) == "/runs/7/"
    assert optional_url("no-such-route") == ""


def test_durations_read_as_people_say_them() -> None:
    assert duration(12.4) == "12 s"
    assert duration(95) == "1 min 35 s"
    assert duration(7260) == "2 h 1 min"
    assert duration(None) == ""


def test_the_sign_in_page_has_labelled_fields_and_a_sign_in_button(client: Client) -> None:
    body = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Username</label>' in body
    assert '<label for="id_password">Password</label>' in body
    assert '<button type="submit" class="primary">Sign in</button>' in body


# --- dashboard ----------------------------------------------------------------------------


def test_dashboard_lists_catalogs_and_runs_and_polls_only_unfinished_runs(
    built: Built, client: Client, bob: Any
) -> None:
    live = running_run(built)
    body = signed_in(client, "bob").get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("catalog-detail", args=[built.catalog.pk])}"' in body
    assert "catalog.xlsx" in body and "Invalid rows" in body
    poll = f'hx-get="{reverse("run-progress", args=[live.pk])}?compact=1"'
    assert poll in body and 'hx-trigger="every 2s"' in body
    assert f'hx-get="{reverse("run-progress", args=[built.run.pk])}' not in body
    assert 'data-status="finished"' in body and 'data-status="running"' in body


def test_the_dashboard_shows_each_finished_runs_overlap_as_its_report_does(
    built: Built, client: Client, bob: Any
) -> None:
    live = running_run(built)
    report_services.report_prepare(run=built.run)
    built.run.refresh_from_db()
    summary = report_selectors.report_summary(built.run)
    body = html.unescape(signed_in(client, "bob").get(reverse("dashboard")).content.decode())
    rows = {
        pk: body.split(f'href="{reverse("run-detail", args=[pk])}"', 1)[1].split("</tr>", 1)[0]
        for pk in (built.run.pk, live.pk)
    }
    share = f"{100 * summary.matched / summary.rows:.1f}%"
    expected = f"<strong>{summary.matched}</strong> of {summary.rows} rows ({share})"
    assert expected in rows[built.run.pk], rows[built.run.pk]
    assert summary.matched == 4 and summary.rows == 6  # the report's own headline
    assert "when done" in rows[live.pk] and "<meter" not in rows[live.pk]


def test_an_outsiders_dashboard_shows_nothing_of_the_label(
    built: Built, client: Client, charlie: Any
) -> None:
    body = signed_in(client, "charlie").get(reverse("dashboard")).content.decode()
    assert "catalog.xlsx" not in body and f"Run #{built.run.pk}" not in body


# --- run page and its live progress -------------------------------------------------------


def test_run_page_shows_live_progress_while_the_run_is_running(
    built: Built, client: Client, bob: Any
) -> None:
    run = running_run(built, done=3, seconds=30)
    body = signed_in(client, "bob").get(reverse("run-detail", args=[run.pk])).content.decode()
    assert '<progress id="run-progress" max="100" value="50"' in body
    assert 'id="run-status" class="status status-running" data-status="running"' in body
    # 3 rows in about 30 s: 0.1 rows/s, and the 3 rows left take about as long again.
    assert "0.1 rows/s" in body
    assert "Time left" in body and re.search(r"about (29|3\d) s", body)
    assert f'hx-get="{reverse("run-progress", args=[run.pk])}"' in body
    assert 'aria-live="polite"' in body
    assert 'id="cancel-run" data-confirm=' in body and ">Cancel run</button>" in body


def live_region(body: str) -> str:
    start = body.index('<div id="run-live"')
    return body[start : body.index('<details id="run-settings">', start)]


def test_when_and_by_whom_a_run_started_is_in_the_live_region(
    built: Built, client: Client, bob: Any, alice: Any
) -> None:
    run = running_run(built)
    MatchRun.objects.filter(pk=run.pk).update(
        status=MatchRun.Status.QUEUED, started_at=None, created_by=alice
    )
    signed_in(client, "bob")
    page = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "not started yet by alice" in live_region(page)
    assert "(not yet)" not in page
    # Once a worker takes the run, the next poll says when it started.
    started = timezone.now()
    MatchRun.objects.filter(pk=run.pk).update(status=MatchRun.Status.RUNNING, started_at=started)
    fragment = htmx_get(client, reverse("run-progress", args=[run.pk])).content.decode()
    local = timezone.localtime(started).strftime("%Y-%m-%d %H:%M")
    assert f"Started {local} by alice" in fragment
    assert "not started yet" not in fragment and 'id="run-waiting"' not in fragment


def test_a_run_waiting_for_its_catalogs_rows_says_so_and_keeps_polling(
    built: Built, client: Client, bob: Any
) -> None:
    run = running_run(built, done=0)
    MatchRun.objects.filter(pk=run.pk).update(status=MatchRun.Status.QUEUED, started_at=None)
    Catalog.objects.filter(pk=built.catalog.pk).update(status=Catalog.Status.STORING)
    signed_in(client, "bob")
    page = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    waiting = "Storing the catalog's rows; matching starts when they are in."
    assert waiting in live_region(page)
    assert f'hx-get="{reverse("run-progress", args=[run.pk])}"' in page
    fragment = htmx_get(client, reverse("run-progress", args=[run.pk]))
    assert fragment.status_code == 200 and waiting in fragment.content.decode()
    # Rows stored, the run still queued: it waits for a worker, not for the rows.
    Catalog.objects.filter(pk=built.catalog.pk).update(status=Catalog.Status.READY)
    fragment = htmx_get(client, reverse("run-progress", args=[run.pk])).content.decode()
    assert waiting not in fragment and "Waiting for a worker" in fragment


def test_a_reviewer_sees_progress_but_no_cancel_button(
    built: Built, client: Client, rita: Any
) -> None:
    run = running_run(built)
    body = signed_in(client, "rita").get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'id="run-progress"' in body and "Cancel run" not in body


def test_progress_fragment_answers_htmx_with_the_fragment_only(
    built: Built, client: Client, alice: Any
) -> None:
    run = running_run(built, done=3)
    signed_in(client, "alice")
    response = htmx_get(client, reverse("run-progress", args=[run.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "<header" not in body
    assert '<progress id="run-progress" max="100" value="50"' in body
    assert 'data-status="running"' in body
    compact = htmx_get(client, reverse("run-progress", args=[run.pk]), compact="1")
    assert compact.status_code == 200 and 'id="run-progress"' not in compact.content.decode()
    assert 'value="50"' in compact.content.decode()


def test_progress_fragment_of_a_finished_run_stops_polling_and_reloads_the_run_page(
    built: Built, client: Client, alice: Any
) -> None:
    signed_in(client, "alice")
    url = reverse("run-progress", args=[built.run.pk])
    response = htmx_get(client, url)
    assert response.status_code == 286, "htmx stops polling on 286"
    assert response["HX-Refresh"] == "true"
    assert 'data-status="finished"' in response.content.decode()
    compact = htmx_get(client, url, compact="1")
    assert compact.status_code == 286 and "HX-Refresh" not in compact


def test_progress_fragment_without_htmx_sends_the_browser_to_the_run_page(
    built: Built, client: Client, alice: Any
) -> None:
    response = signed_in(client, "alice").get(reverse("run-progress", args=[built.run.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[built.run.pk])


def test_outsider_gets_404_on_the_progress_fragment(
    built: Built, client: Client, charlie: Any
) -> None:
    signed_in(client, "charlie")
    assert htmx_get(client, reverse("run-progress", args=[built.run.pk])).status_code == 404


def test_finished_run_page_has_the_report_downloads_and_evidence_links(
    built: Built, client: Client, rita: Any
) -> None:
    body = signed_in(client, "rita").get(reverse("run-detail", args=[built.run.pk])).content
    text = body.decode()
    assert 'data-status="finished"' in text and 'value="100"' in text
    assert ">Download CSV</a>" in text and ">Download XLSX</a>" in text
    assert ">Evidence pack</a>" in text
    evidence = built.matches[(2, "alpha")]
    assert f'class="evidence-link" href="{reverse("match-evidence", args=[evidence.pk])}"' in text
    assert 'id="start-review"' in text, "a reviewer is offered to start reviewing"
    assert "hx-get" not in text, "a finished run is not polled"


def test_the_report_puts_the_rows_before_the_long_breakdowns_and_folds_them(
    built: Built, client: Client, bob: Any
) -> None:
    body = signed_in(client, "bob").get(reverse("run-detail", args=[built.run.pk])).content
    text = body.decode()
    order = [text.index(marker) for marker in ('id="overlap-h"', 'id="rows-h"', 'id="present-h"')]
    assert order == sorted(order), "overlap, then the rows, then artists and albums"
    assert text.index('id="context-h"') > text.index('id="rows-h"')
    assert '<details id="by-artist">' in text and '<details id="by-album">' in text
    assert "<summary>Artists: Aurora Lane (" in text
    assert '<details id="run-settings">' in text and "score-1/norm-1" in text


def test_the_report_shows_25_rows_a_page(built: Built, client: Client, bob: Any) -> None:
    from matcher import views

    assert views.ROWS_PER_PAGE == 25
    signed_in(client, "bob")
    rows = Catalog.objects.get(pk=built.catalog.pk).rows
    last = max(built.rows)
    for n in range(last + 1, last + 31):  # 30 more unmatched rows: 36 in all, two pages
        row = rows.create(row_number=n, artist=f"Artist {n}", title=f"Title {n}")
        built.run.row_results.create(catalog_row=row, status="unmatched")
    body = client.get(reverse("run-detail", args=[built.run.pk])).content.decode()
    assert "36 rows match these filters; showing 1\u201325." in body
    assert "Page 1 of 2" in body
    tbody = body[body.index('<table class="rows report-rows">') : body.index('<nav class="pager"')]
    assert tbody.count('<td data-label="Row">') == 25


def test_a_match_names_its_dataset_track_only_where_it_differs_from_the_row(
    built: Built, client: Client, bob: Any
) -> None:
    body = signed_in(client, "bob").get(reverse("run-detail", args=[built.run.pk])).content
    text = body.decode()
    assert "Aurora Lane \u2013 Glass (Live)" in text, "a different title is shown"
    assert "Aurora Lane \u2013 Night Drive" not in text, "the same names are not repeated"


def test_a_failed_run_says_so_clearly(built: Built, client: Client, bob: Any) -> None:
    run = running_run(built)
    MatchRun.objects.filter(pk=run.pk).update(
        status=MatchRun.Status.FAILED,
        error="The worker stopped answering during chunk 3.",
        finished_at=timezone.now(),
    )
    body = signed_in(client, "bob").get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'data-status="failed"' in body
    assert '<div class="error" role="alert" id="run-error">' in body
    assert "This run failed" in body and "The worker stopped answering during chunk 3." in body
    assert "Cancel run" not in body


def test_cancel_from_the_run_page_cancels_the_run(built: Built, client: Client, bob: Any) -> None:
    run = running_run(built)
    response = signed_in(client, "bob").post(reverse("run-cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == MatchRun.Status.CANCELLED
    body = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert 'data-status="cancelled"' in body and "was cancelled" in body


# --- evidence and keyboard review ---------------------------------------------------------


def test_evidence_page_has_the_verdict_form_status_and_keyboard_legend(
    built: Built, client: Client, rita: Any
) -> None:
    m = built.matches[(2, "beta")]
    body = signed_in(client, "rita").get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert f'action="{reverse("match-verdict", args=[m.pk])}" id="verdict-form"' in body
    assert re.search(r'value="confirmed"[^>]*aria-keyshortcuts="c"[^>]*>Confirm <kbd>', body)
    assert re.search(r'value="rejected"[^>]*aria-keyshortcuts="r"[^>]*>Reject <kbd>', body)
    assert 'id="verdict-status" data-verdict="none"' in body
    assert 'id="shortcut-legend"' in body and "<kbd>j</kbd>" in body
    assert '<label for="verdict-note">' in body
    assert '<script src="/static/js/review.js" defer></script>' in body
    # Previous and next matches in report order: row 2 alpha, row 2 beta, row 3 alpha.
    before, after = built.matches[(2, "alpha")], built.matches[(3, "alpha")]
    assert f'href="{reverse("match-evidence", args=[before.pk])}" id="prev-match"' in body
    assert f'href="{reverse("match-evidence", args=[after.pk])}" id="next-match"' in body


def test_an_exact_match_with_no_rule_says_why_none_was_needed(
    built: Built, client: Client, rita: Any
) -> None:
    m = built.matches[(2, "alpha")]
    m.evidence = {**m.evidence, "rules": [], "scores": {"artist": 100.0, "title": 100.0}}
    m.save(update_fields=["evidence"])
    body = signed_in(client, "rita").get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert "<li>none</li>" not in body
    assert "No normalization rule was needed: artist and title are identical" in body
    # A fuzzy match with no rule says what the scores compare instead.
    fuzzy = built.matches[(2, "beta")]
    fuzzy.evidence = {**fuzzy.evidence, "rules": [], "scores": {"artist": 100.0, "title": 92.0}}
    fuzzy.save(update_fields=["evidence"])
    body = client.get(reverse("match-evidence", args=[fuzzy.pk])).content.decode()
    assert "No normalization rule changed either side" in body
    assert "identical once case" not in body
    # Rules that fired are listed.
    other = built.matches[(3, "alpha")]
    body = client.get(reverse("match-evidence", args=[other.pk])).content.decode()
    assert "<li>title: version tag &#x27;live&#x27; set aside</li>" in body


def test_a_member_reads_evidence_without_a_verdict_form(
    built: Built, client: Client, bob: Any
) -> None:
    m = built.matches[(2, "alpha")]
    response = signed_in(client, "bob").get(reverse("match-evidence", args=[m.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="verdict-form"' not in body and 'id="verdict-status"' in body
    assert 'id="next-match"' in body


def test_the_verdict_status_shows_the_current_verdict(
    built: Built, client: Client, rita: Any
) -> None:
    m = built.matches[(3, "alpha")]
    review.verdict_record(match=m, user=rita, value="rejected", note="a live take")
    body = signed_in(client, "rita").get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert 'id="verdict-status" data-verdict="rejected"' in body
    assert "a live take" in body


def test_after_a_verdict_the_next_unreviewed_match_opens(
    built: Built, client: Client, rita: Any
) -> None:
    first, second, third = (built.matches[k] for k in [(2, "alpha"), (2, "beta"), (3, "alpha")])
    review.verdict_record(match=second, user=rita, value="confirmed")
    signed_in(client, "rita")
    response = client.post(
        reverse("match-verdict", args=[first.pk]), {"value": "confirmed", "then": "next"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("match-evidence", args=[third.pk]), "skips reviewed"
    page = client.get(response["Location"]).content.decode()
    assert "Here is the next match to review." in page


def test_the_last_verdict_of_a_run_stays_on_its_match_and_says_all_are_reviewed(
    built: Built, client: Client, rita: Any
) -> None:
    last = built.matches[(4, "beta")]
    for m in built.matches.values():
        if m != last:
            review.verdict_record(match=m, user=rita, value="confirmed")
    signed_in(client, "rita")
    response = client.post(
        reverse("match-verdict", args=[last.pk]), {"value": "rejected", "then": "next"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("match-evidence", args=[last.pk])
    assert "Every match of this run has a verdict now." in response.content.decode()


def test_neighbours_follow_report_order_and_unreviewed_wraps_around(
    built: Built, rita: Any
) -> None:
    order = [built.matches[k] for k in [(2, "alpha"), (2, "beta"), (3, "alpha"), (4, "beta")]]
    assert review_selectors.match_neighbours(order[0]) == (None, order[1])
    assert review_selectors.match_neighbours(order[2]) == (order[1], order[3])
    assert review_selectors.match_neighbours(order[3]) == (order[2], None)
    review.verdict_record(match=order[1], user=rita, value="unsure")
    assert review_selectors.match_next_unreviewed(order[3]) == order[0]
    assert review_selectors.run_unreviewed_count(built.run.pk) == 3


# --- datasets -----------------------------------------------------------------------------


def test_dataset_page_says_what_it_is_who_assembled_it_and_its_version(
    built: Built, client: Client
) -> None:
    alpha = built.datasets["alpha"]
    response = client.get(reverse("dataset-detail", args=[alpha.slug]))
    body = response.content.decode()
    assert response.status_code == 200, "dataset pages are public"
    assert "The alpha test dataset." in body and "Alpha Lab" in body and "CC BY 4.0" in body
    version = alpha.current_version
    assert version is not None
    assert f"<dt>Tracks</dt><dd>{version.row_count}</dd>" in body
    assert f"<dt>Version</dt><dd>{version.number}</dd>" in body
    assert version.sha256 in body


def test_dataset_list_links_to_each_dataset_page(built: Built, client: Client) -> None:
    body = client.get(reverse("dataset-list")).content.decode()
    for slug in ("alpha", "beta"):
        assert f'href="{reverse("dataset-detail", args=[slug])}"' in body


def test_an_unknown_dataset_is_a_404(client: Client, db: Any) -> None:
    assert client.get(reverse("dataset-detail", args=["no-such-set"])).status_code == 404


@pytest.mark.parametrize(
    "route", ["run-report-csv", "run-report-xlsx", "run-report-print", "run-evidence-pack"]
)
def test_a_page_download_writes_nothing_and_the_watchdog_prepares_a_missing_report(
    built: Built, client: Client, bob: Any, route: str
) -> None:
    """Figures and carried-over verdicts are stored when a run finishes (issue 16: never
    inside a GET); a done run without them (a worker lost in between) gets them from the
    watchdog, and the export is still complete meanwhile."""
    MatchRun.objects.filter(pk=built.run.pk).update(report_figures={})
    response = signed_in(client, "bob").get(reverse(route, args=[built.run.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert MatchRun.objects.get(pk=built.run.pk).report_figures == {}
    report = match_runs_check()
    assert built.run.pk in report.prepared
    figures = MatchRun.objects.get(pk=built.run.pk).report_figures
    assert figures.get("format") == report_services.FIGURES_FORMAT
    assert built.run.pk not in match_runs_check().prepared


def test_the_candidates_sentence_says_what_the_table_lists(
    built: Built, client: Client, rita: Any
) -> None:
    # "3 dataset tracks shared a key with this row; the best are:" over one listed (issue 17).
    m = built.matches[(2, "alpha")]
    result = RowResult.objects.get(run=built.run, catalog_row=m.catalog_row)
    entry = {"track": m.track_id, "reading": "credited", "kind": "exact", "confidence": 100}
    result.candidates_considered, result.top_candidates = 3, [entry]
    result.save(update_fields=["candidates_considered", "top_candidates"])
    url = reverse("match-evidence", args=[m.pk])
    body = html.unescape(signed_in(client, "rita").get(url).content.decode())
    sentence = re.sub(r"\s+", " ", body.split('id="candidates-sentence">', 1)[1].split("</p>")[0])
    assert sentence.startswith("3 candidates (a dataset track, or one reading of its title)")
    assert (
        "The 1 that scored best is listed; the other 2 scored lower, or were set aside" in sentence
    )
    assert body.count('class="this-match"') == 1
    # The table names the dataset as every page does, by its display name.
    assert f"<td>{m.dataset.name}</td>" in body

    result.candidates_considered = 1
    result.save(update_fields=["candidates_considered"])
    body = html.unescape(client.get(url).content.decode())
    assert "1 candidate (a dataset track, or one reading of its title) shared a key" in body
    assert "It is listed." in body and "the other" not in body


def test_the_track_id_in_the_evidence_heading_is_marked_to_show_as_stored(
    built: Built, client: Client, rita: Any
) -> None:
    # Headings are set in capitals by CSS; a Spotify id is case-sensitive (issue 17). The
    # browser test checks the rendered text; this checks the markup and the style rule.
    m = built.matches[(2, "alpha")]
    body = signed_in(client, "rita").get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert f'track <code class="as-stored">{m.track.track_id}</code></th>' in body
    css = (Path(settings.BASE_DIR) / "matcher/static/css/app.css").read_text()
    assert re.search(r"\.as-stored[^{]*\{[^}]*text-transform: none", css)
