"""Faults with real processes: a killed worker, a restarted Redis, dropped database
connections, lost tasks, and a cancelled run. Each must cost time, never correctness: every
catalog row ends with exactly one result, and no match is written twice."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from config.celery import app as celery_app
from matcher.models import Match, MatchChunk, MatchRun, RowResult
from matcher.runs.services import (
    match_run_begin,
    match_run_cancel,
    match_run_create,
    match_run_start,
)
from tests.conftest import REPO, WorkerProcess, subprocess_env, wait_until
from tests.factories import BIG_CATALOG_ROWS, big_catalog, big_catalog_file

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = BIG_CATALOG_ROWS


def _run(pk: int) -> MatchRun:
    return MatchRun.objects.get(pk=pk)


def _assert_accounted_once(run: MatchRun) -> None:
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE, run.error
    assert run.rows_done == run.total_rows == ROWS
    assert run.chunks_done == run.chunk_count
    assert MatchChunk.objects.filter(run=run, status="pending").count() == 0
    results = RowResult.objects.filter(run=run)
    assert results.count() == ROWS
    assert results.values("catalog_row").distinct().count() == ROWS
    # The first len(tracks) rows are the sample's own tracks: each is found, once per pair.
    assert results.filter(status="matched").count() >= 60
    pairs = Match.objects.filter(run=run).values_list("catalog_row_id", "track_id")
    assert len(pairs) == len(set(pairs))


def test_a_worker_killed_mid_run_loses_nothing(stack, settings):
    settings.MATCH_CHUNK_ROWS = 10
    catalog = big_catalog(stack, "kill-label")
    env = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    first = WorkerProcess(stack / "worker-a.log", concurrency=1, env=env)
    first.wait_ready()
    run = match_run_start(catalog=catalog)
    wait_until(lambda: _run(run.pk).chunks_done >= 3, 180, "three chunks done")
    first.kill()
    killed_at = _run(run.pk)
    assert killed_at.status == MatchRun.Status.RUNNING
    assert killed_at.chunks_done < killed_at.chunk_count

    second = WorkerProcess(stack / "worker-b.log", concurrency=2, env=env)
    try:
        second.wait_ready()
        wait_until(lambda: _run(run.pk).is_finished, 180, "the run to finish on the second worker")
    finally:
        second.stop()
    _assert_accounted_once(run)


def test_dropped_database_connections_are_retried(stack, settings):
    settings.MATCH_CHUNK_ROWS = 20
    catalog = big_catalog(stack, "db-drop-label")
    worker = WorkerProcess(stack / "worker.log", concurrency=2)
    try:
        worker.wait_ready()
        run = match_run_start(catalog=catalog)
        wait_until(lambda: _run(run.pk).chunks_done >= 1, 180, "the first chunk")
        killed = 0
        for _ in range(5):
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                killed += cur.fetchone()[0]
            time.sleep(0.3)
        assert killed >= 1, "the worker's connections were terminated at least once"
        wait_until(lambda: _run(run.pk).is_finished, 180, "the run to finish")
    finally:
        worker.stop()
    _assert_accounted_once(run)


def test_lost_tasks_are_found_by_the_periodic_check_and_requeued(stack, settings):
    settings.MATCH_CHUNK_ROWS = 100
    # One run whose dispatch task was lost, one whose chunk tasks were lost mid-way.
    queued = match_run_create(catalog=big_catalog(stack, "lost-a"))
    running = match_run_create(catalog=big_catalog(stack, "lost-b"))
    assert match_run_begin(run_id=running.pk)  # chunks pending, but no task was ever sent
    env = {"MATCH_STALL_SECONDS": "1", "MATCH_WATCHDOG_INTERVAL": "1"}
    worker = WorkerProcess(stack / "worker.log", concurrency=2, env=env)
    beat = _beat(stack, env)
    try:
        worker.wait_ready()
        wait_until(
            lambda: _run(queued.pk).is_finished and _run(running.pk).is_finished,
            120,
            "both runs to be rescued",
        )
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        worker.stop()
    assert "match_runs_watchdog" in (stack / "beat.log").read_text(errors="replace")
    _assert_accounted_once(queued)
    _assert_accounted_once(running)


def test_cancel_stops_new_chunks_and_leaves_a_consistent_partial_report(stack, settings):
    settings.MATCH_CHUNK_ROWS = 10
    catalog = big_catalog(stack, "cancel-label")
    worker = WorkerProcess(stack / "worker.log", concurrency=1)
    try:
        worker.wait_ready()
        run = match_run_start(catalog=catalog)
        wait_until(lambda: _run(run.pk).chunks_done >= 2, 180, "two chunks")
        assert match_run_cancel(run=_run(run.pk))
        # Let the worker drain the queue: each remaining task must now do nothing.
        time.sleep(3)
        settled = _run(run.pk).chunks_done
        time.sleep(1)
    finally:
        worker.stop()
    run.refresh_from_db()
    assert run.status == MatchRun.Status.CANCELLED
    assert run.chunks_done == settled < run.chunk_count
    results = RowResult.objects.filter(run=run)
    assert results.count() == run.rows_done < ROWS
    assert MatchChunk.objects.filter(run=run, status="done").count() == run.chunks_done


def _beat(stack: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (stack / "beat.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
             "-s", str(stack / "beat-schedule")],
            cwd=REPO, env={**subprocess_env(), **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path) -> Iterator[tuple[int, list[str]]]:  # type: ignore[no-untyped-def]
    """A Redis of this test's own (persistent, as in docker/compose.yaml), so restarting it
    disturbs nothing else."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server not installed")
    port = _free_port()
    data = tmp_path / "redis"
    data.mkdir()
    cmd = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
           "--appendonly", "yes", "--appendfsync", "always", "--save", ""]  # fmt: skip
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)]
    _wait_port(port)
    yield port, cmd
    for p in procs + _restarted:
        p.kill()
        p.wait(timeout=10)
    _restarted.clear()


