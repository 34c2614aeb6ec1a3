"""Runs over the API: start, status, cancel, re-run, report, matches, evidence, verdicts, exports;
each with the personas (owner, member, reviewer; the outsider gets 404 everywhere)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from django.urls import reverse

from matcher.models import Match, MatchRun, Verdict, VerdictEvent
from matcher.runs.services import match_run_create
from tests.api.conftest import error_of
from tests.factories import stored_catalog

# --- the persona matrix -----------------------------------------------------------------------


def _run_urls(run: MatchRun, match: Match) -> list[tuple[str, str]]:
    """(method, url) of every endpoint about one run or match."""
    return [
        ("get", reverse("api-run-detail", args=[run.pk])),
        ("post", reverse("api-run-cancel", args=[run.pk])),
        ("post", reverse("api-run-rerun", args=[run.pk])),
        ("get", reverse("api-run-report", args=[run.pk])),
        ("get", reverse("api-run-matches", args=[run.pk])),
        ("post", reverse("api-run-verdicts", args=[run.pk])),
        ("get", reverse("api-run-report-csv", args=[run.pk])),
        ("get", reverse("api-run-report-xlsx", args=[run.pk])),
        ("get", reverse("api-run-report-html", args=[run.pk])),
        ("get", reverse("api-run-evidence-pack", args=[run.pk])),
        ("get", reverse("api-match-detail", args=[match.pk])),
        ("post", reverse("api-match-verdict", args=[match.pk])),
        ("get", reverse("api-catalog-detail", args=[run.catalog_id])),
        ("delete", reverse("api-catalog-detail", args=[run.catalog_id])),
    ]


def test_the_outsider_gets_404_on_every_endpoint_of_the_labels_run(as_, run):
    client = as_("charlie")
    match = Match.objects.filter(run=run).first()
    for method, url in _run_urls(run, match):
        response = getattr(client, method)(url, {"value": "confirmed"}, format="json")
        assert response.status_code == 404, (method, url)
        assert b"alice-catalog" not in response.content
        error_of(response)
    assert client.get(reverse("api-runs")).json()["count"] == 0
    assert client.get(reverse("api-catalogs")).json()["count"] == 0
    assert MatchRun.objects.filter(pk=run.pk, status=MatchRun.Status.DONE).exists()
    assert not Verdict.objects.exists()


# (persona, method, url name, allowed): what each role of the label may do.
ROLE_MATRIX = [
    ("rerun", "post", "api-run-rerun", {"alice": 201, "bob": 201, "rita": 403}),
    ("verdict", "post", "api-match-verdict", {"alice": 200, "bob": 403, "rita": 200}),
    ("read", "get", "api-run-report", {"alice": 200, "bob": 200, "rita": 200}),
    ("export", "get", "api-run-report-csv", {"alice": 200, "bob": 200, "rita": 200}),
]


@pytest.mark.parametrize("persona", ["alice", "bob", "rita"])
@pytest.mark.parametrize(("action", "method", "name", "expected"), ROLE_MATRIX)
def test_each_role_gets_what_it_may_do(as_, run, persona, action, method, name, expected):
    match = Match.objects.filter(run=run).first()
    target = match.pk if "match" in name else run.pk
    response = getattr(as_(persona), method)(
        reverse(name, args=[target]), {"value": "confirmed"}, format="json"
    )
    assert response.status_code == expected[persona], (persona, action)
    if response.status_code == 403:
        assert "does not allow" in error_of(response)["detail"]


# --- start, status, list, cancel, re-run ------------------------------------------------------


def test_a_member_starts_a_run_over_a_stored_catalog(as_, run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_("bob").post(
            reverse("api-runs"),
            {"catalog": run.catalog_id, "datasets": ["spotify-sample"]},
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["catalog"] == run.catalog_id
    assert body["catalog_name"] == "alice-catalog.csv"
    assert body["created_by"] == "bob"
    assert body["datasets"][0]["slug"] == "spotify-sample"
    assert MatchRun.objects.get(pk=body["id"]).status == MatchRun.Status.DONE


def test_a_reviewer_cannot_start_a_run(as_, run):
    response = as_("rita").post(reverse("api-runs"), {"catalog": run.catalog_id}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "catalog"),
        ({"catalog": 0}, "catalog"),
        ({"catalog": 10**12}, "catalog"),
        ({"catalog": "x"}, "catalog"),
        ({"catalog": "CATALOG", "datasets": []}, "datasets"),
        ({"catalog": "CATALOG", "datasets": ["nope"]}, "datasets"),
        ({"catalog": "CATALOG", "datasets": "spotify-sample"}, "datasets"),
    ],
)
def test_starting_a_run_with_bad_input_says_which_field(as_, run, body, field):
    body = {k: (run.catalog_id if v == "CATALOG" else v) for k, v in body.items()}
    response = as_("bob").post(reverse("api-runs"), body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_another_labels_catalog_cannot_be_matched(as_, run, other_label):
    theirs = stored_catalog(other_label, "rival.csv")
    response = as_("bob").post(reverse("api-runs"), {"catalog": theirs.pk}, format="json")
    assert response.status_code == 400
    assert "no catalog" in error_of(response)["fields"]["catalog"][0]
    assert not MatchRun.objects.filter(catalog=theirs).exists()


def test_the_run_status_shows_progress(as_, run):
    body = as_("rita").get(reverse("api-run-detail", args=[run.pk])).json()
    assert body["status"] == "done"
    assert body["percent"] == 100
    assert body["rows_done"] == body["total_rows"] == 14
    assert body["seconds_left"] is None
    assert body["engine_version"]


def test_runs_are_listed_newest_first_and_filtered(as_, run):
    queued = match_run_create(catalog=run.catalog)
    client = as_("bob")
    ids = [r["id"] for r in client.get(reverse("api-runs")).json()["results"]]
    assert ids == [queued.pk, run.pk]
    done = client.get(reverse("api-runs"), {"status": "done"}).json()["results"]
    assert [r["id"] for r in done] == [run.pk]
    assert client.get(reverse("api-runs"), {"catalog": run.catalog_id + 1}).json()["count"] == 0
    bad = client.get(reverse("api-runs"), {"status": "sleeping"})
    assert bad.status_code == 400
    assert "status" in error_of(bad)["fields"]


def test_a_member_cancels_a_queued_run_and_cancelling_again_is_harmless(as_, run):
    queued = match_run_create(catalog=run.catalog)
    client = as_("bob")
    url = reverse("api-run-cancel", args=[queued.pk])
    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert client.post(url).status_code == 200


def test_a_finished_run_cannot_be_cancelled(as_, run):
    response = as_("bob").post(reverse("api-run-cancel", args=[run.pk]))
    assert response.status_code == 409
    assert error_of(response)["code"] == "run_finished"


def test_a_reviewer_cannot_cancel(as_, run):
    queued = match_run_create(catalog=run.catalog)
    response = as_("rita").post(reverse("api-run-cancel", args=[queued.pk]))
    assert response.status_code == 403
    queued.refresh_from_db()
    assert queued.status == MatchRun.Status.QUEUED


def test_rerun_matches_the_catalog_again(as_, run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_("bob").post(reverse("api-run-rerun", args=[run.pk]))
    assert response.status_code == 201
    new = MatchRun.objects.get(pk=response.json()["id"])
    assert new.pk != run.pk
    assert new.catalog_id == run.catalog_id
    assert new.status == MatchRun.Status.DONE
    assert response["Content-Type"] == "application/json"


def test_a_run_still_going_cannot_be_rerun_and_has_no_report_yet(as_, run):
    queued = match_run_create(catalog=run.catalog)
    client = as_("alice")
    rerun = client.post(reverse("api-run-rerun", args=[queued.pk]))
    assert rerun.status_code == 409
    assert error_of(rerun)["code"] == "run_not_finished"
    report = client.get(reverse("api-run-report", args=[queued.pk]))
    assert report.status_code == 409
    assert "queued" in error_of(report)["detail"]


def test_huge_ids_are_a_404_not_a_server_error(as_, run):
    client = as_("alice")
    for name in ("api-run-detail", "api-match-detail", "api-catalog-detail"):
        assert client.get(reverse(name, args=[10**30])).status_code == 404


# --- report, matches, evidence ----------------------------------------------------------------


def test_the_report_summary_accounts_for_every_row(as_, run):
    body = as_("rita").get(reverse("api-run-report", args=[run.pk])).json()
    assert body["rows"] == 14
    assert body["matched"] + body["unmatched"] + body["invalid"] == 14
    assert body["matches"] == Match.objects.filter(run=run).count()
    [dataset] = body["datasets"]
    assert dataset["slug"] == "spotify-sample"
    # A duplicate row counts once per dataset (through its original) but is a matched row.
    assert 0 < dataset["found"] <= body["matched"]
    assert 0 < dataset["share"] <= 1
    assert body["unreviewed"] == body["matches"]
    assert isinstance(body["by_artist"], list)


def test_matches_are_paginated_in_sheet_order(as_, run):
    client = as_("bob")
    total = Match.objects.filter(run=run).count()
    first = client.get(reverse("api-run-matches", args=[run.pk]), {"page_size": 2}).json()
    assert first["count"] == total
    assert len(first["results"]) == 2
    rows = [m["catalog_row"]["row"] for m in first["results"]]
    assert rows == sorted(rows)
    second = client.get(first["next"]).json()
    assert second["results"][0]["id"] not in {m["id"] for m in first["results"]}
    match = first["results"][0]
    assert match["run"] == run.pk
    assert match["dataset"] == "spotify-sample"
    assert match["track"]["track_id"]
    assert match["verdict"] is None


def test_matches_are_filtered(as_, run):
    client = as_("bob")
    url = reverse("api-run-matches", args=[run.pk])
    exact = client.get(url, {"kind": "exact"}).json()
    assert exact["count"] == Match.objects.filter(run=run, kind="exact").count() > 0
    assert {m["kind"] for m in exact["results"]} == {"exact"}
    strong = client.get(url, {"conf_min": 90}).json()["results"]
    assert all(m["confidence"] >= 90 for m in strong)
    nirvana = client.get(url, {"q": "nirvana"}).json()["results"]
    assert nirvana
    assert all("nirvana" in m["catalog_row"]["artist"].lower() for m in nirvana)
    assert client.get(url, {"dataset": "other-set"}).json()["count"] == 0
    assert client.get(url, {"review": "unreviewed"}).json()["count"] == exact["count"] + (
        Match.objects.filter(run=run).exclude(kind="exact").count()
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "magic"}, "kind"),
        ({"conf_min": "abc"}, "conf_min"),
        ({"conf_max": "101"}, "conf_max"),
        ({"review": "maybe"}, "review"),
        ({"q": "x" * 201}, "q"),
        ({"dataset": "not a slug"}, "dataset"),
        ({"q": "a\x00b"}, "q"),
        ({"conf_min": "90", "conf_max": "50"}, "conf_min"),  # an empty range
    ],
)
def test_bad_match_filters_are_a_400_naming_the_parameter(as_, run, params, field):
    response = as_("bob").get(reverse("api-run-matches", args=[run.pk]), params)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_the_evidence_of_a_match(as_, run):
    match = Match.objects.filter(run=run, kind="exact").first()
    body = as_("rita").get(reverse("api-match-detail", args=[match.pk])).json()
    assert body["match"]["id"] == match.pk
    assert body["match"]["catalog_row"]["row"] == match.catalog_row.row_number
    assert body["cells"] == match.catalog_row.cells
    assert body["evidence"]["engine_version"]
    assert body["evidence"]["provenance"]["file"] == "tracks_generic.csv"
    assert any(c["is_this_match"] and c["match"] == match.pk for c in body["candidates"])
    assert body["history"] == []


# --- verdicts ---------------------------------------------------------------------------------


def test_a_reviewer_records_a_verdict_with_its_audit_event(as_, run):
    match = Match.objects.filter(run=run).first()
    client = as_("rita")
    response = client.post(
        reverse("api-match-verdict", args=[match.pk]),
        {"value": "confirmed", "note": "same recording"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["value"] == "confirmed"
    assert response.json()["reviewer"] == "rita"
    assert Verdict.objects.get(match=match).note == "same recording"
    assert VerdictEvent.objects.filter(match=match, new_value="confirmed").count() == 1
    evidence = client.get(reverse("api-match-detail", args=[match.pk])).json()
    assert evidence["match"]["verdict"]["value"] == "confirmed"
    assert evidence["history"][0]["user"] == "rita"
    reviewed = client.get(reverse("api-run-matches", args=[run.pk]), {"review": "confirmed"})
    assert [m["id"] for m in reviewed.json()["results"]] == [match.pk]


def test_an_undo_is_an_entry_of_the_evidence_history(as_, run, rita):
    from matcher.review.services import verdict_record, verdict_undo

    match = Match.objects.filter(run=run).first()
    verdict_record(match=match, user=rita, value="rejected")
    verdict_undo(match=match, user=rita)
    history = as_("rita").get(reverse("api-match-detail", args=[match.pk])).json()["history"]
    undone = VerdictEvent.objects.filter(match=match).order_by("at", "id").first()
    assert [(h["old_value"], h["new_value"]) for h in history] == [
        ("", "rejected"),
        ("rejected", ""),
    ]
    assert history[0]["undoes_at"] is None
    assert history[1]["undoes_at"] == undone.at.isoformat().replace("+00:00", "Z")
    assert not Verdict.objects.filter(match=match).exists()


@pytest.mark.parametrize(
    "body", [{}, {"value": "maybe"}, {"value": "confirmed", "note": "x" * 4001}, {"value": None}]
)
def test_a_bad_verdict_is_a_400(as_, run, body):
    match = Match.objects.filter(run=run).first()
    response = as_("rita").post(reverse("api-match-verdict", args=[match.pk]), body, format="json")
    assert response.status_code == 400
    assert "value" in error_of(response)["fields"] or "note" in error_of(response)["fields"]
    assert not Verdict.objects.exists()


def test_a_bulk_verdict_reaches_exactly_the_filtered_matches(as_, run):
    client = as_("rita")
    url = reverse("api-run-verdicts", args=[run.pk])
    refused = client.post(url, {"value": "rejected"}, format="json")
    assert refused.status_code == 400
    assert "at least one filter" in error_of(refused)["detail"]
    response = client.post(url, {"value": "rejected", "conf_max": 80}, format="json")
    assert response.status_code == 200
    low = Match.objects.filter(run=run, confidence__lte=80)
    assert response.json() == {"selected": low.count(), "changed": low.count()}
    assert Verdict.objects.filter(value="rejected").count() == low.count()


def test_a_member_cannot_record_a_bulk_verdict(as_, run):
    response = as_("bob").post(
        reverse("api-run-verdicts", args=[run.pk]), {"value": "confirmed", "kind": "exact"}
    )
    assert response.status_code == 403
    assert not Verdict.objects.exists()


# --- exports ----------------------------------------------------------------------------------


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_csv_export_streams_the_report(as_, run):
    response = as_("rita").get(reverse("api-run-report-csv", args=[run.pk]), {"bom": "true"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"_run-{run.pk}_report-excel_" in response["Content-Disposition"]
    text = _body(response).decode("utf-8")
    assert text.startswith("\ufeffcatalog_row,status,dataset")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {int(r["catalog_row"]) for r in rows} == set(range(2, 16))


def test_downloads_ignore_the_accept_header(as_, run):
    response = as_("rita").get(
        reverse("api-run-report-csv", args=[run.pk]), HTTP_ACCEPT="application/xml"
    )
    assert response.status_code == 200
    missing = as_("rita").get(reverse("api-run-report-csv", args=[10**6]), HTTP_ACCEPT="text/csv")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    error_of(missing)


def test_the_xlsx_export_is_a_workbook(as_, run):
    response = as_("bob").get(reverse("api-run-report-xlsx", args=[run.pk]))
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(_body(response)), read_only=True)
    assert workbook.sheetnames[:2] == ["Summary", "All rows"]


def test_the_printable_report_is_an_html_file_listed_in_the_evidence_pack(as_, run):
    response = as_("rita").get(reverse("api-run-report-html", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert '<h2 id="confirmed-h">Confirmed matches' in _body(response).decode()
    pack = as_("rita").get(reverse("api-run-evidence-pack", args=[run.pk]))
    with zipfile.ZipFile(io.BytesIO(_body(pack))) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert "report.html" in {f["path"] for f in manifest["files"]}


def test_the_evidence_pack_holds_a_manifest(as_, run):
    response = as_("alice").get(reverse("api-run-evidence-pack", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(_body(response))) as pack:
        manifest = json.loads(pack.read("manifest.json"))
        assert "report.csv" in pack.namelist()
    assert manifest["files"]
