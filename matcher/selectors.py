"""Reads for pages, APIs, exports and tasks. Everything a user can reach is scoped here, once:
an organization only ever sees its own catalogs, runs, matches and exports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from matcher.models import Dataset, Match, MatchRun, RowResult
from uploads.models import Catalog, CatalogRow


def _member_filter(user: AbstractBaseUser | AnonymousUser, prefix: str = "") -> Q:
    return Q(**{f"{prefix}organization__memberships__user": user})


def catalogs_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Catalog]:
    if not user.is_authenticated:
        return Catalog.objects.none()
    return Catalog.objects.filter(_member_filter(user)).distinct()


def runs_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[MatchRun]:
    if not user.is_authenticated:
        return MatchRun.objects.none()
    return MatchRun.objects.filter(_member_filter(user)).select_related("catalog").distinct()


def matches_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Match]:
    if not user.is_authenticated:
        return Match.objects.none()
    return Match.objects.filter(_member_filter(user, "run__")).select_related(
        "run", "catalog_row", "track", "track__version", "dataset"
    )


def runs_for_organization(organization_id: int) -> QuerySet[MatchRun]:
    return MatchRun.objects.filter(organization_id=organization_id).select_related("catalog")


def catalogs_for_organization(organization_id: int) -> QuerySet[Catalog]:
    return Catalog.objects.filter(organization_id=organization_id)


def datasets_with_versions() -> QuerySet[Dataset]:
    return Dataset.objects.select_related("current_version").order_by("slug")


@dataclass
class DatasetOverlap:
    slug: str
    name: str
    found: int
    share: float  # of all catalog rows
    by_kind: dict[str, int] = field(default_factory=dict)
    description: str = ""
    licence: str = ""
    publisher: str = ""
    version: int | None = None


@dataclass
class ReportSummary:
    rows: int
    matched: int
    unmatched: int
    invalid: int
    datasets: list[DatasetOverlap]

    @property
    def accounted(self) -> bool:
        return self.matched + self.unmatched + self.invalid == self.rows


def report_summary(run: MatchRun) -> ReportSummary:
    """Headline figures: rows per status, and per dataset how many rows were found in it.

    A row counts once per dataset, under the kind of its best match in that dataset.
    """
    status_counts = dict(
        run.row_results.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    best = run.matches.filter(rank=1).values("dataset_id", "kind").annotate(n=Count("id"))
    per_dataset: dict[int, dict[str, int]] = {}
    for item in best:
        per_dataset.setdefault(item["dataset_id"], {})[item["kind"]] = item["n"]
    total = run.catalog.row_count
    overlaps = []
    for version in run.dataset_versions.select_related("dataset").order_by("dataset__slug"):
        ds = version.dataset
        kinds = per_dataset.get(ds.pk, {})
        found = sum(kinds.values())
        overlaps.append(
            DatasetOverlap(
                slug=ds.slug,
                name=ds.name,
                found=found,
                share=(found / total) if total else 0.0,
                by_kind=kinds,
                description=ds.description,
                licence=ds.licence,
                publisher=ds.publisher,
                version=version.number,
            )
        )
    return ReportSummary(
        rows=total,
        matched=status_counts.get(RowResult.Status.MATCHED, 0),
        unmatched=status_counts.get(RowResult.Status.UNMATCHED, 0),
        invalid=status_counts.get(RowResult.Status.INVALID, 0),
        datasets=overlaps,
    )


def report_rows(run: MatchRun) -> QuerySet[RowResult]:
    return (
        run.row_results.select_related("catalog_row")
        .prefetch_related("catalog_row__matches")
        .order_by("catalog_row__row_number")
    )


@dataclass
class ReportLine:
    row: CatalogRow
    result: RowResult
    match: Match | None


def report_lines(run: MatchRun, *, batch: int = 2000) -> Iterator[ReportLine]:
    """Every catalog row of the run in sheet order, one line per (row, match); a row with no
    match (or an invalid one) gets one line. Reads in keyset batches: memory stays flat."""
    last_number = -1
    while True:
        results = list(
            RowResult.objects.filter(run=run, catalog_row__row_number__gt=last_number)
            .select_related("catalog_row", "catalog_row__duplicate_of")
            .order_by("catalog_row__row_number")[:batch]
        )
        if not results:
            return
        row_ids = {
            r.catalog_row.duplicate_of_id or r.catalog_row_id
            for r in results
            if r.status == RowResult.Status.MATCHED
        }
        by_row: dict[int, list[Match]] = {}
        if row_ids:
            for m in (
                Match.objects.filter(run=run, catalog_row_id__in=row_ids)
                .select_related("track", "track__version", "dataset")
                .order_by("catalog_row_id", "dataset__slug", "rank")
            ):
                by_row.setdefault(m.catalog_row_id, []).append(m)
        for result in results:
            row = result.catalog_row
            matches = (
                by_row.get(row.duplicate_of_id or row.pk, [])
                if result.status == (RowResult.Status.MATCHED)
                else []
            )
            if not matches:
                yield ReportLine(row, result, None)
            for m in matches:
                yield ReportLine(row, result, m)
        last_number = results[-1].catalog_row.row_number


def row_table(run: MatchRun, *, status: str = "", dataset: str = "") -> QuerySet[RowResult]:
    qs = RowResult.objects.filter(run=run).select_related("catalog_row")
    if status:
        qs = qs.filter(status=status)
    if dataset:
        qs = qs.filter(catalog_row__matches__run=run, catalog_row__matches__dataset__slug=dataset)
    return qs.order_by("catalog_row__row_number").distinct()


def run_matches_by_row(run: MatchRun, row_ids: list[int]) -> dict[int, list[Match]]:
    out: dict[int, list[Match]] = {}
    for m in (
        Match.objects.filter(run=run, catalog_row_id__in=row_ids)
        .select_related("track", "dataset")
        .order_by("dataset__slug", "rank")
    ):
        out.setdefault(m.catalog_row_id, []).append(m)
    return out


def evidence_context(match: Match) -> dict[str, Any]:
    others = RowResult.objects.filter(run=match.run, catalog_row=match.catalog_row).first()
    return {"match": match, "row_result": others}
