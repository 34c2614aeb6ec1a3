"""A run's progress as the pages show it: rows done of total, rows per second, time left."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from config.polling import HTMX_STOP_POLLING, POLL_SECONDS
from matcher.models import MatchRun

__all__ = ["HTMX_STOP_POLLING", "POLL_SECONDS", "RunProgress", "run_progress"]


# The pages' data-status names the states as the browser tests and the docs do.
PAGE_STATUS: dict[str, str] = {MatchRun.Status.DONE: "finished"}


@dataclass(frozen=True)
class RunProgress:
    run: MatchRun
    rate: float | None  # rows per second since the run started
    seconds_left: float | None

    @property
    def page_status(self) -> str:
        return PAGE_STATUS.get(self.run.status, self.run.status)

    @property
    def elapsed_seconds(self) -> float | None:
        """How long the run took (finished) or has been running."""
        if self.run.started_at is None:
            return None
        end = self.run.finished_at or timezone.now()
        return max(0.0, (end - self.run.started_at).total_seconds())

    @property
    def live(self) -> bool:
        """Whether the page should keep polling for news."""
        return not self.run.is_finished


def run_progress(run: MatchRun) -> RunProgress:
    """Speed is the average since the run started (chunks finish in steps, so an average over
    the whole run is steadier than the last interval)."""
    rate = seconds_left = None
    if run.started_at is not None and run.rows_done:
        end = run.finished_at or timezone.now()
        elapsed = (end - run.started_at).total_seconds()
        if elapsed > 0:
            rate = run.rows_done / elapsed
            if not run.is_finished:
                seconds_left = max(0, run.total_rows - run.rows_done) / rate
    return RunProgress(run=run, rate=rate, seconds_left=seconds_left)
