"""Catalogs over the API: multipart upload, the mapping (read, confirm, override), list, detail,
delete; size cap and throttling of uploads."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from config.throttling import UploadThrottle
from matcher.models import Match, MatchRun, Verdict, VerdictEvent
from matcher.runs.services import match_run_create
from tests.api.conftest import SKELETON, error_of
from tests.factories import stored_catalog, xlsx_bytes
from uploads.models import Catalog, CatalogRow, PendingUpload, SavedMapping
from uploads.selectors import stored_file_path
from uploads.services import catalog_delete

CATALOG = (SKELETON / "catalog.csv").read_bytes()


def _file(data: bytes, name: str = "catalog.csv") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def upload(client: APIClient, data: bytes = CATALOG, name: str = "catalog.csv") -> Any:
    return client.post(reverse("api-catalogs"), {"file": _file(data, name)}, format="multipart")


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


# --- upload -----------------------------------------------------------------------------------


def test_an_upload_returns_the_guessed_mapping_and_a_preview(as_, skeleton_dataset):
    response = upload(as_("bob"))
    assert response.status_code == 201, response.json()
    body = response.json()
    pending = PendingUpload.objects.get(pk=body["id"])
    assert response["Location"] == body["mapping_url"] == f"/api/uploads/{pending.pk}/mapping/"
    assert body["name"] == "catalog.csv"
    assert body["row_count"] == 14
    assert body["mapping"]["artist"] == 0
    assert body["mapping"]["title"] == 1
    assert body["remembered"] is False
    title = {"letter": "B", "header": "Track Title", "field": "title"}
    assert body["preview"]["columns"][1] == title
    first = body["preview"]["rows"][0]
    assert first["row_number"] == 2
    assert first["cells"][:2] == ["Chord Overstreet", "Hold On"]
    assert not Catalog.objects.exists()


def test_a_reviewer_cannot_upload(as_, db):
    response = upload(as_("rita"))
    assert response.status_code == 403
    assert "does not allow" in error_of(response)["detail"]
    assert not PendingUpload.objects.exists()


def test_anonymous_uploads_are_refused(db):
    assert upload(APIClient()).status_code == 401


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"", "empty.csv", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.png", ""),
        (csv_bytes([["Song", "Length"], ["a", "1:00"]]), "nohead.csv", "Artist"),
    ],
)
def test_a_file_that_cannot_be_a_catalog_is_a_400_on_the_file_field(as_, db, data, name, says):
    response = upload(as_("bob"), data, name)
    assert response.status_code == 400
    error = error_of(response)
    assert "file" in error["fields"]
    assert says in error["detail"]
    assert not PendingUpload.objects.exists()


def test_an_upload_without_a_file_says_so(as_, db):
    response = as_("bob").post(reverse("api-catalogs"), {}, format="multipart")
    assert response.status_code == 400
    assert "file" in error_of(response)["fields"]


def test_a_json_body_is_refused_with_415(as_, db):
    response = as_("bob").post(reverse("api-catalogs"), {"file": "x"}, format="json")
    assert response.status_code == 415
    error_of(response)


def test_an_upload_over_the_cap_is_refused_before_the_body_is_read(as_, db, settings, monkeypatch):
    settings.CATALOG_MAX_BYTES = 1024
    read = []
    monkeypatch.setattr(
        "rest_framework.request.Request._load_data_and_files",
        lambda self: read.append(True),
    )
    response = upload(as_("bob"), b"Artist,Title\n" + b"a,b\n" * 50_000)
    assert response.status_code == 413
    assert "larger than" in error_of(response)["detail"]
    assert read == []
    assert not list(Path(settings.MEDIA_ROOT).glob("catalogs/*"))


def test_a_file_over_the_cap_that_hides_its_size_is_still_refused(as_, db, settings):
    """A body under the declared cap plus overhead, but a file over the cap itself."""
    settings.CATALOG_MAX_BYTES = 20 * 1024
    response = upload(as_("bob"), b"Artist,Title\n" + b"a,b\n" * 6000)
    assert response.status_code == 400
    assert "larger than" in error_of(response)["fields"]["file"][0]
    assert not list(Path(settings.MEDIA_ROOT).glob("catalogs/*"))


def test_uploads_are_throttled_per_user(as_, db, monkeypatch):
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"uploads": "2/hour"})
    client = as_("bob")
    assert upload(client).status_code == 201
    assert upload(client).status_code == 201
    refused = upload(client)
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # Reading is not throttled, and another user has their own allowance.
    assert client.get(reverse("api-catalogs")).status_code == 200
    assert upload(as_("alice")).status_code == 201


# --- the mapping ------------------------------------------------------------------------------


def _pending(client: APIClient, data: bytes = CATALOG) -> dict[str, Any]:
    response = upload(client, data)
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_mapping_can_be_read_for_another_sheet(as_, db):
    data = xlsx_bytes(
        {
            "Notes": [["Written by the label"]],
            "Tracks": [["Artist", "Title"], ["Nirvana", "Lithium"]],
            "Live": [["Title", "Performer"], ["Lithium", "Nirvana"]],
        }
    )
    client = as_("bob")
    response = client.post(
        reverse("api-catalogs"), {"file": _file(data, "multi.xlsx")}, format="multipart"
    )
    body = response.json()
    assert body["sheet"] == "Tracks"
    assert {"Tracks", "Live"} <= {s["name"] for s in body["sheets"]}
    live = client.get(body["mapping_url"], {"sheet": "Live"}).json()
    assert live["sheet"] == "Live"
    assert live["mapping"] == {"title": 0, "artist": 1}
    assert live["preview"]["rows"][0]["cells"] == ["Lithium", "Nirvana"]
    unknown = client.get(body["mapping_url"], {"sheet": "Nope"})
    assert unknown.status_code == 400
    assert '"Tracks"' in error_of(unknown)["fields"]["sheet"][0]
    detail = client.get(reverse("api-upload", args=[body["id"]]))
    assert detail.json()["sheet"] == "Tracks"


def test_confirming_the_offered_mapping_stores_the_catalog_and_starts_the_run(
    as_, skeleton_dataset, django_capture_on_commit_callbacks
):
    client = as_("bob")
    pending = _pending(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(pending["mapping_url"], {}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    catalog = Catalog.objects.get(pk=body["catalog"]["id"])
    # The rows are stored by a task once the request's transaction commits.
    assert body["catalog"]["status"] in ("storing", "ready")
    assert body["run"]["catalog"] == catalog.pk
    assert response["Location"] == reverse("api-run-detail", args=[body["run"]["id"]])
    assert CatalogRow.objects.filter(catalog=catalog).count() == 14
    assert not PendingUpload.objects.exists()
    assert SavedMapping.objects.get(organization=catalog.organization).columns["artist"] == "Artist"
    stored = client.get(reverse("api-catalog-detail", args=[catalog.pk])).json()
    assert (stored["status"], stored["row_count"]) == ("ready", 14)
    run = client.get(reverse("api-run-detail", args=[body["run"]["id"]])).json()
    assert run["status"] == "done"


def test_an_overridden_mapping_is_the_one_stored(
    as_, skeleton_dataset, django_capture_on_commit_callbacks
):
    client = as_("bob")
    pending = _pending(client)
    mapping = {"artist": 0, "title": 1, "album": 3}  # no ISRC, no duration
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            pending["mapping_url"],
            {"mapping": mapping, "datasets": ["spotify-sample"]},
            format="json",
        )
    assert response.status_code == 201, response.json()
    catalog = Catalog.objects.get(pk=response.json()["catalog"]["id"])
    assert catalog.mapping == mapping
    assert not CatalogRow.objects.filter(catalog=catalog).exclude(isrc="").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": {"artist": 0}}, "mapping.title"),
        ({"mapping": {"artist": 0, "title": 0}}, "mapping.title"),
        ({"mapping": {"artist": 0, "title": 99}}, "mapping.title"),
        ({"mapping": {"artist": 0, "title": 1, "mood": 2}}, "mapping.mood"),
        ({"mapping": {"artist": -1, "title": 1}}, "mapping"),
        ({"mapping": {"artist": "A", "title": 1}}, "mapping"),
        ({"mapping": ["artist"]}, "mapping"),
        ({"sheet": "Other"}, "sheet"),
        ({"datasets": ["nope"]}, "datasets"),
    ],
)
def test_a_bad_mapping_is_a_400_naming_the_field(as_, skeleton_dataset, body, field):
    client = as_("bob")
    pending = _pending(client)
    response = client.post(pending["mapping_url"], body, format="json")
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert field in error["fields"], error
    assert field.split(".")[0] in error["detail"]
    assert PendingUpload.objects.filter(pk=pending["id"]).exists()
    assert not Catalog.objects.exists()


def test_the_mapping_of_another_labels_upload_is_a_404(as_, db):
    pending = _pending(as_("bob"))
    outsider = as_("charlie")
    assert outsider.get(pending["mapping_url"]).status_code == 404
    assert outsider.post(pending["mapping_url"], {}, format="json").status_code == 404
    assert outsider.delete(reverse("api-upload", args=[pending["id"]])).status_code == 404
    assert as_("rita").get(pending["mapping_url"]).status_code == 403
    assert PendingUpload.objects.filter(pk=pending["id"]).exists()


def test_a_pending_upload_can_be_discarded(as_, db, settings):
    client = as_("bob")
    pending = _pending(client)
    stored = PendingUpload.objects.get(pk=pending["id"]).stored_file
    response = client.delete(reverse("api-upload", args=[pending["id"]]))
    assert response.status_code == 204
    assert not PendingUpload.objects.exists()
    assert not stored_file_path(stored).exists()
    assert client.get(pending["mapping_url"]).status_code == 404


# --- list, detail, delete ---------------------------------------------------------------------


def test_catalogs_are_listed_for_the_organization_only(as_, label, other_label):
    mine = stored_catalog(label, "mine.csv")
    stored_catalog(other_label, "theirs.csv")
    body = as_("rita").get(reverse("api-catalogs")).json()
    assert [c["name"] for c in body["results"]] == ["mine.csv"]
    assert body["results"][0]["id"] == mine.pk
    assert body["results"][0]["status"] == "ready"
    assert body["results"][0]["row_count"] == 14


def test_a_catalog_detail_lists_its_runs(as_, run):
    body = as_("bob").get(reverse("api-catalog-detail", args=[run.catalog_id])).json()
    assert body["name"] == "alice-catalog.csv"
    assert body["headers"][:2] == ["Artist", "Track Title"]
    assert body["mapping"]["artist"] == 0
    assert [r["id"] for r in body["runs"]] == [run.pk]


@pytest.mark.parametrize(("persona", "expected"), [("bob", 403), ("rita", 403), ("charlie", 404)])
def test_only_the_owner_deletes_a_catalog(as_, run, persona, expected):
    response = as_(persona).delete(reverse("api-catalog-detail", args=[run.catalog_id]))
    assert response.status_code == expected
    assert Catalog.objects.filter(pk=run.catalog_id).exists()


def test_the_owner_deletes_a_catalog_with_its_runs_and_file(as_, run):
    catalog = run.catalog
    match = Match.objects.filter(run=run).first()
    as_("rita").post(reverse("api-match-verdict", args=[match.pk]), {"value": "confirmed"})
    path = stored_file_path(catalog.stored_file)
    assert path.exists()
    response = as_("alice").delete(reverse("api-catalog-detail", args=[catalog.pk]))
    assert response.status_code == 204
    assert not Catalog.objects.filter(pk=catalog.pk).exists()
    assert not MatchRun.objects.filter(pk=run.pk).exists()
    assert not Verdict.objects.exists()
    # The audit trail stays, by value.
    event = VerdictEvent.objects.get()
    assert event.match_id is None
    assert event.new_value == "confirmed"
    assert as_("alice").get(reverse("api-catalog-detail", args=[catalog.pk])).status_code == 404


def test_catalog_delete_cancels_runs_still_going_and_removes_the_file(
    label, skeleton_dataset, django_capture_on_commit_callbacks
):
    catalog = stored_catalog(label)
    queued = match_run_create(catalog=catalog)
    path = stored_file_path(catalog.stored_file)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_delete(catalog=catalog)
    assert not MatchRun.objects.filter(pk=queued.pk).exists()
    assert not CatalogRow.objects.filter(catalog_id=catalog.pk).exists()
    assert not path.exists()
