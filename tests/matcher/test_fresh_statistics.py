"""Storing and running a catalog must not depend on autovacuum having run: with statistics that
predate the new rows, every statement's plan must still do work linear in the rows.

Checked through the plans PostgreSQL actually ran (EXPLAIN ANALYZE of each statement, just
before it runs, inside a savepoint), never through a timer.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from matcher.models import MatchChunk, MatchRun, RowResult
from matcher.reports import exports, selectors
from matcher.runs.chunk import match_chunk_process
from matcher.runs.services import match_run_begin, match_run_create
from tests.factories import stored_catalog

pytestmark = pytest.mark.django_db

FROZEN_TABLES = ("uploads_catalogrow", "matcher_rowresult", "matcher_match")
DISTINCT = 150
COPIES = 4  # each distinct row appears this often: 450 repeated rows of 600
ROWS = DISTINCT * COPIES
# Tuples every plan node of one statement may handle, per catalog row: generous for a linear
# plan (a few scans, sorts and joins), far below a plan that rescans the catalog or the run
# once per row (ROWS times more).
WORK_PER_ROW = 30

_PROBED = re.compile(r"^\s*(SELECT|UPDATE|DELETE)\b", re.IGNORECASE)


@pytest.fixture
def frozen_statistics(generic_dataset: Any, label: Any, tmp_path: Path) -> Iterator[None]:
    """Autovacuum off and statistics taken with only an earlier, small run present, as on a
    busy server where autovacuum has not caught up yet. The test's transaction rolls both back."""
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    with connection.cursor() as cur:
        for table in FROZEN_TABLES:
            cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    _run_to_the_end(
        stored_catalog(label, "earlier.csv", path=_repeated_catalog(tmp_path, copies=1))
    )
    with connection.cursor() as cur:
        for table in FROZEN_TABLES:
            cur.execute(f"ANALYZE {table}")
    yield


def _repeated_catalog(directory: Path, copies: int = COPIES) -> Path:
    """DISTINCT rows, each `copies` times."""
    path = directory / f"repeated-{copies}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Artist", "Title"])
        for _copy in range(copies):
            for i in range(DISTINCT):
                title = "Yesterday" if i == 0 else f"Song number {i}"
                out.writerow(["The Beatles", title])
    return path


def _run_to_the_end(catalog: Any) -> MatchRun:
    run = match_run_create(catalog=catalog, chunk_rows=200)
    match_run_begin(run_id=run.pk)
    for chunk_id in (
        MatchChunk.objects.filter(run=run).order_by("index").values_list("pk", flat=True)
    ):
        match_chunk_process(chunk_id=chunk_id)
    run.refresh_from_db()
    return run


def _read_the_report(run: MatchRun) -> None:
    """What the report page, its filters and the exports read."""
    selectors.report_summary(run)
    for query in (
        {},
        {"kind": "exact"},
        {"status": "unmatched", "sort": "-confidence"},
        {"q": "song"},
    ):
        filters = selectors.ReportFilters.from_query(query)
        ids = list(selectors.row_table(run, filters=filters).values_list("pk", flat=True)[:50])
        selectors.row_table_count(run, filters)
        results = selectors.row_results_in_order(ids)
        selectors.run_matches_by_row(
            run, [r.catalog_row.duplicate_of_id or r.catalog_row_id for r in results]
        )
    assert sum(1 for _ in exports.report_csv_lines(run)) > ROWS


def _work(node: dict[str, Any]) -> float:
    """Tuples handled by a plan node and its children: rows out and rows thrown away, per loop."""
    loops = node.get("Actual Loops", 1)
    own = node.get("Actual Rows", 0) + sum(
        node.get(k, 0)
        for k in (
            "Rows Removed by Filter",
            "Rows Removed by Join Filter",
            "Rows Removed by Index Recheck",
        )
    )
    return own * loops + sum(_work(child) for child in node.get("Plans", ()))


class PlanProbe:
    """EXPLAIN ANALYZE of every statement before it runs (rolled back to a savepoint)."""

    def __init__(self) -> None:
        self.worst: list[tuple[float, str, str]] = []

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not many and _PROBED.match(sql):
            raw = connection.connection
            with raw.cursor() as cur:
                cur.execute("SAVEPOINT plan_probe")
                cur.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
                plan = cur.fetchone()[0]
                cur.execute("ROLLBACK TO SAVEPOINT plan_probe")
                cur.execute("RELEASE SAVEPOINT plan_probe")
            if isinstance(plan, str):
                plan = json.loads(plan)
            self.worst.append((_work(plan[0]["Plan"]), sql, json.dumps(plan[0]["Plan"])[:3000]))
        return execute(sql, params, many, context)


def test_storing_and_running_a_repeated_catalog_stays_linear_with_stale_statistics(
    frozen_statistics: None, label: Any, tmp_path: Path
) -> None:
    probe = PlanProbe()
    with connection.execute_wrapper(probe):
        catalog = stored_catalog(label, "repeated.csv", path=_repeated_catalog(tmp_path))
        run = _run_to_the_end(catalog)
        _read_the_report(run)

    assert catalog.row_count == ROWS
    assert catalog.duplicate_count == ROWS - DISTINCT
    assert run.status == MatchRun.Status.DONE
    # Duplicates took their original's outcome (the statement whose plan was at stake).
    originals = dict(
        RowResult.objects.filter(run=run, catalog_row__duplicate_of__isnull=True).values_list(
            "catalog_row__dedup_key", "status"
        )
    )
    for key, status in RowResult.objects.filter(
        run=run, catalog_row__duplicate_of__isnull=False
    ).values_list("catalog_row__dedup_key", "status"):
        assert status == originals[key]
    assert probe.worst, "no statement was probed"
    over = [w for w in probe.worst if w[0] > WORK_PER_ROW * ROWS]
    assert not over, "\n\n".join(
        f"{work:.0f} tuples for {ROWS} rows in:\n{sql}\n{plan}" for work, sql, plan in over
    )
