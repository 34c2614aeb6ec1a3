"""A label's whole day in the browser: sign in, upload, map, match on a real worker while the
progress bar moves, read the report, review evidence, export, search; and a reviewer's view."""

from __future__ import annotations

import csv
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.urls import reverse

from matcher.models import Dataset, Match, MatchRun, Verdict
from tests.e2e.conftest import CHUNK_ROWS, NARROW, E2ECatalog, Shots, sign_in
from tests.factories import stored_catalog

pytestmark = pytest.mark.e2e

FINISHED_OK = "finished"
FINISHED_BAD = {"failed", "cancelled"}
RUN_TIMEOUT_S = 120.0

PROGRESS_JS = """() => {
  const bar = document.querySelector('#run-progress');
  const status = document.querySelector('#run-status');
  return {
    value: bar ? Number(bar.value) : null,
    status: status ? status.getAttribute('data-status') : null,
  };
}"""


class _Hold:
    """Freezes the worker's processes (SIGSTOP) once it has matched its first chunks, until the
    page has shown that partial progress; then lets them go on (SIGCONT). The values the page
    shows stay the real ones; the hold only makes seeing a value between 0 and 100 independent
    of how fast the machine matches (a quiet machine could otherwise finish between two polls).
    """

    def __init__(self, worker: Any, run_id: int) -> None:
        self.worker, self.run_id = worker, run_id
        self.state = "waiting"  # -> "holding" -> "released"

    def step(self, shown: float | None) -> None:
        if self.state == "waiting":
            done = MatchRun.objects.filter(pk=self.run_id).values_list("rows_done", flat=True)
            if done and done[0] > 0:
                os.killpg(self.worker.pid, signal.SIGSTOP)
                self.state = "holding"
        elif self.state == "holding" and shown is not None and 0 < shown < 100:
            self.release()

    def release(self) -> None:
        if self.state == "holding":
            os.killpg(self.worker.pid, signal.SIGCONT)
        self.state = "released"


def _watch_progress(page: Any, shots: Shots, worker: Any, run_id: int) -> list[float]:
    """Poll the run page's own live progress (the test never reloads it) until the run ends;
    returns every distinct value `#run-progress` showed, in order."""
    from playwright.sync_api import Error as PlaywrightError

    seen: list[float] = []
    status = None
    hold = _Hold(worker, run_id)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            try:
                state = page.evaluate(PROGRESS_JS)
            except PlaywrightError:  # the page reloaded itself when the run ended: read again
                page.wait_for_load_state()
                continue
            value, status = state["value"], state["status"]
            if value is not None and (not seen or seen[-1] != value):
                seen.append(value)
                if 0 < value < 100:  # the last one stays: the hold's slow-down shows less
                    shots(page, "05-progress")
            hold.step(value)
            if status == FINISHED_OK or status in FINISHED_BAD:
                break
            page.wait_for_timeout(100)
        else:
            raise AssertionError(
                f"the run page still shows {status!r} after {RUN_TIMEOUT_S:.0f} s; progress "
                f"seen: {seen}\nworker log:\n{worker.log()[-3000:]}"
            )
    finally:
        hold.release()
    print(f"progress values shown by the run page: {seen}")
    assert status == FINISHED_OK, f"run ended {status!r}\nworker log:\n{worker.log()[-3000:]}"
    return seen


