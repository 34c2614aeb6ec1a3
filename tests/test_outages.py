"""A cache or database outage: throttles fail open, /healthz tells, the API keeps its JSON body.

The cache is a real Redis (tests' REDIS_URL) or, for the outage, a Redis address where nothing
listens: the same client and the same errors as a Redis that went down.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from config.celery import app as celery_app

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _redis_cache(location: str) -> dict[str, dict[str, object]]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "trainwatch-test-outage",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def redis_down(settings):  # type: ignore[no-untyped-def]
    settings.CACHES = _redis_cache(DEAD_REDIS)


@pytest.mark.django_db
def test_healthz_checks_the_cache(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CACHES = _redis_cache(settings.REDIS_URL)
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()["cache"]) == (200, "ok")
    settings.CACHES = _redis_cache(DEAD_REDIS)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["cache"].startswith("error")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_the_public_search_answers_while_the_cache_is_down(client, redis_down):
    page = client.get(reverse("search"), {"artist": "radiohead"})
    assert page.status_code == 200
    assert b"Search the datasets" in page.content
    api = client.get(reverse("api-search"), {"artist": "radiohead"})
    assert api.status_code == 200
    assert "datasets" in api.json() or "results" in api.json()
    suggest = client.get(reverse("search-suggest"), {"field": "artist", "q": "radi"})
    assert suggest.status_code == 200


@pytest.mark.django_db
def test_an_api_request_during_a_database_outage_gets_the_json_error_body(client, monkeypatch):
    def down(**_kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("matcher.search.views.dataset_search", down)
    response = client.get(reverse("api-search"), {"artist": "radiohead"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response["Retry-After"] == "30"
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (503, "unavailable")
    assert "try again" in error["detail"]


@pytest.mark.django_db
def test_an_unexpected_api_error_is_a_json_500_and_a_page_error_stays_html(monkeypatch):
    def broken(**_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("matcher.search.views.dataset_search", broken)
    client = Client(raise_request_exception=False)
    api = client.get(reverse("api-search"), {"artist": "radiohead"})
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    assert "a bug" not in api.content.decode()  # no internals in the answer
    page = client.get(reverse("search"), {"artist": "radiohead"})
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_an_outage_outside_a_drf_view_still_answers_json_under_api(monkeypatch):
    # A middleware's query failing (the organization middleware, the session) never reaches
    # DRF's handler: the site's 500 handler answers for /api/.
    from accounts import middleware

    def down(self: object, request: object) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(middleware.CurrentOrganizationMiddleware, "__call__", down)
    client = Client(raise_request_exception=False)
    response = client.get(reverse("api-search"), {"artist": "radiohead"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


@pytest.mark.django_db
def test_the_upload_form_is_throttled_like_the_api_with_one_budget(
    client, settings, monkeypatch, tmp_path
):
    from accounts.models import Organization, Role
    from config.throttling import UploadThrottle
    from tests.factories import member

    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"uploads": "2/hour"})
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    org = Organization.objects.create(name="Throttled Records", slug="throttled-records")
    client.force_login(member(org, "uma", Role.OWNER))

    def post() -> int:
        sheet = tmp_path / "catalog.csv"
        sheet.write_bytes(b"Artist,Title\nNirvana,Lithium\n")
        with sheet.open("rb") as fh:
            return client.post(reverse("catalog-upload"), {"file": fh}).status_code

    assert post() == 302  # to the mapping step
    assert post() == 302
    with (tmp_path / "catalog.csv").open("rb") as fh:
        refused = client.post(reverse("catalog-upload"), {"file": fh})
    assert refused.status_code == 429
    assert "as many catalogs as one hour allows" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
