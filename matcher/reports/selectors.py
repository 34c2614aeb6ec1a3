"""Reads for the report pages, APIs and exports: summary, rows and lines, filters, evidence and
the difference between two runs. Everything a user can reach is scoped here, once: an
organization only ever sees its own catalogs, runs, matches and exports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Membership
from accounts.scoping import Actor, require, scoped
from matcher.engine.readings import describe as describe_reading
from matcher.models import (
    Dataset,
    DatasetTrack,
    Match,
    MatchRun,
    RowResult,
    Verdict,
)
from matcher.reports.services import FIGURES_FORMAT, run_figures_compute
from matcher.reports.wording import counted
from matcher.review.selectors import match_verdict, verdict_history
from uploads.models import CatalogRow


def runs_for(actor: Actor) -> QuerySet[MatchRun]:
    return scoped(MatchRun.objects.select_related("catalog"), actor)


def matches_for(actor: Actor) -> QuerySet[Match]:
    return scoped(Match.objects.all(), actor).select_related(
        "run", "catalog_row", "track", "track__version", "dataset"
    )


def run_for(actor: Actor, pk: int, action: str) -> tuple[MatchRun, Membership]:
    """The run if the actor reaches its organization (404 otherwise) and its role there allows
    `action` (403 otherwise), with that membership."""
    run = get_object_or_404(
        runs_for(actor).select_related("created_by").prefetch_related("dataset_versions__dataset"),
        pk=pk,
    )
    return run, require(actor, action, organization_id=run.organization_id)


def datasets_with_versions() -> QuerySet[Dataset]:
    return Dataset.objects.select_related("current_version").order_by("slug")


@dataclass
class DatasetOverlap:
    slug: str
    name: str
    found: int  # rows found in this dataset, duplicates included (as ReportSummary.matched)
    share: float  # of all catalog rows
    by_kind: dict[str, int] = field(default_factory=dict)
    description: str = ""
    licence: str = ""
    publisher: str = ""
    source_url: str = ""
    version: int | None = None
    version_sha256: str = ""
    tracks: int = 0
    confirmed: int = 0  # rows with a confirmed match in this dataset, duplicates included
    found_duplicates: int = 0  # of `found`, rows that duplicate an earlier row
    matches: int = 0
    match_lines: int = 0  # the lines of this dataset's XLSX sheet

    @property
    def percent(self) -> float:
        return self.share * 100

    @property
    def kind_bars(self) -> list[tuple[str, int]]:
        """Counts in the fixed order of KIND_ORDER, zeros included (for the chart and table)."""
        return [(kind, self.by_kind.get(kind, 0)) for kind in KIND_ORDER]

    @property
    def found_text(self) -> str:
        """`3 rows (1 of them a duplicate of an earlier row)`."""
        return counted(self.found, "row") + _duplicates_note(self.found_duplicates, short=True)

    @property
    def kinds_found(self) -> list[tuple[str, int]]:
        """The kinds with at least one row, in the order of KIND_ORDER (for text lists)."""
        return [(kind, n) for kind, n in self.kind_bars if n]


KIND_ORDER = tuple(Match.Kind.values)


def _duplicates_note(n: int, *, short: bool = False) -> str:
    if not n:
        return ""
    if short:
        return f" ({n:,} of them {'a duplicate' if n == 1 else 'duplicates'} of an earlier row)"
    if n == 1:
        return " (1 of them a duplicate of an earlier row, reported with its original's matches)"
    return f" ({n:,} of them duplicates of an earlier row, reported with their original's matches)"


@dataclass
class ReportSummary:
    """Every figure of a run's report, for the run page, the API and the exports alike (see
    matcher.reports.wording.FIGURES for what each counts)."""

    rows: int
    matched: int  # rows found in at least one dataset, duplicates of a found row included
    unmatched: int
    invalid: int
    datasets: list[DatasetOverlap]
    by_kind: dict[str, int] = field(default_factory=dict)  # rows by their best kind anywhere
    matches: int = 0
    reviewed: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    confirmed_rows: int = 0
    found_duplicates: int = 0  # of `matched`, rows that duplicate an earlier row
    match_lines: int = 0  # CSV / All rows lines that name a match
    lines: int = 0  # every CSV / All rows line, the header aside

    @property
    def unchecked(self) -> int:
        """Rows without a result: those a cancelled run did not reach."""
        return max(0, self.rows - self.matched - self.unmatched - self.invalid)

    @property
    def accounted(self) -> bool:
        return self.matched + self.unmatched + self.invalid == self.rows

    @property
    def unreviewed(self) -> int:
        return self.matches - self.reviewed

    @property
    def confirmed(self) -> int:
        return self.verdicts.get(Verdict.Value.CONFIRMED, 0)

    @property
    def kind_rows(self) -> list[tuple[str, str, int]]:
        labels = dict(Match.Kind.choices)
        return [(kind, labels[kind], self.by_kind.get(kind, 0)) for kind in KIND_ORDER]

    @property
    def headline(self) -> str:
        """The report's first sentence, the same on the page and in the XLSX, e.g. `507 of
        4,600 catalog rows found in at least one dataset (12 of them duplicates of an earlier
        row, reported with their original's matches); 3,999 not found; 94 invalid (not
        checked).`"""
        parts = [
            f"{self.matched:,} of {counted(self.rows, 'catalog row')} found in at least one "
            f"dataset{_duplicates_note(self.found_duplicates)}",
            f"{self.unmatched:,} not found",
            f"{self.invalid:,} invalid (not checked)",
        ]
        if self.unchecked:
            parts.append(f"{self.unchecked:,} not reached (the run was cancelled)")
        return "; ".join(parts) + "."

    @property
    def review_text(self) -> str:
        """`3 of 4 matches reviewed, 1 not yet; 2 confirmed (3 catalog rows), 1 rejected, 0
        unsure.`"""
        return (
            f"{self.reviewed:,} of {counted(self.matches, 'match', 'matches')} reviewed, "
            f"{self.unreviewed:,} not yet; {self.confirmed:,} confirmed "
            f"({counted(self.confirmed_rows, 'catalog row')}), "
            f"{self.verdicts.get(Verdict.Value.REJECTED, 0):,} rejected, "
            f"{self.verdicts.get(Verdict.Value.UNSURE, 0):,} unsure."
        )

    @property
    def lines_text(self) -> str:
        """`6 match lines (4 matches, repeated on the lines of 1 duplicate row), 8 lines in
        all`: how the exports' lines relate to the matches."""
        matches = counted(self.matches, "match", "matches")
        text = f"{counted(self.match_lines, 'match line')} ({matches}"
        if self.match_lines != self.matches:
            text += f", repeated on the lines of {counted(self.found_duplicates, 'duplicate row')}"
        return text + f"), {counted(self.lines, 'line')} in all"


# The run-wide figures of report_summary, in the order the XLSX Summary sheet lists them and
# the API's report gives them (a cancelled run's rows not reached only when some are).
RUN_FIGURES = (
    "rows",
    "matched",
    "found_duplicates",
    "unmatched",
    "invalid",
    "unchecked",
    "matches",
    "match_lines",
    "lines",
    "reviewed",
    "confirmed",
    "confirmed_rows",
)


# The figures the run page defines, in its order (wording.FIGURES says what each counts).
PAGE_FIGURES = (
    "rows",
    "matched",
    "found_duplicates",
    "unmatched",
    "invalid",
    "unchecked",
    "dataset_found",
    "share",
    "matches",
    "match_lines",
    "lines",
    "reviewed",
    "confirmed",
    "confirmed_rows",
)


def run_figures(run: MatchRun) -> dict[str, Any]:
    figures = run.report_figures or {}
    if figures.get("format") == FIGURES_FORMAT:
        return figures
    return run_figures_compute(run)


@dataclass(frozen=True)
class RunOverlap:
    """A finished run's overlap at a glance (the dashboard): the report headline's figures."""

    found: int
    rows: int

    @property
    def percent(self) -> float:
        return 100 * self.found / self.rows if self.rows else 0.0


def run_overlap(run: MatchRun) -> RunOverlap | None:
    """The headline figures of a run whose report is prepared (stored on the run when it
    finishes), without a query; None before that."""
    figures = run.report_figures or {}
    if figures.get("format") != FIGURES_FORMAT:
        return None
    return RunOverlap(
        found=figures["status"].get(RowResult.Status.MATCHED, 0), rows=run.catalog.row_count
    )


def _confirmed_rows(run: MatchRun) -> tuple[int, dict[int, int]]:
    """Rows with a confirmed match, in all and per dataset id: a duplicate of a row found
    counts with its original, as in every other row figure (run_figures_compute)."""
    pairs = set(
        Verdict.objects.filter(run=run, value=Verdict.Value.CONFIRMED).values_list(
            "match__catalog_row_id", "match__dataset_id"
        )
    )
    rows = {row_id for row_id, _ in pairs}
    copies = Counter(
        RowResult.objects.filter(
            run=run, status=RowResult.Status.MATCHED, catalog_row__duplicate_of_id__in=rows
        ).values_list("catalog_row__duplicate_of_id", flat=True)
    )
    by_dataset: dict[int, int] = {}
    for row_id, dataset_id in pairs:
        by_dataset[dataset_id] = by_dataset.get(dataset_id, 0) + 1 + copies[row_id]
    return len(rows) + sum(copies[r] for r in rows), by_dataset


def report_summary(run: MatchRun) -> ReportSummary:
    """Every figure of the report: rows per status, per dataset the rows found in it, matches
    and match lines, review figures. The run page, the API and the exports read them here, and
    nowhere else, so that they agree.

    Rows are counted once each, a duplicate row included: it is matched once, through its
    first occurrence, found when that row is, and counted as found in the headline and in each
    dataset (under the kind of its original's best match there). Matches are pairs of a row
    and a dataset track (a duplicate row has none of its own); match lines repeat a match on
    the line of each duplicate of its row. Review figures count matches, plus rows with a
    confirmed match.
    """
    figures = run_figures(run)
    status_counts = figures["status"]
    by_kind = figures["by_kind"]

    def by_dataset(name: str) -> dict[int, Any]:
        return {int(k): v for k, v in figures[name].items()}

    per_dataset = by_dataset("per_dataset")
    duplicates = by_dataset("per_dataset_duplicates")
    matches = by_dataset("per_dataset_matches")
    match_lines = by_dataset("per_dataset_match_lines")
    verdicts = dict(
        Verdict.objects.filter(run=run)
        .values_list("value")
        .annotate(n=Count("id"))
        .values_list("value", "n")
    )
    confirmed_rows, confirmed_by_dataset = _confirmed_rows(run)
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
                source_url=ds.source_url,
                version=version.number,
                version_sha256=version.sha256,
                tracks=version.row_count,
                confirmed=confirmed_by_dataset.get(ds.pk, 0),
                found_duplicates=duplicates.get(ds.pk, 0),
                matches=matches.get(ds.pk, 0),
                match_lines=match_lines.get(ds.pk, 0),
            )
        )
    return ReportSummary(
        rows=total,
        matched=status_counts.get(RowResult.Status.MATCHED, 0),
        unmatched=status_counts.get(RowResult.Status.UNMATCHED, 0),
        invalid=status_counts.get(RowResult.Status.INVALID, 0),
        datasets=overlaps,
        by_kind=by_kind,
        matches=figures["matches"],
        reviewed=sum(verdicts.values()),
        verdicts=verdicts,
        confirmed_rows=confirmed_rows,
        found_duplicates=figures["found_duplicates"],
        match_lines=figures["match_lines"],
        lines=figures["lines"],
    )


@dataclass
class Breakdown:
    label: str
    rows: int
    found: int

    @property
    def share(self) -> float:
        return self.found / self.rows if self.rows else 0.0


def report_breakdown(run: MatchRun, *, by: str) -> list[Breakdown]:
    """The label's artists (by="artist") or albums (by="album") most present in the datasets:
    catalog rows and rows found, most found first."""
    if by not in ("artist", "album"):
        raise ValueError(f"cannot break a report down by {by!r}")
    return [Breakdown(label, rows, found) for label, rows, found in run_figures(run)[f"by_{by}"]]


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
            # The catalog condition lets PostgreSQL walk the (catalog, row_number) index from
            # the last key instead of sorting the whole run for every batch.
            RowResult.objects.filter(
                run=run,
                catalog_row__catalog_id=run.catalog_id,
                catalog_row__row_number__gt=last_number,
            )
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
                .select_related(
                    "track", "track__version", "dataset", "verdict", "verdict__reviewed_by"
                )
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


def confirmed_matches(run: MatchRun, *, chunk_size: int = 500) -> Iterator[Match]:
    """The run's matches a reviewer confirmed, in sheet order (then dataset, then rank), with
    both sides, provenance, the verdict and its history, read in chunks: memory stays flat."""
    return (
        Match.objects.filter(run=run, verdict__value=Verdict.Value.CONFIRMED)
        .select_related(
            "catalog_row", "track", "track__version", "dataset", "verdict", "verdict__reviewed_by"
        )
        .prefetch_related("verdict_events")
        .order_by("catalog_row__row_number", "dataset__slug", "rank", "pk")
        .iterator(chunk_size=chunk_size)
    )


REVIEW_FILTERS = {
    "unreviewed": "Not reviewed",
    "reviewed": "Reviewed",
    Verdict.Value.CONFIRMED: "Confirmed",
    Verdict.Value.REJECTED: "Rejected",
    Verdict.Value.UNSURE: "Unsure",
}


SORTS = {
    "row": ("catalog_row__row_number",),
    # Ties in sheet order (row ids follow the sheet), which an index on the result table covers.
    "-confidence": ("-best_confidence", "catalog_row_id"),
    "confidence": ("best_confidence", "catalog_row_id"),
    "artist": ("catalog_row__artist", "catalog_row__row_number"),
    "title": ("catalog_row__title", "catalog_row__row_number"),
}


# The report page opens on the matches, best first (sheet order is one click away); the API
# lists rows in sheet order unless told otherwise.
PAGE_SORT = "-confidence"


@dataclass
class ReportFilters:
    """The row table's filters. From a query string (the page), a value that cannot be used is
    not applied and `problems` says which and why, for the page to show (never silently
    dropped: a lawyer must know the table is not what was asked for)."""

    status: str = ""
    dataset: str = ""
    kind: str = ""
    review: str = ""
    conf_min: int | None = None
    conf_max: int | None = None
    q: str = ""
    sort: str = "row"
    problems: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def from_query(cls, data: Any, *, datasets: dict[str, str] | None = None) -> ReportFilters:
        """`datasets`: slug -> display name of the run's datasets, to check the dataset filter."""
        problems: list[str] = []

        def bounded(name: str, label: str) -> int | None:
            raw = (data.get(name) or "").strip()
            if not raw:
                return None
            if not raw.isdigit() or int(raw) > 100:
                problems.append(
                    f"{label} “{raw[:20]}” is not a whole number from 0 to 100; ignored."
                )
                return None
            return int(raw)

        def choice(name: str, label: str, allowed: Any) -> str:
            raw = (data.get(name) or "").strip()
            if raw and raw not in allowed:
                problems.append(f"There is no {label} “{raw[:40]}”; all are shown.")
                return ""
            return raw

        status = choice("status", "status", RowResult.Status.values)
        kind = choice("kind", "match kind", Match.Kind.values)
        review = choice("review", "review status", REVIEW_FILTERS)
        dataset = (data.get("dataset") or "").strip()[:64]
        if dataset and datasets is not None and dataset not in datasets:
            problems.append(f"This run did not match against a dataset “{dataset}”; all are shown.")
            dataset = ""
        sort = (data.get("sort") or "").strip() or PAGE_SORT
        if sort not in SORTS:
            problems.append(f"There is no sort order “{sort[:40]}”; best matches first.")
            sort = PAGE_SORT
        conf_min = bounded("conf_min", "Confidence from")
        conf_max = bounded("conf_max", "Confidence to")
        if conf_min is not None and conf_max is not None and conf_min > conf_max:
            problems.append(
                f"Confidence from {conf_min} to {conf_max} is an empty range (the first is above "
                "the second); the range is not applied."
            )
            conf_min = conf_max = None
        return cls(
            status=status,
            dataset=dataset,
            kind=kind,
            review=review,
            conf_min=conf_min,
            conf_max=conf_max,
            q=(data.get("q") or "").strip()[:200],
            sort=sort,
            problems=problems,
        )

    @property
    def has_match_filter(self) -> bool:
        return bool(
            self.dataset
            or self.kind
            or self.review
            or self.conf_min is not None
            or self.conf_max is not None
        )

    def as_query(self) -> dict[str, str]:
        """The non-empty filters, for links that keep them (pager, sort, exports)."""
        out = {
            "status": self.status,
            "dataset": self.dataset,
            "kind": self.kind,
            "review": self.review,
            "conf_min": "" if self.conf_min is None else str(self.conf_min),
            "conf_max": "" if self.conf_max is None else str(self.conf_max),
            "q": self.q,
            "sort": "" if self.sort == PAGE_SORT else self.sort,
        }
        return {k: v for k, v in out.items() if v}


def _text_filter(q: str, prefix: str = "") -> Q:
    return (
        Q(**{f"{prefix}catalog_row__artist__icontains": q})
        | Q(**{f"{prefix}catalog_row__title__icontains": q})
        | Q(**{f"{prefix}catalog_row__album__icontains": q})
        | Q(**{f"{prefix}catalog_row__isrc__iexact": q.replace("-", "").replace(" ", "")})
    )


def filtered_matches(run: MatchRun, filters: ReportFilters) -> QuerySet[Match]:
    """The matches of a run that satisfy the match-level filters (dataset, kind, review status,
    confidence range, text). The bulk verdict applies to exactly these."""
    qs = Match.objects.filter(run=run)
    if filters.dataset:
        qs = qs.filter(dataset__slug=filters.dataset)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.conf_min is not None:
        qs = qs.filter(confidence__gte=filters.conf_min)
    if filters.conf_max is not None:
        qs = qs.filter(confidence__lte=filters.conf_max)
    if filters.review == "unreviewed":
        qs = qs.filter(verdict__isnull=True)
    elif filters.review == "reviewed":
        qs = qs.filter(verdict__isnull=False)
    elif filters.review:
        qs = qs.filter(verdict__value=filters.review)
    if filters.q:
        qs = qs.filter(_text_filter(filters.q))
    if filters.status and filters.status != RowResult.Status.MATCHED:
        qs = qs.none()
    return qs


def row_table(
    run: MatchRun,
    *,
    status: str = "",
    dataset: str = "",
    filters: ReportFilters | None = None,
) -> QuerySet[RowResult]:
    """The report's rows (one per catalog row) that pass the filters, sorted.

    A row passes the match-level filters when one of its matches (or its original's, for a
    duplicate) passes them all.
    """
    f = filters or ReportFilters(status=status, dataset=dataset)
    # The catalog filter is redundant but lets PostgreSQL walk the (catalog, row_number) index
    # in order and stop after one page, instead of sorting every row of the run.
    qs = _row_filter(
        RowResult.objects.filter(run=run, catalog_row__catalog_id=run.catalog_id), run, f
    )
    return qs.select_related("catalog_row").order_by(*SORTS[f.sort])


def row_results_in_order(ids: list[int]) -> list[RowResult]:
    """The row results with these ids, with their catalog rows, in the order given."""
    found = RowResult.objects.select_related("catalog_row").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def row_table_count(run: MatchRun, filters: ReportFilters) -> int:
    """How many rows row_table returns, counted without the join that only its order needs."""
    f = filters
    if f.has_match_filter and not f.q and f.status in ("", RowResult.Status.MATCHED):
        # Rows found directly (distinct rows among the selected matches), plus the duplicate
        # rows of those: two index-driven counts instead of a join over every row of the run.
        found = _selected_rows(run, f)
        direct = found.distinct().count()
        duplicates = RowResult.objects.filter(
            run=run, catalog_row__duplicate_of_id__in=found
        ).count()
        return direct + duplicates
    return _row_filter(RowResult.objects.filter(run=run), run, f).count()


def _selected_rows(run: MatchRun, f: ReportFilters) -> QuerySet[Any]:
    """Catalog row ids having a match that passes the match-level filters."""
    match_filters = ReportFilters(
        dataset=f.dataset, kind=f.kind, review=f.review, conf_min=f.conf_min, conf_max=f.conf_max
    )
    return filtered_matches(run, match_filters).values("catalog_row_id")


def _row_filter(qs: QuerySet[RowResult], run: MatchRun, f: ReportFilters) -> QuerySet[RowResult]:
    if f.status:
        qs = qs.filter(status=f.status)
    if f.q:
        qs = qs.filter(_text_filter(f.q))
    if f.has_match_filter:
        # A duplicate row is matched through its first occurrence. Two IN (subquery) tests
        # become hashed sub-plans, so the sheet-ordered page stops after one page of hits.
        found = _selected_rows(run, f)
        qs = qs.filter(Q(catalog_row_id__in=found) | Q(catalog_row__duplicate_of_id__in=found))
    return qs


def run_matches_by_row(run: MatchRun, row_ids: list[int]) -> dict[int, list[Match]]:
    out: dict[int, list[Match]] = {}
    for m in (
        Match.objects.filter(run=run, catalog_row_id__in=row_ids)
        .select_related("track", "dataset", "verdict")
        .order_by("dataset__slug", "rank")
    ):
        out.setdefault(m.catalog_row_id, []).append(m)
    return out


@dataclass
class CandidateView:
    track: DatasetTrack | None
    track_pk: int
    kind: str
    confidence: int
    scores: dict[str, Any]
    is_this_match: bool
    match_pk: int | None


def evidence_context(match: Match) -> dict[str, Any]:
    """Everything the evidence page shows for one match, read in a handful of queries."""
    row_result = RowResult.objects.filter(run=match.run, catalog_row=match.catalog_row).first()
    raw = list(row_result.top_candidates) if row_result else []
    track_ids = [c.get("track") for c in raw if isinstance(c.get("track"), int)]
    tracks = {
        t.pk: t
        for t in DatasetTrack.objects.filter(pk__in=track_ids).select_related(
            "version", "version__dataset"
        )
    }
    match_of_track = dict(
        Match.objects.filter(
            run=match.run, catalog_row=match.catalog_row, track_id__in=track_ids
        ).values_list("track_id", "pk")
    )
    candidates = [
        CandidateView(
            track=tracks.get(c.get("track", 0)),
            track_pk=c.get("track", 0),
            kind=c.get("kind", ""),
            confidence=c.get("confidence", 0),
            scores={
                k: v for k, v in c.items() if k not in ("track", "reading", "kind", "confidence")
            },
            is_this_match=c.get("track") == match.track_id,
            match_pk=match_of_track.get(c.get("track", 0)),
        )
        for c in raw
    ]
    evidence = match.evidence or {}
    catalog_row = match.catalog_row
    reading = (evidence.get("track") or {}).get("reading") or "credited"
    return {
        "match": match,
        "reading": reading,
        "reading_label": describe_reading(reading),
        "row_result": row_result,
        "candidates": candidates,
        # The candidates the blocking found but the page does not list (screened out before
        # scoring, or past the best TOP_CANDIDATES_KEPT): the sentence above the table says so.
        "candidates_not_listed": max(
            0, (row_result.candidates_considered if row_result else 0) - len(candidates)
        ),
        "identifiers": list(match.track.identifiers.values_list("kind", "value")),
        "catalog_identifiers": evidence.get("catalog", {}).get("identifiers", []),
        "raw_cells": sorted((catalog_row.cells or {}).items()),
        "duration_delta": match.duration_delta_s,
        "verdict": match_verdict(match),
        "history": verdict_history(match),
        "verdict_choices": Verdict.Value.choices,
    }


def previous_run(run: MatchRun) -> MatchRun | None:
    """The latest finished run of the same catalog before this one."""
    return (
        MatchRun.objects.filter(
            catalog_id=run.catalog_id,
            status=MatchRun.Status.DONE,
            created_at__lt=run.created_at,
        )
        .exclude(pk=run.pk)
        .order_by("-created_at", "-pk")
        .first()
    )


PairKey = tuple[int, str, str]  # (catalog row number, dataset slug, dataset track id)


@dataclass
class DiffLine:
    key: PairKey
    artist: str
    title: str
    dataset_artist: str
    dataset_title: str
    kind: str
    confidence: int
    verdict: str
    match_pk: int | None
    old_kind: str = ""
    old_confidence: int | None = None
    dataset_name: str = ""  # the display name of the dataset of key[1] (its slug)


@dataclass
class RunDiff:
    run: MatchRun
    previous: MatchRun
    new: list[DiffLine]
    gone: list[DiffLine]
    unchanged: list[DiffLine]
    versions_before: dict[str, int]
    versions_after: dict[str, int]
    names: dict[str, str] = field(default_factory=dict)  # dataset slug -> display name

    @property
    def version_changes(self) -> list[tuple[str, int | None, int | None]]:
        """(dataset display name, version before, version after) for each dataset whose
        version changed."""
        slugs = set(self.versions_before) | set(self.versions_after)
        return [
            (self.names.get(s, s), self.versions_before.get(s), self.versions_after.get(s))
            for s in sorted(slugs)
            if self.versions_before.get(s) != self.versions_after.get(s)
        ]


def _pairs(run: MatchRun) -> dict[PairKey, DiffLine]:
    out: dict[PairKey, DiffLine] = {}
    for pk, number, artist, title, slug, track_id, t_artist, t_title, kind, conf, verdict in (
        Match.objects.filter(run=run)
        .order_by("catalog_row__row_number", "dataset__slug", "rank")
        .values_list(
            "pk",
            "catalog_row__row_number",
            "catalog_row__artist",
            "catalog_row__title",
            "dataset__slug",
            "track__track_id",
            "track__artist",
            "track__title",
            "kind",
            "confidence",
            "verdict__value",
        )
        .iterator(chunk_size=2000)
    ):
        key = (number, slug, track_id)
        out[key] = DiffLine(key, artist, title, t_artist, t_title, kind, conf, verdict or "", pk)
    return out


def run_diff(run: MatchRun, previous: MatchRun) -> RunDiff:
    """What changed between two runs of the same catalog, pair by pair (catalog row number,
    dataset, dataset track id): matches that are new, gone, or still there."""
    before = _pairs(previous)
    after = _pairs(run)
    new = [line for key, line in after.items() if key not in before]
    gone = [line for key, line in before.items() if key not in after]
    unchanged = []
    for key, line in after.items():
        old = before.get(key)
        if old is not None:
            line.old_kind, line.old_confidence = old.kind, old.confidence
            unchanged.append(line)

    names: dict[str, str] = {}

    def versions(r: MatchRun) -> dict[str, int]:
        numbers = {}
        for slug, name, number in r.dataset_versions.values_list(
            "dataset__slug", "dataset__name", "number"
        ):
            numbers[slug], names[slug] = number, name
        return numbers

    before_versions, after_versions = versions(previous), versions(run)
    for line in [*new, *gone, *unchanged]:
        line.dataset_name = names.get(line.key[1], line.key[1])
    return RunDiff(
        run, previous, new, gone, unchanged, before_versions, after_versions, names=names
    )
