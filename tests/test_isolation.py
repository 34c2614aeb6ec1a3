"""An organization never sees another's catalogs, runs, reports or evidence (pages and CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.http import HttpRequest
from django.urls import reverse

from matcher.models import Match, MatchRun
from matcher.runs.services import match_run_start
from tests.factories import PASSWORD, stored_catalog

SKELETON = Path(__file__).parent / "data" / "skeleton"


@pytest.fixture
def alices_run(transactional_db, label, alice):  # type: ignore[no-untyped-def]
    from matcher.datasets.importer import dataset_import

    dataset_import(
        slug="spotify-sample",
        paths=[SKELETON / "tracks_generic.csv"],
        file_format="generic-csv",
    )
    catalog = stored_catalog(label, "alice-catalog.csv")
    run = match_run_start(catalog=catalog, created_by=alice)
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    return run


def _pages(run: MatchRun) -> list[str]:
    match = Match.objects.filter(run=run).first()
    assert match is not None
    return [
        reverse("run-detail", args=[run.pk]),
        reverse("run-status", args=[run.pk]),
        reverse("run-report-csv", args=[run.pk]),
        reverse("match-evidence", args=[match.pk]),
        reverse("api-run-detail", args=[run.pk]),
    ]


@pytest.mark.parametrize("username", ["alice", "bob", "rita"])
def test_members_of_the_label_can_read_its_run(alices_run, client, bob, rita, username):
    client.login(request=HttpRequest(), username=username, password=PASSWORD)
    for url in _pages(alices_run):
        response = client.get(url)
        assert response.status_code == 200, url


def test_an_outsider_gets_404_on_every_page_of_another_labels_run(alices_run, client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    for url in _pages(alices_run):
        response = client.get(url)
        assert response.status_code == 404, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"alice-catalog" not in body


def test_an_outsiders_dashboard_lists_none_of_another_labels_runs(alices_run, client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert b"alice-catalog" not in response.content
    assert "Rival Sounds" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(alices_run, client):
    for url in _pages(alices_run)[:4]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_an_outsider_cannot_cancel_another_labels_run(alices_run, client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    response = client.post(reverse("run-cancel", args=[alices_run.pk]))
    assert response.status_code == 404


def test_a_reviewer_cannot_upload(client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    with (SKELETON / "catalog.csv").open("rb") as fh:
        response = client.post(reverse("catalog-upload"), {"file": fh})
    assert response.status_code == 403
