"""Shared fixtures: personas, organizations, a small imported dataset, and a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app as celery_app
from tests import factories

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ordinary tests run tasks in-process; tests marked `worker` send them through Redis."""
    eager = request.node.get_closest_marker("worker") is None
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _test_settings(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Pages render without a collectstatic run (the manifest exists only in built images).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def label(db):  # type: ignore[no-untyped-def]
    return factories.OrganizationFactory(slug="northern-lights", name="Northern Lights Records")


@pytest.fixture
def other_label(db):  # type: ignore[no-untyped-def]
    return factories.OrganizationFactory(slug="rival-sounds", name="Rival Sounds")


@pytest.fixture
def alice(label):  # type: ignore[no-untyped-def]
    """Owner of the label."""
    return factories.member(label, "alice", "owner")


@pytest.fixture
def bob(label):  # type: ignore[no-untyped-def]
    """A teammate (member) of the label."""
    return factories.member(label, "bob", "member")


@pytest.fixture
def rita(label):  # type: ignore[no-untyped-def]
    """A reviewer (lawyer) of the label."""
    return factories.member(label, "rita", "reviewer")


@pytest.fixture
def charlie(other_label):  # type: ignore[no-untyped-def]
    """An outsider: member of another label only."""
    return factories.member(other_label, "charlie", "owner")


@pytest.fixture
def generic_dataset(db):  # type: ignore[no-untyped-def]
    """The hand-written generic CSV dataset in tests/data, imported."""
    from matcher.importer import dataset_import

    dataset_import(
        slug="demo-generic",
        paths=[DATA / "datasets" / "generic_tracks.csv"],
        file_format="generic-csv",
    )
    from matcher.models import Dataset

    return Dataset.objects.get(slug="demo-generic")


def subprocess_env() -> dict[str, str]:
    """Environment for a child process (worker, manage.py) that uses the test database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    env.setdefault("SECRET_KEY", "test-only-secret-key")
    return env


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """A real `celery worker` process on the test database, through the real Redis broker."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("worker tests need PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL:
        pytest.skip("worker tests need Redis (REDIS_URL)")
    celery_app.control.purge()
    log_path = Path(settings.MEDIA_ROOT).parent / "worker.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "matching,default",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-n",
            f"test-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=REPO,
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = str(log_path)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    name = f"test-{os.getpid()}@"
    while time.monotonic() < deadline:
        replies = celery_app.control.ping(timeout=1.0) or []
        if any(next(iter(r)).startswith(name) for r in replies):
            break
        if proc.poll() is not None:
            raise RuntimeError("celery worker exited at start; see worker.log")
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError("celery worker did not answer within 60 s")
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()
