"""Report figures: computed once, when a run is done, and stored on the run
(MatchRun.report_figures).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from matcher.models import (
    Match,
    MatchRun,
    RowResult,
)
from matcher.review.services import verdicts_carry_over_once

FIGURES_FORMAT = 1


BREAKDOWN_LIMIT = 15


def run_figures_compute(run: MatchRun) -> dict[str, Any]:
    """The report figures that depend only on the run's results (not on verdicts): the
    expensive aggregates over every row. Once a run is done they never change, so
    report_prepare stores them on the run (MatchRun.report_figures)."""
    status_counts = dict(
        run.row_results.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    by_kind = dict(
        run.row_results.filter(status=RowResult.Status.MATCHED)
        .values_list("best_kind")
        .annotate(n=Count("id"))
        .values_list("best_kind", "n")
    )
    per_dataset: dict[str, dict[str, int]] = {}
    for item in (
        Match.objects.filter(run=run, rank=1).values("dataset_id", "kind").annotate(n=Count("id"))
    ):
        per_dataset.setdefault(str(item["dataset_id"]), {})[item["kind"]] = item["n"]
    return {
        "format": FIGURES_FORMAT,
        "status": status_counts,
        "by_kind": by_kind,
        "per_dataset": per_dataset,
        "matches": Match.objects.filter(run=run).count(),
        "by_artist": _breakdown(run, "artist"),
        "by_album": _breakdown(run, "album"),
    }


def _breakdown(run: MatchRun, by: str) -> list[list[Any]]:
    column = f"catalog_row__{by}"
    qs = (
        run.row_results.filter(status=RowResult.Status.MATCHED)
        .exclude(**{column: ""})
        .values(column)
        .annotate(found=Count("id"))
        .order_by("-found", column)[:BREAKDOWN_LIMIT]
    )
    found = {item[column]: item["found"] for item in qs}
    rows = dict(
        run.row_results.filter(**{f"{column}__in": list(found)})
        .values_list(column)
        .annotate(n=Count("id"))
        .values_list(column, "n")
    )
    return [[label, rows.get(label, n), n] for label, n in found.items()]


def report_prepare(*, run: MatchRun) -> None:
    """Once a run is done: carry verdicts over from earlier runs and store the report figures
    that can no longer change. Idempotent and cheap after the first call. Called by the chunk
    that finishes the run (matcher.runs.chunk), and by the watchdog for a done run whose figures
    are missing (a worker lost between the two); never by a page, an API or an export."""
    if run.status != MatchRun.Status.DONE:
        return
    verdicts_carry_over_once(run=run)
    if (run.report_figures or {}).get("format") != FIGURES_FORMAT:
        figures = run_figures_compute(run)
        MatchRun.objects.filter(pk=run.pk).update(report_figures=figures)
        run.report_figures = figures
