"""Exports: CSV with review columns and formula neutralization, XLSX re-read with openpyxl, and
the evidence pack whose manifest a third party can verify."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import openpyxl
import pytest
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from matcher.models import DatasetTrack
from matcher.reports.exports import (
    COLUMNS,
    CONTRACT_COLUMNS,
    REVIEW_COLUMNS,
    evidence_pack_verify,
    evidence_pack_write,
    neutralize,
    report_csv_lines,
    report_xlsx_write,
)
from matcher.review import services as review
from tests.factories import PASSWORD, Built


def _csv(built: Built, **kwargs: bool) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(report_csv_lines(built.run, **kwargs)))))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Aurora Lane", "Aurora Lane"),
        (-5, -5),
        (1.5, 1.5),
    ],
)
def test_cells_a_spreadsheet_would_evaluate_are_neutralized(value, expected):
    assert neutralize(value) == expected


def test_csv_puts_review_columns_right_after_the_contract_columns(built, rita):
    review.verdict_record(
        match=built.matches[(2, "alpha")], user=rita, value="confirmed", note="=cmd|' /C calc'!A0"
    )
    lines = _csv(built)
    assert list(lines[0])[: len(CONTRACT_COLUMNS) + len(REVIEW_COLUMNS)] == list(
        CONTRACT_COLUMNS + REVIEW_COLUMNS
    )
    row2 = {line["dataset"]: line for line in lines if line["catalog_row"] == "2"}
    assert row2["alpha"]["verdict"] == "confirmed"
    assert row2["alpha"]["reviewer"] == "rita"
    assert row2["alpha"]["reviewed_at"].startswith("20")
    assert row2["alpha"]["verdict_note"].startswith("'=cmd")
    assert row2["beta"]["verdict"] == ""
    # The duplicate row reports its original's match, verdict included.
    row7 = [line for line in lines if line["catalog_row"] == "7"]
    assert {line["verdict"] for line in row7} == {"confirmed", ""}


def test_csv_neutralizes_a_formula_in_a_catalog_cell(built):
    row = built.rows[5]
    row.title = '=HYPERLINK("http://evil","click")'
    row.save()
    line = next(line for line in _csv(built) if line["catalog_row"] == "5")
    assert line["catalog_title"] == "'" + row.title


def test_csv_download_with_bom_starts_with_the_utf8_bom(built, client, bob):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.get(reverse("run-report-csv", args=[built.run.pk]), {"bom": "1"})
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf")
    plain = b"".join(client.get(reverse("run-report-csv", args=[built.run.pk])).streaming_content)
    assert plain.startswith(b"catalog_row,")


def test_xlsx_reads_back_with_summary_dataset_sheets_and_neutralized_cells(built, tmp_path):
    row = built.rows[2]
    row.artist = "=1+1"
    row.save()
    target = tmp_path / "report.xlsx"
    counts = report_xlsx_write(built.run, target)
    assert counts == {"": 8, "alpha": 3, "beta": 3}

    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["Summary", "All rows", "alpha", "beta"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Catalog rows"] == 6
    assert summary["Rows found"] == 4
    assert summary["Matches"] == 4

    ws = wb["All rows"]
    header = [c.value for c in ws[1]]
    assert header == list(COLUMNS)
    assert ws[1][0].font.b is True
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(COLUMNS))}9"
    assert ws.column_dimensions["G"].width == 28
    values = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    artists = {v[header.index("catalog_artist")] for v in values}
    # The value as stored, no apostrophe added (issue 17), in a text cell that stays text.
    assert "=1+1" in artists and "'=1+1" not in artists
    cell = next(c for r in ws.iter_rows(min_row=2) for c in r if c.value == "=1+1")
    assert cell.data_type == "s" and cell.quotePrefix
    # Nothing was written as a formula.
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    beta = wb["beta"]
    beta_rows = [[c.value for c in r] for r in beta.iter_rows(min_row=2)]
    assert sorted(r[0] for r in beta_rows) == [2, 4, 7]
    assert {r[header.index("dataset")] for r in beta_rows} == {"beta"}


def test_each_download_is_saved_under_its_own_name(built, client, rita):
    # "Download CSV" and "CSV for Excel" saved under one name (issue 17): catalog, run, kind, day.
    built.run.catalog.name = "Northern Lights \u2013 export 2026.xlsx"
    built.run.catalog.save()
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    pk = built.run.pk
    day = timezone.localdate().isoformat()
    names = {}
    for label, url, query in [
        ("csv", reverse("run-report-csv", args=[pk]), {}),
        ("excel", reverse("run-report-csv", args=[pk]), {"bom": "1"}),
        ("xlsx", reverse("run-report-xlsx", args=[pk]), {}),
        ("pack", reverse("run-evidence-pack", args=[pk]), {}),
    ]:
        disposition = client.get(url, query)["Content-Disposition"]
        assert disposition.startswith("attachment;")
        names[label] = disposition.split('filename="', 1)[1].rstrip('"')
    stem = f"northern-lights-export-2026_run-{pk}"
    assert names == {
        "csv": f"{stem}_report_{day}.csv",
        "excel": f"{stem}_report-excel_{day}.csv",
        "xlsx": f"{stem}_report_{day}.xlsx",
        "pack": f"{stem}_evidence_{day}.zip",
    }


def test_xlsx_download_is_an_xlsx_attachment(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    response = client.get(reverse("run-report-xlsx", args=[built.run.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = b"".join(response.streaming_content)
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames[0] == "Summary"


def test_evidence_pack_manifest_lists_every_file_and_verifies(built, tmp_path, rita):
    review.verdict_record(
        match=built.matches[(3, "alpha")], user=rita, value="rejected", note="live"
    )
    target = tmp_path / "pack.zip"
    manifest = evidence_pack_write(built.run, target)
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        listed = {f["path"] for f in manifest["files"]}
        assert names == listed | {"manifest.json"}
        assert "report.csv" in listed
        assert len([n for n in listed if n.startswith("evidence/")]) == 4
        for entry in manifest["files"]:
            assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
        stored = json.loads(zf.read("manifest.json"))
        doc_name = next(n for n in listed if n.startswith("evidence/row-0000003-alpha"))
        doc = json.loads(zf.read(doc_name))
    assert stored["normalizer_version"] and stored["engine_version"] == "score-1/norm-1"
    assert {(d["slug"], d["version"]) for d in stored["datasets"]} == {("alpha", 1), ("beta", 1)}
    assert all(len(d["sha256"]) == 64 for d in stored["datasets"])
    assert doc["verdict"]["value"] == "rejected"
    assert doc["verdict_history"][0]["note"] == "live"
    assert doc["dataset_track"]["track_id"] == "a-2"
    assert doc["dataset_track"]["source_file"] == "alpha.csv"
    assert evidence_pack_verify(target) == []


def test_evidence_pack_verification_finds_an_altered_file(built, tmp_path):
    original = tmp_path / "pack.zip"
    evidence_pack_write(built.run, original)
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(altered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "report.csv":
                data = data.replace(b"Aurora Lane", b"Aurora Lake")
            dst.writestr(item, data)
        dst.writestr("evidence/extra.json", b"{}")
    problems = evidence_pack_verify(altered)
    assert "report.csv does not match its SHA-256 in the manifest" in problems
    assert "evidence/extra.json is not listed in the manifest" in problems


def test_evidence_pack_download_verifies(built, client, alice):
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.get(reverse("run-evidence-pack", args=[built.run.pk]))
    assert response.status_code == 200
    assert evidence_pack_verify(io.BytesIO(b"".join(response.streaming_content))) == []


def test_evidence_pack_has_the_track_url_of_each_match(built, tmp_path):
    target = tmp_path / "pack.zip"
    manifest = evidence_pack_write(built.run, target)
    urls = set()
    with zipfile.ZipFile(target) as zf:
        for entry in manifest["files"]:
            if entry["path"].startswith("evidence/"):
                urls.add(json.loads(zf.read(entry["path"]))["dataset_track"]["url"])
    expected = set(
        DatasetTrack.objects.filter(matches__run=built.run).values_list("url", flat=True)
    )
    assert urls == expected and len(urls) == 4
