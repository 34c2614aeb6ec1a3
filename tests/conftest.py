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
    from matcher.datasets.importer import dataset_import

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


class WorkerProcess:
    """A real `celery worker` process (its own session, so it can be killed as a group)."""

    def __init__(
        self, log_path: Path, *, concurrency: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self.name = f"test-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {**subprocess_env(), **(env or {})}
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
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
                str(concurrency),
                "--loglevel",
                "INFO",
                # One log file per pool process (%I): lines of two processes never interleave.
                "--logfile",
                str(log_path.with_name(f"{log_path.stem}-%I.log")),
                "-n",
                f"{self.name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def wait_ready(self, app=None, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        app = app or celery_app
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited at start; see {self.log_path}")
            replies = app.control.ping(timeout=1.0) or []
            if any(next(iter(r)).startswith(self.name + "@") for r in replies):
                return
        self.kill()
        raise RuntimeError(f"celery worker did not answer within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no warm shutdown, no acks."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def log(self) -> str:
        files = [self.log_path, *sorted(self.log_path.parent.glob(f"{self.log_path.stem}-*.log"))]
        return "\n".join(f.read_text(errors="replace") for f in files if f.exists())


def wait_until(predicate, timeout: float, what: str, child=None) -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate` until it holds; fail after `timeout` seconds, or at once when the
    `child` process (if any) exits, with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if child is not None and child.poll() is not None:
            output = child.stdout.read().decode(errors="replace") if child.stdout else ""
            raise AssertionError(f"{child.args[:4]} exited {child.returncode}: {output}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _require_worker_stack() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("worker tests need PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL:
        pytest.skip("worker tests need Redis (REDIS_URL)")


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """A real `celery worker` process on the test database, through the real Redis broker."""
    _require_worker_stack()
    celery_app.control.purge()
    worker = WorkerProcess(Path(settings.MEDIA_ROOT).parent / "worker.log")
    worker.wait_ready()
    yield worker
    worker.stop()


@pytest.fixture
def stack(transactional_db, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """PostgreSQL and Redis for worker processes, with the skeleton sample dataset imported."""
    from matcher.datasets.importer import dataset_import

    _require_worker_stack()
    celery_app.control.purge()
    dataset_import(
        slug="spotify-sample",
        paths=[DATA / "skeleton" / "tracks_generic.csv"],
        file_format="generic-csv",
    )
    return tmp_path