def _pk(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def _download(page: Any, link: str, tmp_path: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link, exact=True).click()
    download = info.value
    assert download.failure() is None, download.failure()
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return target


@pytest.mark.worker
def test_owner_uploads_matches_reviews_exports_and_searches(
    page, shots, alice, e2e_worker, e2e_catalog: E2ECatalog, e2e_datasets, tmp_path
):
    # Sign in.
    sign_in(page, "alice")
    assert page.get_by_role("link", name=re.compile(r"^Upload")).count() >= 1
    shots(page, "01-dashboard")

    # Upload the .xlsx through the plain file input.
    page.goto(reverse("catalog-upload"))
    page.set_input_files("#id_file", str(e2e_catalog.path))
    shots(page, "02-upload")
    page.locator("form:has(#id_file)").get_by_role("button", name="Upload", exact=True).click()

    # The mapping page: columns guessed from the headers, with a preview of the first rows.
    page.wait_for_url(re.compile(r"/catalogs/upload/[0-9a-f-]{36}/$"))
    assert page.locator("select[name^=map]").count() >= 2
    preview = page.locator("table.preview, #preview, .preview").first
    assert "Chord Overstreet" in preview.inner_text()
    # The datasets to match against, by their display names (not their slugs, issue 17).
    choices = page.locator("fieldset.datasets").inner_text()
    named = [d for d in Dataset.objects.filter(current_version__isnull=False)]
    assert any(d.name != d.slug for d in named)
    for dataset in named:
        assert dataset.name in choices, (dataset.name, choices)
        assert dataset.name == dataset.slug or dataset.slug not in choices, choices
    shots(page, "03-mapping")
    page.get_by_role("button", name="Confirm mapping", exact=True).click()

    # Confirming stores the rows and starts the run: its page shows the progress.
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run = MatchRun.objects.get(pk=_pk(page.url))
    assert run.organization.memberships.filter(user=alice).exists()

    # Progress, as the page itself updates it while the worker processes the chunks.
    seen = _watch_progress(page, shots, e2e_worker, run.pk)
    assert any(0 < v < 100 for v in seen), f"never saw the bar between 0 and 100: {seen}"
    assert seen == sorted(seen), f"the progress bar went backwards: {seen}"
    page.wait_for_selector("a.evidence-link")
    assert page.locator("#run-progress").evaluate("bar => Number(bar.value)") == 100
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    assert run.rows_done == run.total_rows == e2e_catalog.rows
    assert run.chunk_count == -(-e2e_catalog.rows // CHUNK_ROWS)

    # The report: found counts per dataset, as the database has them.
    from matcher.reports.selectors import report_summary

    summary = report_summary(run)
    found = {d.slug: d.found for d in summary.datasets}
    assert set(found) == set(e2e_datasets)
    assert found["spotify-sample"] >= e2e_catalog.known - 2, found
    assert found["mirror-sample"] >= e2e_catalog.in_second - 1, found
    for d in summary.datasets:
        line = page.locator("tr", has_text=d.name).first
        assert f"{d.found:,}" in line.inner_text(), (d.slug, line.inner_text())
    shots(page, "06-report")
    shots(page, "06-report-top", full_page=False)
    run_url = page.url

    # Evidence of the first match, and a verdict on it.
    page.locator("a.evidence-link").first.click()
    page.wait_for_url(re.compile(r"/matches/\d+/$"))
    evidence_url = page.url
    match = Match.objects.get(pk=_pk(evidence_url))
    assert match.run_id == run.pk
    assert match.catalog_row.title in page.locator("main").inner_text()
    assert page.locator("#verdict-status").get_attribute("data-verdict") == "none"
    # The track id as stored, though the heading is set in capitals (issue 17): innerText is
    # the text as rendered, after CSS text-transform.
    heading = page.locator("table.side-by-side thead").inner_text()
    assert match.track.track_id in heading, (match.track.track_id, heading)
    shots(page, "07-evidence")
    confirm = page.locator("#verdict-form").get_by_role("button", name=re.compile(r"^Confirm\b"))
    with page.expect_navigation():
        confirm.click()
    verdict = Verdict.objects.get(match=match)
    assert (verdict.value, verdict.reviewed_by) == (Verdict.Value.CONFIRMED, alice)
    assert "Verdict saved" in page.locator("main").inner_text()
    page.goto(evidence_url)
    status = page.locator("#verdict-status")
    assert status.get_attribute("data-verdict") == "confirmed"
    assert re.search(r"confirmed", status.inner_text(), re.IGNORECASE), status.inner_text()
    shots(page, "08-review")

    # The exports, as the browser downloads them.
    page.goto(run_url)
    csv_file = _download(page, "Download CSV", tmp_path)
    assert csv_file.suffix == ".csv"
    with csv_file.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert list(lines[0])[:4] == ["catalog_row", "status", "dataset", "dataset_track_id"]
    assert len({line["catalog_row"] for line in lines}) == e2e_catalog.rows
    confirmed = [line for line in lines if line["verdict"] == "confirmed"]
    assert [(c["catalog_row"], c["reviewer"]) for c in confirmed] == [
        (str(match.catalog_row.row_number), "alice")
    ]
    xlsx_file = _download(page, "Download XLSX", tmp_path)
    workbook = openpyxl.load_workbook(xlsx_file, read_only=True)
    sheet = workbook["All rows"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("catalog_row", "status")
    assert len({r[0] for r in rows[1:]}) == e2e_catalog.rows
    figures_sheet = {
        r[0]: r[1] for r in workbook["Summary"].iter_rows(values_only=True) if len(r) > 1 and r[0]
    }
    workbook.close()

    # The figures of this run agree across the page, the API (as the browser's session reads
    # it), the CSV and the XLSX (issue 17: "507 of 4,600 found", "506 rows", 524 vs 525).
    api = page.request.get(reverse("api-run-report", args=[run.pk])).json()
    headline = page.locator("#fig-headline").inner_text()
    assert headline.startswith(f"{api['matched']:,} of {api['rows']:,} catalog rows found"), (
        headline,
        api["matched"],
    )
    assert api["headline"] == headline
    csv_found = {line["catalog_row"] for line in lines if line["status"] == "matched"}
    csv_match_lines = [line for line in lines if line["dataset_track_id"]]
    assert len(csv_found) == api["matched"] == figures_sheet["Rows found"]
    assert len(csv_match_lines) == api["match_lines"] == figures_sheet["Match lines"]
    assert len(lines) == api["lines"] == figures_sheet["Report lines"]
    assert api["matches"] == figures_sheet["Matches"]
    for d in api["datasets"]:
        in_csv = {line["catalog_row"] for line in lines if line["dataset"] == d["slug"]}
        assert len(in_csv) == d["found"], (d["slug"], len(in_csv), d["found"])
        row_text = page.locator("tr", has_text=d["name"]).first.inner_text()
        assert f"{d['found']:,}" in row_text, (d["slug"], row_text)
    printable = _download(page, "Printable report", tmp_path)
    assert printable.name.endswith(".html")
    report = printable.read_text(encoding="utf-8")
    assert f'<article class="match" id="match-{match.pk}">' in report
    assert report.count('<article class="match"') == 1  # the one confirmed match

    # The run page on a phone-sized screen: nothing wider than the screen.
    page.set_viewport_size(NARROW)
    page.goto(run_url)
    shots(page, "10-run-narrow")
    shots(page, "10-run-narrow-top", full_page=False)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the run page is {overflow}px wider than a 390px screen"
    page.locator("#rows-h").evaluate("h => h.scrollIntoView({block: 'start'})")
    shots(page, "10-run-narrow-rows", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Public dataset search: suggestions while typing, then results grouped per dataset.
    page.goto(reverse("search"))
    page.locator("#search-artist").press_sequentially("Radioh", delay=30)
    page.locator("#search-suggestions").get_by_text("Radiohead").first.wait_for()
    page.fill("#search-artist", "Radiohead")
    page.locator("#search-artist").press("Enter")
    results = page.locator("#search-results")
    results.get_by_text("Karma Police").first.wait_for()
    text = results.inner_text()
    assert "No Surprises" in text
    for dataset in Dataset.objects.filter(slug__in=e2e_datasets):
        assert dataset.name in text, f"{dataset.name} missing from the grouped results: {text}"
    assert "Hold On" not in text, "an unrelated track is in the results"
    shots(page, "09-search")

    # A featured artist, credited second on the track (`Amaarae;Kali Uchis;Moliy`), is found
    # too: only the first credited artist was searchable before (issue 17).
    page.fill("#search-artist", "Kali Uchis")
    page.locator("#search-artist").press("Enter")
    results.get_by_text("SAD GIRLZ LUV MONEY").first.wait_for()
    assert "Karma Police" not in results.inner_text()
    shots(page, "09-search-featured-artist")
    assert not page.errors, f"JavaScript errors on the pages: {page.errors}"


@pytest.fixture
def finished_run(label, stack):  # type: ignore[no-untyped-def]
    """A finished run of the label's skeleton catalog (tasks run in-process: no worker)."""
    from matcher.runs.services import match_run_start

    catalog = stored_catalog(label, "catalog.csv")
    run = match_run_start(catalog=catalog)
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    return run


def test_owner_starts_another_run_from_the_catalog_page(page, shots, alice, finished_run):
    sign_in(page, "alice")
    page.goto(reverse("catalog-detail", args=[finished_run.catalog_id]))
    start = page.locator("#start-run")
    start.locator("input[type=checkbox]").first.check()
    shots(page, "04-catalog")
    start.get_by_role("button", name="Start matching", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    new_run = MatchRun.objects.get(pk=_pk(page.url))
    assert new_run.pk != finished_run.pk
    assert new_run.catalog_id == finished_run.catalog_id
    page.wait_for_selector("#run-status[data-status=finished]")
    assert page.locator("a.evidence-link").count() > 0
    assert not page.errors, f"JavaScript errors on the pages: {page.errors}"


def test_reviewer_cannot_upload_and_reviews_with_the_keyboard(page, shots, rita, finished_run):
    sign_in(page, "rita")
    assert page.locator("#id_file").count() == 0
    assert page.get_by_role("button", name=re.compile(r"^Upload")).count() == 0
    assert page.get_by_role("link", name=re.compile(r"^Upload")).count() == 0
    shots(page, "11-reviewer-dashboard")
    response = page.goto(reverse("catalog-upload"))
    assert response is not None and response.status == 403

    page.goto(reverse("run-detail", args=[finished_run.pk]))
    page.locator("a.evidence-link").first.click()
    page.wait_for_url(re.compile(r"/matches/\d+/$"))
    evidence_url = page.url
    match = Match.objects.get(pk=_pk(evidence_url))
    confirm = page.locator("#verdict-form").get_by_role("button", name=re.compile(r"^Confirm\b"))
    assert confirm.is_visible(), "a reviewer records verdicts"
    assert confirm.get_attribute("aria-keyshortcuts") == "c", "the page announces the shortcut"
    with page.expect_navigation():
        page.keyboard.press("c")
    verdict = Verdict.objects.get(match=match)
    assert (verdict.value, verdict.reviewed_by) == (Verdict.Value.CONFIRMED, rita)
    shots(page, "12-reviewer-after-keyboard-verdict")
    page.goto(evidence_url)
    assert page.locator("#verdict-status").get_attribute("data-verdict") == "confirmed"
    assert not page.errors, f"JavaScript errors on the pages: {page.errors}"


def test_reviewer_undoes_a_keyboard_verdict_with_the_undo_key(page, shots, rita, finished_run):
    from matcher.models import VerdictEvent
    from matcher.review.services import verdict_record

    first = (
        Match.objects.filter(run=finished_run)
        .order_by("catalog_row_id", "dataset_id", "rank", "id")
        .first()
    )
    assert first is not None
    verdict_record(match=first, user=rita, value="unsure", note="ask the label for the master")
    sign_in(page, "rita")
    page.goto(reverse("match-evidence", args=[first.pk]))
    assert page.locator("#verdict-status").get_attribute("data-verdict") == "unsure"

    # A stray r: rejected, and the next match without a verdict opens, offering the undo.
    with page.expect_navigation():
        page.keyboard.press("r")
    assert Verdict.objects.get(match=first).value == Verdict.Value.REJECTED
    assert _pk(page.url) != first.pk
    notice = page.locator("#undo-last-form")
    assert notice.is_visible()
    assert "back to unsure" in notice.inner_text()
    assert (
        notice.get_by_role("button", name=re.compile(r"^Undo\b")).get_attribute("aria-keyshortcuts")
        == "z"
    )
    assert "undo the verdict just recorded" in page.locator("#shortcut-legend").inner_text()
    shots(page, "13-review-undo-offered", full_page=False)

    # z undoes it: back on that match, unsure with its note, and the trail says so.
    with page.expect_navigation():
        page.keyboard.press("z")
    assert _pk(page.url) == first.pk
    status = page.locator("#verdict-status")
    assert status.get_attribute("data-verdict") == "unsure"
    assert "ask the label for the master" in page.locator(".review-card").inner_text()
    assert "Verdict undone" in page.locator(".messages").inner_text()
    trail = page.locator("#audit-trail tr")
    assert trail.count() == 3
    undo_row = trail.nth(2)
    assert "Undo of the change at" in undo_row.inner_text()
    assert undo_row.locator("td").nth(2).inner_text() == "rejected"
    assert undo_row.locator("td").nth(3).inner_text() == "unsure"
    verdict = Verdict.objects.get(match=first)
    assert (verdict.value, verdict.note, verdict.reviewed_by) == (
        Verdict.Value.UNSURE,
        "ask the label for the master",
        rita,
    )
    assert VerdictEvent.objects.filter(match=first).count() == 3
    shots(page, "14-review-undone")
    # A second z does nothing: an undo is not undone.
    page.keyboard.press("z")
    page.wait_for_timeout(300)
    assert VerdictEvent.objects.filter(match=first).count() == 3
    assert not page.errors, f"JavaScript errors on the pages: {page.errors}"


def test_reviewer_confirms_a_bulk_verdict_before_it_is_recorded(page, shots, rita, finished_run):
    selection = Match.objects.filter(run=finished_run, kind="exact").count()
    assert selection > 0
    sign_in(page, "rita")
    page.goto(reverse("run-detail", args=[finished_run.pk]) + "?kind=exact")
    bulk = page.locator("#bulk-verdict")
    bulk.get_by_label("Rejected").check()
    bulk.get_by_label("Note").fill("not our recordings")
    with page.expect_navigation():
        bulk.get_by_role("button", name=re.compile(r"^Record on all")).click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == f"Set Rejected on {selection} matches?"
    shots(page, "15-bulk-confirm", full_page=False)
    assert not Verdict.objects.filter(run=finished_run).exists(), "recorded before confirming"
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm", exact=True).click()
    assert f"Verdict recorded on {selection} matches." in page.locator(".messages").inner_text()
    assert Verdict.objects.filter(run=finished_run, value="rejected").count() == selection
    # The filtered selection of matches without a verdict is now empty: no form, and why.
    page.goto(reverse("run-detail", args=[finished_run.pk]) + "?kind=exact&review=unreviewed")
    assert page.locator("#bulk-verdict").count() == 0
    assert "No match is in this selection (0 matches)" in page.locator("#bulk-empty").inner_text()
    assert not page.errors, f"JavaScript errors on the pages: {page.errors}"
