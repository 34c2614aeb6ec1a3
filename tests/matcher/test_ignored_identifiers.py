"""A bad ISRC on a row that has its artist and title (issue 17): the row is valid and matched on
what it has, the ISRC is not a key, and every page, API answer and export says it was ignored."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from matcher.models import Match, MatchRun, RowResult
from matcher.reports.exports import report_xlsx_write
from matcher.runs.services import match_run_start
from tests.factories import PASSWORD, token_client
from uploads.models import Catalog, CatalogRow
from uploads.services import catalog_create

# Row 2: a bad ISRC (RD is no country) on a song of the dataset; row 3: nothing but a bad ISRC;
# row 4: a song the dataset does not have.
CSV = "Artist,Title,ISRC\nThe Beatles,Yesterday,RDRAY2200003\n,,XX-BAD\nNobody,Nothing,\n"
WARNING = (
    'ISRC (C): ISRC "RDRAY2200003" ignored: not a valid ISRC (12 characters: country, '
    "registrant, year, number)"
)


@pytest.fixture
def run(
    label: Any, alice: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> MatchRun:
    catalog = catalog_create(
        organization=label, stream=io.BytesIO(CSV.encode()), filename="isrc.csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        started = match_run_start(catalog=catalog, created_by=alice)
    started.refresh_from_db()
    assert started.status == MatchRun.Status.DONE
    return started


def _row(run: MatchRun, number: int) -> CatalogRow:
    return CatalogRow.objects.get(catalog_id=run.catalog_id, row_number=number)


def _result(run: MatchRun, number: int) -> RowResult:
    return RowResult.objects.get(run=run, catalog_row__row_number=number)


def _page(client: Client, url: str) -> str:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_row_with_a_bad_isrc_is_stored_valid_and_matched_on_its_artist_and_title(
    run: MatchRun,
) -> None:
    row = _row(run, 2)
    assert row.status == CatalogRow.Status.VALID and row.problems == []
    assert row.isrc == "", "the bad ISRC is not kept as a key"
    assert row.warning_text == WARNING
    result = _result(run, 2)
    assert result.status == RowResult.Status.MATCHED
    assert result.note == WARNING
    match = Match.objects.get(run=run, catalog_row=row)
    assert (match.track.artist, match.track.title) == ("The Beatles", "Yesterday - Remastered 2009")
    assert match.kind != Match.Kind.IDENTIFIER
    assert "isrc" not in [kind for kind, _ in match.evidence["catalog"]["identifiers"]]
    catalog = Catalog.objects.get(pk=run.catalog_id)
    assert (catalog.row_count, catalog.invalid_count, catalog.warning_count) == (3, 1, 1)


def test_row_with_only_a_bad_isrc_stays_invalid_and_says_why(run: MatchRun) -> None:
    row = _row(run, 3)
    assert row.status == CatalogRow.Status.INVALID and row.warnings == []
    result = _result(run, 3)
    assert result.status == RowResult.Status.INVALID
    assert result.note == (
        "Artist (A): The artist is empty; fill it in or remove the row.; "
        "Title (B): The title is empty; fill it in or remove the row.; "
        'ISRC (C): ISRC "XX-BAD" ignored: not a valid ISRC (12 characters: country, registrant, '
        "year, number)"
    )


def test_the_warning_is_on_the_evidence_page_the_run_page_and_the_catalog_page(
    run: MatchRun, client: Client
) -> None:
    match = Match.objects.get(run=run, catalog_row__row_number=2)
    evidence = _page(client, reverse("match-evidence", args=[match.pk]))
    box = evidence[evidence.index('id="row-warnings"') :]
    assert f"<li>{WARNING}</li>" in box[: box.index("</div>")]
    report = _page(client, reverse("run-detail", args=[run.pk]))
    assert f"<small>{WARNING}</small>" in report
    assert (
        "1 of 3 catalog rows found in at least one dataset; 1 not found; 1 invalid (not checked)."
    ) in report
    catalog = _page(client, reverse("catalog-detail", args=[run.catalog_id]))
    assert 'id="fig-invalid">1</span>' in catalog and 'id="fig-warnings">1</span>' in catalog
    warned = catalog[catalog.index('id="warning-rows"') :]
    assert '<td data-label="Row">2</td>' in warned and '<td data-label="Row">3</td>' not in warned


def test_the_warning_is_in_the_csv_export_and_every_row_is_accounted_for(
    run: MatchRun, client: Client
) -> None:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.get(reverse("run-report-csv", args=[run.pk]))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    lines = {int(line["catalog_row"]): line for line in csv.DictReader(io.StringIO(text))}
    assert sorted(lines) == [2, 3, 4]
    assert (lines[2]["status"], lines[2]["note"], lines[2]["catalog_isrc"]) == (
        "matched",
        WARNING,
        "",
    )
    assert lines[3]["status"] == "invalid" and 'ISRC "XX-BAD" ignored' in lines[3]["note"]
    assert (lines[4]["status"], lines[4]["note"]) == ("unmatched", "")


def test_the_warning_is_in_the_xlsx_export(run: MatchRun, tmp_path: Path) -> None:
    target = tmp_path / "report.xlsx"
    report_xlsx_write(run, target)
    sheet = openpyxl.load_workbook(target)["All rows"]
    header = [c.value for c in sheet[1]]
    notes = {
        r[header.index("catalog_row")]: r[header.index("note")]
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert notes[2] == WARNING


def test_the_api_figures_agree_with_the_page_and_the_export(
    run: MatchRun, alice: Any, label: Any
) -> None:
    api = token_client(alice, label)
    report = api.get(reverse("api-run-report", args=[run.pk])).json()
    assert (report["rows"], report["matched"], report["unmatched"], report["invalid"]) == (
        3,
        1,
        1,
        1,
    )
    catalog = api.get(reverse("api-catalog-detail", args=[run.catalog_id])).json()
    assert (catalog["row_count"], catalog["invalid_count"], catalog["warning_count"]) == (3, 1, 1)
    match = Match.objects.get(run=run, catalog_row__row_number=2)
    evidence = api.get(reverse("api-match-detail", args=[match.pk])).json()
    assert evidence["row_note"] == WARNING
