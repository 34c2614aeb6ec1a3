"""Report figures: computed once, when a run is done, and stored on the run
(MatchRun.report_figures).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count

from matcher.models import (
    Match,
    MatchRun,
    RowResult,
)
from matcher.review.services import verdicts_carry_over_once

# 2: duplicate rows counted per dataset as in the headline; match lines (issue 17).
FIGURES_FORMAT = 2


BREAKDOWN_LIMIT = 15


def run_figures_compute(run: MatchRun) -> dict[str, Any]:
    """The report figures that depend only on the run's results (not on verdicts): the
    expensive aggregates over every row. Once a run is done they never change, so
    report_prepare stores them on the run (MatchRun.report_figures).

    Rows are counted the same way everywhere: a duplicate of an earlier row has no matches of
    its own, it is found when its original is (its result carries the original's outcome) and
    reported with its original's matches, so it counts as a row found, in the headline and in
    each dataset its original was found in, and repeats its original's match lines.
    """
    results = run.row_results.all()
    status_counts = dict(
        results.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    by_kind = dict(
        results.filter(status=RowResult.Status.MATCHED)
        .values_list("best_kind")
        .annotate(n=Count("id"))
        .values_list("best_kind", "n")
    )
    found_duplicates = results.filter(
        status=RowResult.Status.MATCHED, catalog_row__duplicate_of__isnull=False
    )
    # Original row id -> how many of its duplicates are reported with its matches.
    copies = Counter(
        found_duplicates.values_list("catalog_row__duplicate_of_id", flat=True).iterator(2000)
    )
    originals = found_duplicates.values("catalog_row__duplicate_of_id")

    per_dataset: dict[str, dict[str, int]] = {}
    per_dataset_duplicates: dict[str, int] = {}
    for item in (
        Match.objects.filter(run=run, rank=1).values("dataset_id", "kind").annotate(n=Count("id"))
    ):
        kinds = per_dataset.setdefault(str(item["dataset_id"]), {})
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + item["n"]
    for row_id, dataset_id, kind in (
        Match.objects.filter(run=run, rank=1, catalog_row_id__in=originals)
        .values_list("catalog_row_id", "dataset_id", "kind")
        .iterator(2000)
    ):
        kinds = per_dataset.setdefault(str(dataset_id), {})
        kinds[kind] = kinds.get(kind, 0) + copies[row_id]
        key = str(dataset_id)
        per_dataset_duplicates[key] = per_dataset_duplicates.get(key, 0) + copies[row_id]

    per_dataset_matches = {
        str(dataset_id): n
        for dataset_id, n in Match.objects.filter(run=run)
        .values_list("dataset_id")
        .annotate(n=Count("id"))
        .values_list("dataset_id", "n")
    }
    per_dataset_match_lines = dict(per_dataset_matches)
    for row_id, dataset_id, n in (
        Match.objects.filter(run=run, catalog_row_id__in=originals)
        .values_list("catalog_row_id", "dataset_id")
        .annotate(n=Count("id"))
        .values_list("catalog_row_id", "dataset_id", "n")
        .iterator(2000)
    ):
        key = str(dataset_id)
        per_dataset_match_lines[key] = per_dataset_match_lines.get(key, 0) + n * copies[row_id]
    match_lines = sum(per_dataset_match_lines.values())
    checked = sum(status_counts.values())
    matched = status_counts.get(RowResult.Status.MATCHED, 0)
    return {
        "format": FIGURES_FORMAT,
        "status": status_counts,
        "found_duplicates": sum(copies.values()),
        "by_kind": by_kind,
        "per_dataset": per_dataset,
        "per_dataset_duplicates": per_dataset_duplicates,
        "per_dataset_matches": per_dataset_matches,
        "per_dataset_match_lines": per_dataset_match_lines,
        "matches": sum(per_dataset_matches.values()),
        "match_lines": match_lines,
        # report_lines: a line per match line, and one for each row checked without a match.
        "lines": match_lines + checked - matched,
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
