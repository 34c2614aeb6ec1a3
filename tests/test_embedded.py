"""The embedded default (no REDIS_URL): tasks go through a SQLite broker to the worker that
.ci/serve starts, so confirming an upload returns at once and the run moves on behind it.

These tests run the embedded stack in child processes (SQLite database and broker in a
temporary folder), never in the test process, which uses the PostgreSQL test database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKELETON = Path(__file__).parent / "data" / "skeleton"
# What the embedded default must not inherit from the test run's environment.
NOT_EMBEDDED = ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_KEY_PREFIX", "DATABASE_URL", "CACHE_URL")


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_EMBEDDED}
    env.update(
        TRAINWATCH_EMBEDDED="true",
        DEBUG="true",
        ALLOWED_HOSTS="testserver",
        VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


def _python(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (args[:3], done.stderr[-3000:])
    return done.stdout


def _settings(env: dict[str, str], expression: str) -> object:
    code = (
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "django.setup(); from django.conf import settings; from config.celery import app; "
        f"print(json.dumps({expression}))"
    )
    return json.loads(_python(env, "-c", code, timeout=120))


def test_embedded_settings_send_tasks_to_the_sqlite_broker_not_in_process(tmp_path):
    env = embedded_env(tmp_path)
    broker, eager, options = _settings(
        env,
        "[app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options]",
    )
    assert broker == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert eager is False
    # The SQLAlchemy transport hands its options to create_engine: Redis' would break it.
    assert options == {"connect_args": {"timeout": 30}}


def test_with_redis_url_tasks_go_to_redis(tmp_path):
    env = embedded_env(tmp_path, REDIS_URL="redis://127.0.0.1:6379/5")
    broker, eager, options = _settings(
        env,
        "[app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options]",
    )
    assert broker == "redis://127.0.0.1:6379/5"
    assert eager is False
    assert "visibility_timeout" in options


def test_the_embedded_database_waits_for_the_other_writer_in_wal_mode(tmp_path):
    env = embedded_env(tmp_path)
    code = (
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "django.setup(); from django.db import connection; cur = connection.cursor(); "
        "cur.execute('PRAGMA journal_mode'); mode = cur.fetchone()[0]; "
        "cur.execute('PRAGMA busy_timeout'); busy = cur.fetchone()[0]; "
        "print(json.dumps([mode, busy, connection.transaction_mode]))"
    )
    mode, busy, transaction_mode = json.loads(_python(env, "-c", code, timeout=120))
    assert mode == "wal"
    assert busy == 30_000
    assert transaction_mode == "IMMEDIATE"


def _run_row(database: Path, run_id: int) -> tuple[str, int, int]:
    with sqlite3.connect(database, timeout=30) as db:
        row = db.execute(
            "SELECT status, rows_done, total_rows FROM matcher_matchrun WHERE id = ?", (run_id,)
        ).fetchone()
    return row[0], row[1], row[2]


def _queued_messages(broker: Path) -> int:
    with sqlite3.connect(broker, timeout=30) as db:
        return db.execute("SELECT count(*) FROM kombu_message WHERE visible = 1").fetchone()[0]


def test_confirming_returns_at_once_and_the_embedded_worker_finishes_the_run(tmp_path):
    env = embedded_env(tmp_path)
    database = tmp_path / "trainwatch.sqlite3"
    manage = str(REPO / "manage.py")
    _python(env, manage, "migrate", "-v0")
    _python(
        env, manage, "import_dataset", "spotify-sample", str(SKELETON / "tracks_generic.csv"),
        "--format", "generic-csv", "--no-progress",
    )  # fmt: skip

    # No worker runs yet: in-process tasks would have matched the whole catalog before the
    # answer; through the broker, the answer comes with the rows still to be stored.
    confirmed = json.loads(
        _python(env, "-m", "tests.embedded_client", "confirm", str(SKELETON / "catalog.csv"))
    )
    assert confirmed["response"] == 302
    assert confirmed["location"] == confirmed["run_url"], "the uploader goes to the run's page"
    assert confirmed["page"] == 200
    assert confirmed["catalog_status"] == "storing"
    assert (confirmed["run_status"], confirmed["rows_done"]) == ("queued", 0)
    assert _queued_messages(tmp_path / "broker.sqlite") == 1, "the store task waits in the broker"
    run_id = confirmed["run"]

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        ["bash", str(REPO / ".ci" / "embedded-worker"), "--loglevel", "INFO"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while _run_row(database, run_id)[0] not in ("done", "failed", "cancelled"):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
        assert _run_row(database, run_id) == ("done", 14, 14)
        assert _queued_messages(tmp_path / "broker.sqlite") == 0

        # The progress the run page polls says so too.
        progress = json.loads(_python(env, "-m", "tests.embedded_client", "status", str(run_id)))
        assert progress["response"] == 200
        assert (progress["status"], progress["percent"]) == ("done", 100)
        assert progress["health"]["broker"] == "ok", progress["health"]
    finally:
        # As .ci/serve's trap does when the server stops: TERM, a warm shutdown.
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            pytest.fail("the worker did not stop within 60 s of SIGTERM")
        log.close()
    text = (tmp_path / "worker.log").read_text(errors="replace")
    assert "database is locked" not in text
    assert "uploads.tasks.catalog_store_rows" in text and "matcher.tasks.match_chunk" in text
