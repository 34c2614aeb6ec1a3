"""Browser tests: headless Chromium (Debian's package) driven by Playwright against the real stack.

The web side is pytest-django's `live_server` (a thread of this process, on the test database);
tasks go through the real Redis broker to a real `celery worker` process on the same database.
Screenshots of every page go to $E2E_SCREENSHOT_DIR (default var/screenshots/, git-ignored).
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import DATA, REPO, WorkerProcess
from tests.factories import PASSWORD

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
# As the machines here need them: no sandbox as root, no GPU, and no background connections
# (the network is closed; Chromium would otherwise retry them all the time).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOT_DIR = Path(os.environ.get("E2E_SCREENSHOT_DIR") or REPO / "var" / "screenshots")
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}

CATALOG_ROWS = 3000  # enough chunks for the progress bar to be seen between 0 and 100 %
CHUNK_ROWS = 60
SECOND_DATASET_TRACKS = 20  # the first tracks of the sample, also published in a second dataset
SECOND_DATASET = "mirror-sample"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the package's tests (each test gets its own context: no shared state)."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        message = (
            f"Chromium is not installed at {CHROMIUM}: run `bash .ci/install-browser` "
            "(Debian packages chromium and chromium-driver) or set E2E_CHROMIUM"
        )
        if _ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running on this thread; Django then refuses ORM
    # calls made here (fixtures, assertions) as "async unsafe". They are plain synchronous
    # calls, so the documented switch is safe. Set only while the browser lives.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@dataclass
class Shots:
    """Screenshots named by the step they show: the full page, or only what the window shows
    (`full_page=False`, for pages too long to read as one picture)."""

    directory: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Any, name: str, *, full_page: bool = True) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


@pytest.fixture(scope="package")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOT_DIR.glob("FAILED-*.png"):
        stale.unlink()
    return SCREENSHOT_DIR


@pytest.fixture
def shots(screenshot_dir: Path) -> Shots:
    return Shots(screenshot_dir)


@pytest.fixture
def page(browser, live_server, request, shots) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server.url, viewport=WIDE, accept_downloads=True, locale="en-GB"
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors  # JavaScript errors of the pages, for tests to check
    blocked: list[str] = []  # what the Content-Security-Policy refused (a console error)
    tab.on(
        "console",
        lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield tab
    assert blocked == [], f"the Content-Security-Policy blocked: {blocked[:3]}"
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed and not tab.is_closed():
        # Best effort: the failure itself is what the report is about.
        with contextlib.suppress(Exception):
            shots(tab, f"FAILED-{request.node.name}")
    context.close()


def sign_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/login/" not in page.url, f"{username} could not sign in: still on {page.url}"


def _sample_tracks() -> list[dict[str, str]]:
    with (DATA / "skeleton" / "tracks_generic.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _word(rng: random.Random) -> str:
    syllables = ["ka", "lo", "mir", "tev", "zan", "qui", "dro", "ples", "vok", "yun", "ber", "sha"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()


@dataclass(frozen=True)
class E2ECatalog:
    path: Path
    rows: int
    known: int  # rows copied from the sample dataset
    in_second: int  # of which also in the second dataset


@pytest.fixture
def e2e_catalog(tmp_path: Path) -> E2ECatalog:
    """An .xlsx catalog: every track of the sample dataset, then made-up recordings (misses)."""
    rng = random.Random(8)
    tracks = _sample_tracks()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Catalog"
    ws.append(["Artist", "Track Title", "ISRC", "Album", "Duration"])
    for t in tracks:
        minutes, seconds = divmod(round(float(t["duration_s"] or 0)), 60)
        artist = t["artist"].replace(";", ", ")
        ws.append([artist, t["title"], "", t["album"], f"{minutes}:{seconds:02d}"])
    for _ in range(CATALOG_ROWS - len(tracks)):
        ws.append(
            [f"{_word(rng)} {_word(rng)}", f"{_word(rng)} {_word(rng)} {_word(rng)}", "", "", ""]
        )
    path = tmp_path / "northern-lights-catalog.xlsx"
    wb.save(path)
    return E2ECatalog(path, CATALOG_ROWS, len(tracks), SECOND_DATASET_TRACKS)


@pytest.fixture
def e2e_datasets(stack: Path) -> list[str]:
    """The stack's sample dataset, plus a second one publishing a part of the same tracks."""
    from matcher.datasets.importer import dataset_import

    second = stack / f"{SECOND_DATASET}.csv"
    tracks = _sample_tracks()[:SECOND_DATASET_TRACKS]
    with second.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(tracks[0]))
        writer.writeheader()
        for t in tracks:
            writer.writerow({**t, "track_id": f"m-{t['track_id']}", "url": ""})
    dataset_import(slug=SECOND_DATASET, paths=[second], file_format="generic-csv")
    # Display names, as an operator gives them: the pages must show these, never the slugs.
    from matcher.models import Dataset

    Dataset.objects.filter(slug="spotify-sample").update(name="Spotify Tracks (sample)")
    Dataset.objects.filter(slug=SECOND_DATASET).update(name="Mirror of Spotify Tracks")
    # The public search reads terms rebuilt after imports (matcher.search.selectors).
    from matcher.search.services import search_terms_refresh

    search_terms_refresh()
    return ["spotify-sample", SECOND_DATASET]


@pytest.fixture
def e2e_worker(e2e_datasets, settings, tmp_path: Path) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """A real worker (one process: the machine is shared) matching small chunks."""
    settings.MATCH_CHUNK_ROWS = CHUNK_ROWS  # read by the web side, which splits the run
    worker = WorkerProcess(
        tmp_path / "worker.log", concurrency=1, env={"MATCH_CHUNK_ROWS": str(CHUNK_ROWS)}
    )
    worker.wait_ready()
    yield worker
    worker.stop()
