"""The upload page (drop zone, upload progress) and the catalog page: summary, mapping, invalid
rows, runs, and starting a run from it."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from matcher.models import Dataset, MatchRun
from tests.factories import PASSWORD
from uploads import views as upload_views
from uploads.models import Catalog
from uploads.services import catalog_create

CSV = (
    "Artist,Title,ISRC\n"
    "The Beatles,Yesterday,GBAYE6500524\n"
    ",No Artist Here,\n"
    "Nobody,Nothing,not-an-isrc\n"
    "The Beatles,Yesterday,GBAYE6500524\n"
    ",,XX-BAD\n"
)


def signed_in(client: Client, username: str) -> Client:
    client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


@pytest.fixture
def catalog(label: Any, alice: Any) -> Catalog:
    stream = io.BytesIO(CSV.encode())
    return catalog_create(
        organization=label, stream=stream, filename="spring.csv", uploaded_by=alice
    )


# --- upload page --------------------------------------------------------------------------


def test_upload_page_has_a_drop_zone_around_the_plain_file_input_and_upload_progress(
    client: Client, bob: Any
) -> None:
    body = signed_in(client, "bob").get(reverse("catalog-upload")).content.decode()
    zone = body[body.index('id="dropzone"') : body.index('id="file-help"')]
    assert re.search(r'<input type="file" name="file" id="id_file"[^>]* required', zone)
    assert '<label for="id_file">Catalog file</label>' in zone
    assert '<progress id="upload-progress" max="100" value="0">' in body
    assert '<label for="upload-progress">' in body
    assert ">Upload</button>" in body
    assert f'action="{reverse("catalog-upload")}" enctype="multipart/form-data"' in body
    assert '<script src="/static/js/upload.js" defer></script>' in body
    assert re.search(r'data-max-bytes="\d+"', body)


def test_a_reviewer_cannot_open_the_upload_page(client: Client, rita: Any) -> None:
    assert signed_in(client, "rita").get(reverse("catalog-upload")).status_code == 403


def test_the_mapping_page_confirms_with_confirm_mapping(client: Client, alice: Any) -> None:
    signed_in(client, "alice")
    f = io.BytesIO(CSV.encode())
    f.name = "spring.csv"
    response = client.post(reverse("catalog-upload"), {"file": f})
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    confirm = '<button type="submit" name="action" value="confirm" class="primary">'
    assert confirm + "Confirm mapping</button>" in body
    assert 'name="map_artist"' in body and 'aria-current="step"' in body


# --- catalog page -------------------------------------------------------------------------


def test_catalog_page_shows_rows_mapping_and_invalid_rows_with_where_and_why(
    client: Client, catalog: Catalog, bob: Any
) -> None:
    response = signed_in(client, "bob").get(reverse("catalog-detail", args=[catalog.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert '<span class="figure" id="fig-rows">5</span>' in body
    assert '<span class="figure fig-ok" id="fig-valid">3</span>' in body
    assert 'id="fig-invalid">2</span>' in body
    assert '<span class="figure" id="fig-duplicates">1</span>' in body
    assert '<span class="figure" id="fig-warnings">1</span>' in body
    assert '<th scope="row">Artist</th><td>A</td><td>Artist</td>' in body
    assert '<th scope="row">ISRC</th><td>C</td><td>ISRC</td>' in body
    # Row 3 has no artist, row 6 nothing but a bad ISRC: each listed with its row, column and
    # reason. Row 4 has a bad ISRC and an artist and title: valid, its ISRC ignored.
    invalid = body[body.index('id="invalid-rows"') : body.index('id="warnings-h"')]
    warned = body[body.index('id="warning-rows"') :]
    cell = r'<td data-label="{}">{}</td>'
    row3 = (
        cell.format("Row", 3)
        + cell.format("Column", "Artist[^<]*")
        + cell.format("Reason", "[^<]*artist[^<]*")
    )
    row6 = [
        cell.format("Row", 6) + cell.format("Column", column) + cell.format("Reason", reason)
        for column, reason in (
            (r"Artist \(A\)", "The artist is empty[^<]*"),
            (r"Title \(B\)", "The title is empty[^<]*"),
            (r"ISRC \(C\)", "ISRC &quot;XX-BAD&quot; ignored: not a valid ISRC[^<]*"),
        )
    ]
    row4 = (
        cell.format("Row", 4)
        + cell.format("Column", r"ISRC \(C\)")
        + cell.format("Warning", "ISRC &quot;not-an-isrc&quot; ignored: not a valid ISRC[^<]*")
    )
    assert re.search(row3, invalid, re.I)
    assert all(re.search(line, invalid) for line in row6)
    assert '<td data-label="Row">4</td>' not in invalid
    assert re.search(row4, warned)
    assert '<td data-label="Row">3</td>' not in warned


def test_invalid_rows_are_paginated(
    client: Client, catalog: Catalog, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(upload_views, "INVALID_ROWS_PER_PAGE", 1)
    signed_in(client, "alice")
    first = client.get(reverse("catalog-detail", args=[catalog.pk])).content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2#invalid-h" rel="next"' in first
    second = client.get(reverse("catalog-detail", args=[catalog.pk]), {"page": "2"})
    later = second.content.decode()
    later = later[: later.index('id="warnings-h"')]
    assert '<td data-label="Row">6</td>' in later and '<td data-label="Row">3</td>' not in later


def test_catalog_page_offers_to_start_matching_with_every_dataset_ticked(
    client: Client, catalog: Catalog, alice: Any, generic_dataset: Dataset
) -> None:
    body = signed_in(client, "alice").get(reverse("catalog-detail", args=[catalog.pk]))
    text = body.content.decode()
    assert f'action="{reverse("catalog-run-start", args=[catalog.pk])}" id="start-run"' in text
    assert re.search(rf'name="datasets" value="{generic_dataset.pk}"[^>]*checked', text)
    assert '<button type="submit" class="primary">Start matching</button>' in text


def test_a_reviewer_reads_the_catalog_page_without_the_start_form(
    client: Client, catalog: Catalog, rita: Any, generic_dataset: Dataset
) -> None:
    response = signed_in(client, "rita").get(reverse("catalog-detail", args=[catalog.pk]))
    assert response.status_code == 200
    assert 'id="start-run"' not in response.content.decode()


def test_an_outsider_gets_404_on_the_catalog_page_and_cannot_start_a_run(
    client: Client, catalog: Catalog, charlie: Any, generic_dataset: Dataset
) -> None:
    signed_in(client, "charlie")
    assert client.get(reverse("catalog-detail", args=[catalog.pk])).status_code == 404
    response = client.post(
        reverse("catalog-run-start", args=[catalog.pk]), {"datasets": [generic_dataset.pk]}
    )
    assert response.status_code == 404
    assert not MatchRun.objects.exists()


def test_start_matching_from_the_catalog_page_creates_a_run_and_opens_it(
    client: Client,
    catalog: Catalog,
    bob: Any,
    generic_dataset: Dataset,
    django_capture_on_commit_callbacks: Any,
) -> None:
    signed_in(client, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("catalog-run-start", args=[catalog.pk]), {"datasets": [generic_dataset.pk]}
        )
    run = MatchRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[run.pk])
    assert run.catalog == catalog and run.created_by == bob
    assert list(run.dataset_versions.all()) == [generic_dataset.current_version]
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    page = client.get(reverse("catalog-detail", args=[catalog.pk])).content.decode()
    assert f'href="{reverse("run-detail", args=[run.pk])}">Run #{run.pk}</a>' in page


def test_start_matching_with_no_dataset_ticked_says_what_to_do(
    client: Client, catalog: Catalog, alice: Any, generic_dataset: Dataset
) -> None:
    signed_in(client, "alice")
    response = client.post(reverse("catalog-run-start", args=[catalog.pk]), {}, follow=True)
    assert "Tick at least one dataset" in response.content.decode()
    assert not MatchRun.objects.exists()


def test_a_reviewer_cannot_start_a_run(
    client: Client, catalog: Catalog, rita: Any, generic_dataset: Dataset
) -> None:
    signed_in(client, "rita")
    response = client.post(
        reverse("catalog-run-start", args=[catalog.pk]), {"datasets": [generic_dataset.pk]}
    )
    assert response.status_code == 403
    assert not MatchRun.objects.exists()


def test_a_catalog_whose_rows_are_still_being_stored_cannot_be_started_yet(
    client: Client, catalog: Catalog, alice: Any, generic_dataset: Dataset
) -> None:
    Catalog.objects.filter(pk=catalog.pk).update(status=Catalog.Status.STORING)
    signed_in(client, "alice")
    page = client.get(reverse("catalog-detail", args=[catalog.pk])).content.decode()
    assert 'id="catalog-storing"' in page and 'id="start-run"' not in page
    response = client.post(
        reverse("catalog-run-start", args=[catalog.pk]),
        {"datasets": [generic_dataset.pk]},
        follow=True,
    )
    assert "still being stored" in response.content.decode()
    assert not MatchRun.objects.exists()


def test_a_catalog_that_could_not_be_stored_says_why(
    client: Client, catalog: Catalog, bob: Any
) -> None:
    Catalog.objects.filter(pk=catalog.pk).update(
        status=Catalog.Status.FAILED, error="Row 7: the file ends in the middle of a quote."
    )
    body = signed_in(client, "bob").get(reverse("catalog-detail", args=[catalog.pk]))
    text = body.content.decode()
    assert '<div class="error" role="alert" id="catalog-failed">' in text
    assert "Row 7: the file ends in the middle of a quote." in text


def test_the_catalog_page_shows_that_its_rows_are_stored(
    client: Client, catalog: Catalog, bob: Any
) -> None:
    body = signed_in(client, "bob").get(reverse("catalog-detail", args=[catalog.pk])).content
    text = body.decode()
    assert 'id="catalog-state" data-status="ready">Ready</span>' in text
    assert "hx-get" not in text.split('id="runs-h"')[0], "a stored catalog is not polled"


def test_a_catalog_being_stored_polls_its_status_and_offers_no_start_button(
    client: Client, catalog: Catalog, alice: Any, generic_dataset: Dataset
) -> None:
    Catalog.objects.filter(pk=catalog.pk).update(status=Catalog.Status.STORING)
    signed_in(client, "alice")
    url = reverse("catalog-detail", args=[catalog.pk])
    text = client.get(url).content.decode()
    assert 'id="catalog-state" data-status="storing">Storing rows</span>' in text
    assert f'hx-get="{url}?part=status" hx-trigger="every 2s"' in text
    assert 'id="start-waiting"' in text and "Start matching" not in text
    # While storing, the poll answers the status line only and keeps polling.
    poll = client.get(url, {"part": "status"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "HX-Refresh" not in poll
    assert "<html" not in poll.content.decode() and 'id="catalog-storing"' in poll.content.decode()
    # Once the rows are in, htmx stops polling (286) and reloads the page with the figures.
    Catalog.objects.filter(pk=catalog.pk).update(status=Catalog.Status.READY)
    done = client.get(url, {"part": "status"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and done["HX-Refresh"] == "true"
    assert 'data-status="ready"' in done.content.decode()
    assert 'id="start-run"' in client.get(url).content.decode()


def test_a_plain_request_for_the_status_part_gets_the_whole_page(
    client: Client, catalog: Catalog, bob: Any
) -> None:
    url = reverse("catalog-detail", args=[catalog.pk])
    response = signed_in(client, "bob").get(url, {"part": "status"})
    assert response.status_code == 200 and "<html" in response.content.decode()


def test_an_outsider_gets_404_on_the_catalog_status_poll(
    client: Client, catalog: Catalog, charlie: Any
) -> None:
    url = reverse("catalog-detail", args=[catalog.pk])
    response = signed_in(client, "charlie").get(url, {"part": "status"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404


def test_a_failed_catalog_shows_its_status_and_cannot_be_started(
    client: Client, catalog: Catalog, alice: Any
) -> None:
    Catalog.objects.filter(pk=catalog.pk).update(
        status=Catalog.Status.FAILED, error="The file ends in the middle of a quote."
    )
    text = signed_in(client, "alice").get(reverse("catalog-detail", args=[catalog.pk]))
    body = text.content.decode()
    assert 'id="catalog-state" data-status="failed">Failed</span>' in body
    assert "The file ends in the middle of a quote." in body
    assert 'id="start-run"' not in body and "cannot be matched" in body
    assert "hx-get" not in body.split('id="runs-h"')[0], "a failed catalog is not polled"
