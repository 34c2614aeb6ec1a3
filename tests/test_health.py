"""GET /healthz reports the database, the broker and the cache (tests/test_outages.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from config.celery import app as celery_app


@pytest.mark.django_db
def test_healthz_reports_database_and_redis_ok(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    celery_app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "in-process"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client, settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")


@pytest.mark.django_db
def test_healthz_says_in_process_when_tasks_run_in_process(client, settings):
    # As in tests: the embedded default has a broker (SQLite), checked as any other.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["broker"] == "in-process"
