"""Fixtures of the API tests: token clients for the personas and a finished run of the label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from matcher.models import Match, MatchRun
from matcher.runs.services import match_run_start
from tests.factories import stored_catalog, token_client

SKELETON = Path(__file__).resolve().parent.parent / "data" / "skeleton"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    # Throttle counters live in the cache, which outlives a test.
    cache.clear()


@pytest.fixture
def as_(label, other_label, alice, bob, rita, charlie) -> Callable[[str], APIClient]:  # type: ignore[no-untyped-def]
    """as_("bob"): a token client of a persona (charlie's token is for his own label)."""
    users = {"alice": alice, "bob": bob, "rita": rita, "charlie": charlie}

    def client(name: str) -> APIClient:
        return token_client(users[name], other_label if name == "charlie" else label)

    return client


@pytest.fixture
def skeleton_dataset(db):  # type: ignore[no-untyped-def]
    from matcher.datasets.importer import dataset_import

    dataset_import(
        slug="spotify-sample", paths=[SKELETON / "tracks_generic.csv"], file_format="generic-csv"
    )


@pytest.fixture
def run(label, alice, skeleton_dataset, django_capture_on_commit_callbacks) -> MatchRun:  # type: ignore[no-untyped-def]
    """A finished run of the label's 14-row skeleton catalog (tasks run in-process)."""
    catalog = stored_catalog(label)
    with django_capture_on_commit_callbacks(execute=True):
        started = match_run_start(catalog=catalog, created_by=alice)
    started.refresh_from_db()
    assert started.status == MatchRun.Status.DONE
    assert Match.objects.filter(run=started).exists()
    return started


def error_of(response: Any) -> dict[str, Any]:
    """The standard error body, checked for its shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"status", "code", "detail", "fields"}, error
    assert error["status"] == response.status_code
    assert error["detail"]
    return error
