"""Datasets: public list and detail."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.conftest import error_of


def test_anyone_can_list_the_datasets_page_by_page(skeleton_dataset, generic_dataset):
    client = APIClient()
    response = client.get(reverse("api-datasets"), {"page_size": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is not None
    first = body["results"][0]
    assert first["slug"] == "demo-generic"
    assert first["tracks"] > 0
    assert len(first["version_sha256"]) == 64
    second = client.get(body["next"]).json()["results"][0]
    assert second["slug"] == "spotify-sample"


def test_a_page_beyond_the_last_is_a_404_with_the_error_body(skeleton_dataset):
    response = APIClient().get(reverse("api-datasets"), {"page": 9})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_dataset_detail_lists_its_versions(skeleton_dataset):
    response = APIClient().get(reverse("api-dataset-detail", args=["spotify-sample"]))
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "spotify-sample"
    assert body["tracks"] == 60
    [version] = body["versions"]
    assert version["number"] == body["version"]
    assert version["status"] == "ready"
    assert version["row_count"] == 60
    assert version["files"][0]["name"] == "tracks_generic.csv"


def test_an_unknown_dataset_is_a_404(db):
    response = APIClient().get(reverse("api-dataset-detail", args=["no-such-set"]))
    assert response.status_code == 404
    error_of(response)