_restarted: list[subprocess.Popen[bytes]] = []


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"redis on {port} did not start")


def test_a_redis_restart_during_a_run_does_not_need_manual_repair(stack, settings, private_redis):
    port, cmd = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    env = {"REDIS_URL": url, "CELERY_BROKER_URL": url, "CELERY_VISIBILITY_TIMEOUT": "5",
           "MATCH_CHUNK_ROWS": "10", "MATCH_STALL_SECONDS": "15",
           "MATCH_WATCHDOG_INTERVAL": "2"}  # fmt: skip
    worker = WorkerProcess(stack / "worker.log", concurrency=1, env=env)
    # The deployment's periodic check runs too, as it would in production (docker/compose.yaml).
    beat = _beat(stack, env)
    # Not the current app: later tests' tasks must keep going to the suite's own broker.
    ping_app = Celery(
        "ping",
        broker=url,
        broker_transport_options=celery_app.conf.broker_transport_options,
        set_as_current=False,
    )
    out = stack / "report.csv"
    producer = subprocess.Popen(
        [sys.executable, "manage.py", "match_catalog", str(big_catalog_file(stack)),
         "--org", "redis-label", "--out", str(out), "--timeout", "240"],
        cwd=REPO, env={**subprocess_env(), **env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        worker.wait_ready(app=ping_app)
        wait_until(
            lambda: MatchRun.objects.filter(
                organization__slug="redis-label", chunks_done__gte=3
            ).exists(),
            180,
            "three chunks",
            producer,
        )
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
        time.sleep(1.5)
        _restarted.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True))
        _wait_port(port)
        output, _ = producer.communicate(timeout=240)
    finally:
        if producer.poll() is None:
            producer.kill()
        beat.terminate()
        beat.wait(timeout=30)
        worker.stop()
    assert producer.returncode == 0, output.decode(errors="replace")
    run = MatchRun.objects.get(organization__slug="redis-label")
    _assert_accounted_once(run)
    with out.open(encoding="utf-8", newline="") as fh:
        numbers = {int(r["catalog_row"]) for r in csv.DictReader(fh)}
    assert numbers == set(range(2, ROWS + 2))
