"""The cache holding API throttle counters: memory by default, Redis when CACHE_URL says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _settings_value(expression: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CACHE_URL", "CACHE_KEY_PREFIX")}
    base.update(DEBUG="true", TRAINWATCH_EMBEDDED="true", DATABASE_URL="sqlite:///:memory:")
    base.update(env)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        f"django.setup(); from django.conf import settings; print({expression})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=base, capture_output=True, text=True
    )


def test_without_cache_url_counters_stay_in_process_memory() -> None:
    done = _settings_value("settings.CACHES['default']['BACKEND']")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


def test_cache_url_points_every_web_process_at_redis() -> None:
    done = _settings_value(
        "settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION']",
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    assert done.returncode == 0, done.stderr
    assert "RedisCache" in done.stdout and "redis://127.0.0.1:6379/1" in done.stdout


def test_a_cache_url_that_is_not_redis_is_refused_with_its_name() -> None:
    done = _settings_value("1", CACHE_URL="memcached://x")
    assert done.returncode != 0
    assert "CACHE_URL='memcached://x'" in done.stderr
