"""GET /healthz: are the database, the broker and the cache reachable (compose healthchecks).

The cache holds the throttle counters: when it is down the service still answers (throttles
fail open, config.throttling) but is degraded, and /healthz says so with a 503.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database() -> str:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _cache() -> str:
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        return "in-process"
    try:
        cache.set("healthz", "1", timeout=5)
        if cache.get("healthz") != "1":
            return "error: the value written was not read back"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    state = {"database": _database(), "broker": _broker(), "cache": _cache()}
    healthy = all(v in ("ok", "in-process") for v in state.values())
    return JsonResponse(state, status=200 if healthy else 503)
