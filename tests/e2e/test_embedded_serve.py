"""The README's first command in a browser: `bash .ci/serve`, the embedded default (SQLite
database and broker, the worker the script starts beside the web server).

Unlike the other browser tests this one does not use live_server (a thread on the PostgreSQL test
database): it runs the script itself in a temporary folder and drives the site it serves.
Confirming an upload must answer at once with the run's page, which then moves on by itself to
the finished run; stopping the script (Ctrl-C) must stop the worker too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import DATA, REPO
from tests.e2e.conftest import WIDE, E2ECatalog, Shots
from tests.test_embedded import NOT_EMBEDDED

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 300.0  # install check, migrate, collectstatic and seed_demo, under load
RUN_TIMEOUT_S = 180.0


@dataclass
class Served:
    url: str
    password: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(sid: int) -> dict[int, tuple[int, str]]:
    """The processes of session `sid`: pid -> (process group, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, session
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(entry.name)] = (int(fields[2]), cmdline)
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "data"  # the two sample files seed_demo reads, from the test copies
    data.mkdir()
    shutil.copy(DATA / "datasets" / "spotify_tracks_sample_886.csv", data)
    shutil.copy(
        DATA / "catalogs" / "most_streamed_2024_excerpt.csv",
        data / "most_streamed_spotify_2024_isrc.csv",
    )
    bind = f"127.0.0.1:{_free_port()}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (*NOT_EMBEDDED, "DEBUG", "ALLOWED_HOSTS", "SECRET_KEY")
    }
    env.update(
        BIND=bind,
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "var" / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
        DEMO_DATA_DIR=str(data),
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", str(REPO / ".ci" / "serve")],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    site = Served(f"http://{bind}", "", proc, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f".ci/serve exited {proc.returncode}:\n{site.output()}"
            assert time.monotonic() < deadline, f".ci/serve did not start:\n{site.output()}"
            found = re.search(r"password:\s+(\S+)", site.output())
            if found:
                try:
                    with urllib.request.urlopen(f"{site.url}/healthz", timeout=5) as answer:  # noqa: S310
                        if answer.status == 200:
                            site.password = found.group(1)
                            break
                except OSError:
                    pass
            time.sleep(0.5)
        yield site
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as the README says to stop it
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                pytest.fail(f".ci/serve did not stop within 90 s of Ctrl-C:\n{site.output()}")


def _worker_group(site: Served) -> int:
    for pid, (group, cmdline) in _session(site.proc.pid).items():
        if "celery" in cmdline and " worker " in cmdline and pid == group:
            return group
    raise AssertionError(f"no celery worker beside the server:\n{site.output()}")


def test_confirm_returns_at_once_and_the_progress_page_moves_on_on_the_embedded_default(
    browser: Any, served: Served, shots: Shots, e2e_catalog: E2ECatalog
) -> None:
    context = browser.new_context(base_url=served.url, viewport=WIDE, locale="en-GB")
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", served.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/login/" not in page.url, "the demo user could not sign in"

    page.goto("/catalogs/upload/")
    page.set_input_files("#id_file", str(e2e_catalog.path))
    page.locator("form:has(#id_file)").get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/catalogs/upload/[0-9a-f-]{36}/$"))

    # The worker is held (SIGSTOP) while confirming: the answer cannot wait for any task.
    worker = _worker_group(served)
    os.killpg(worker, signal.SIGSTOP)
    try:
        started = time.monotonic()
        page.get_by_role("button", name="Confirm mapping", exact=True).click()
        page.wait_for_url(re.compile(r"/runs/\d+/$"))
        answered = time.monotonic() - started
        status = page.locator("#run-status")
        assert status.get_attribute("data-status") != "finished"
        assert "Storing the catalog's rows" in page.locator("#run-waiting").inner_text()
        shots(page, "embedded-01-confirmed")
    finally:
        os.killpg(worker, signal.SIGCONT)
    print(f"confirming answered in {answered:.2f} s")

    # The page polls its own progress: no reload, it reaches the finished run.
    seen: list[float] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        try:
            state = page.evaluate(
                "() => ({value: Number(document.querySelector('#run-progress')?.value ?? -1),"
                " status: document.querySelector('#run-status')?.getAttribute('data-status')})"
            )
        except PlaywrightError as error:
            # The run page reloads itself once the run has finished (to show the report): a
            # read that meets that navigation is read again on the new page.
            if "navigation" not in str(error):
                raise
            page.wait_for_load_state()
            continue
        if state["value"] >= 0 and (not seen or seen[-1] != state["value"]):
            seen.append(state["value"])
        if state["status"] in ("finished", "failed", "cancelled"):
            break
        assert time.monotonic() < deadline, f"still {state} after {RUN_TIMEOUT_S:.0f} s: {seen}"
        page.wait_for_timeout(200)
    print(f"progress values shown by the run page: {seen}")
    assert state["status"] == "finished", served.output()[-3000:]
    assert page.locator("#run-progress").evaluate("bar => Number(bar.value)") == 100
    rows = f"{e2e_catalog.rows:,}"
    assert f"{rows} of {rows} rows checked" in page.locator("#run-count").inner_text()
    assert seen == sorted(seen), f"the progress bar went backwards: {seen}"
    shots(page, "embedded-02-finished")
    assert errors == [], errors
    context.close()

    # Ctrl-C stops the server and the worker: nothing of the session is left.
    served.proc.send_signal(signal.SIGINT)
    served.proc.wait(timeout=90)
    deadline = time.monotonic() + 30
    while _session(served.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session(served.proc.pid) == {}, "processes left after Ctrl-C"
    assert "database is locked" not in served.output()
