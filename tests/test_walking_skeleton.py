"""The end-to-end path: import a dataset, upload a catalog, match it, read the report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse

from matcher.models import Match, MatchRun, RowResult
from matcher.reports.selectors import report_summary
from tests.factories import PASSWORD

SKELETON = Path(__file__).parent / "data" / "skeleton"

# catalog.csv row number -> (status, kind of the best match or "")
EXPECTED = {
    2: ("matched", "exact"),
    3: ("matched", "exact"),
    4: ("matched", "strong"),
    5: ("matched", "exact"),
    6: ("matched", "version"),
    7: ("unmatched", ""),
    8: ("matched", "exact"),
    9: ("matched", "identifier"),
    10: ("unmatched", ""),
    11: ("invalid", ""),
    12: ("matched", "exact"),  # its ISRC "XX-BAD" is not valid: ignored, matched by name
    13: ("matched", "exact"),
    14: ("matched", "version"),
    15: ("matched", "exact"),
}


@pytest.fixture
def skeleton_dataset(transactional_db):  # type: ignore[no-untyped-def]
    # Committed for real: the pipeline enqueues its tasks on commit, as in production.
    call_command(
        "import_dataset",
        "spotify-sample",
        str(SKELETON / "tracks_generic.csv"),
        "--format",
        "generic-csv",
        "--no-progress",
    )


def _read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _by_row(lines: list[dict[str, str]]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = {}
    for line in lines:
        out.setdefault(int(line["catalog_row"]), []).append(line)
    return out


def _assert_expected(lines: list[dict[str, str]]) -> None:
    rows = _by_row(lines)
    assert sorted(rows) == sorted(EXPECTED), "every uploaded row has at least one report line"
    for number, (status, kind) in EXPECTED.items():
        first = rows[number][0]
        assert first["status"] == status, (number, first)
        assert first["match_kind"] == kind, (number, first)
        if status == "matched":
            assert first["dataset"] == "spotify-sample"
            assert first["dataset_track_id"]
            assert 0 < int(first["confidence"]) <= 100


def test_match_catalog_command_writes_the_contract_report(skeleton_dataset, tmp_path):
    out = tmp_path / "report.csv"
    call_command(
        "match_catalog", str(SKELETON / "catalog.csv"), "--org", "cli-label", "--out", str(out)
    )
    lines = _read_report(out)
    assert list(lines[0])[:10] == [
        "catalog_row",
        "status",
        "dataset",
        "dataset_track_id",
        "match_kind",
        "confidence",
        "catalog_artist",
        "catalog_title",
        "dataset_artist",
        "dataset_title",
    ]
    _assert_expected(lines)
    rows = _by_row(lines)
    assert rows[9][0]["dataset_track_id"] == "63OQupATfueTdZMWTxW03A"
    assert 'ISRC "XX-BAD" ignored: not a valid ISRC' in rows[12][0]["note"]
    assert rows[12][0]["catalog_isrc"] == "", "the bad ISRC is not used as a key"
    assert "artist" in rows[11][0]["note"].lower()


def test_match_catalog_reads_an_xlsx_catalog_the_same_way(skeleton_dataset, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    with (SKELETON / "catalog.csv").open(encoding="utf-8", newline="") as fh:
        for record in csv.reader(fh):
            ws.append(record)
    xlsx = tmp_path / "catalog.xlsx"
    wb.save(xlsx)
    out = tmp_path / "report.csv"
    call_command("match_catalog", str(xlsx), "--org", "xlsx-label", "--out", str(out))
    _assert_expected(_read_report(out))


def test_every_row_is_accounted_for_once(skeleton_dataset, tmp_path):
    out = tmp_path / "report.csv"
    call_command(
        "match_catalog", str(SKELETON / "catalog.csv"), "--org", "count-label", "--out", str(out)
    )
    run = MatchRun.objects.get(organization__slug="count-label")
    assert run.status == MatchRun.Status.DONE
    assert run.rows_done == run.total_rows == 14
    assert RowResult.objects.filter(run=run).count() == 14
    statuses = [r.status for r in RowResult.objects.filter(run=run)]
    assert statuses.count("matched") + statuses.count("unmatched") + statuses.count("invalid") == 14


def test_duplicate_row_is_matched_once_and_reported_with_its_original(skeleton_dataset, tmp_path):
    out = tmp_path / "report.csv"
    call_command(
        "match_catalog", str(SKELETON / "catalog.csv"), "--org", "dup-label", "--out", str(out)
    )
    run = MatchRun.objects.get(organization__slug="dup-label")
    assert not Match.objects.filter(run=run, catalog_row__row_number=13).exists()
    rows = _by_row(_read_report(out))
    assert rows[13][0]["dataset_track_id"] == rows[2][0]["dataset_track_id"]
    assert "duplicate of row 2" in rows[13][0]["note"]


def test_reimporting_the_same_file_adds_no_rows(skeleton_dataset):
    from matcher.models import DatasetTrack, DatasetVersion

    before = DatasetTrack.objects.count()
    stdout = io.StringIO()
    call_command(
        "import_dataset",
        "spotify-sample",
        str(SKELETON / "tracks_generic.csv"),
        "--format",
        "generic-csv",
        "--no-progress",
        stdout=stdout,
    )
    assert DatasetTrack.objects.count() == before == 60
    assert DatasetVersion.objects.count() == 1
    assert "nothing to do" in stdout.getvalue()


def pending_pk():  # type: ignore[no-untyped-def]
    from uploads.models import PendingUpload

    return PendingUpload.objects.get().pk


def confirm_guessed_mapping() -> dict[str, str]:
    """The mapping page's form as a user sends it who accepts the preselected columns."""
    from uploads.models import PendingUpload

    pending = PendingUpload.objects.get()
    sheet = next(s for s in pending.sheets if s["name"] == pending.default_sheet)
    data = {"sheet": pending.default_sheet, "shown_sheet": pending.default_sheet}
    data |= {f"map_{f}": str(i) for f, i in sheet["guessed_mapping"].items()}
    return data | {"action": "confirm"}


def test_web_upload_runs_the_match_and_shows_the_report(
    skeleton_dataset, client, alice, django_capture_on_commit_callbacks
):
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    with (
        (SKELETON / "catalog.csv").open("rb") as fh,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("catalog-upload"), {"file": fh})
        assert response.status_code == 302, "the upload goes to the column mapping page first"
        assert response["Location"] == reverse("catalog-upload-mapping", args=[pending_pk()])
        response = client.post(response["Location"], confirm_guessed_mapping())
    assert response.status_code == 302
    run = MatchRun.objects.get()
    assert response["Location"] == reverse("run-detail", args=[run.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    matched = sum(1 for s, _ in EXPECTED.values() if s == "matched")
    summary = report_summary(run)
    dataset = {d.slug: d for d in summary.datasets}["spotify-sample"]
    # The duplicate row (13, of row 2) counts as found through its original, in the headline
    # and in the dataset alike, and repeats its original's match line.
    assert (dataset.found, dataset.found_duplicates) == (matched, 1) == (summary.matched, 1)
    assert summary.match_lines == summary.matches + 1
    assert f"{matched} of 14 catalog rows found in at least one dataset (1 of them a" in body
    csv_response = client.get(reverse("run-report-csv", args=[run.pk]))
    assert csv_response.status_code == 200
    text = b"".join(csv_response.streaming_content).decode()
    _assert_expected(list(csv.DictReader(io.StringIO(text))))
    status = client.get(reverse("run-status", args=[run.pk])).json()
    assert status == {
        "id": run.pk,
        "status": "done",
        "rows_done": 14,
        "total_rows": 14,
        "percent": 100,
        "error": "",
    }
