"""The overlap report: headline figures on a known small run, each row filter, sort, the chart,
breakdowns, the evidence page and isolation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from matcher.models import (
    Dataset,
    DatasetTrack,
    DatasetVersion,
    Match,
    MatchRun,
    RowResult,
)
from matcher.reports.selectors import (
    ReportFilters,
    report_breakdown,
    report_summary,
    row_table,
)
from matcher.review import services as review
from tests.factories import PASSWORD
from uploads.models import Catalog, CatalogRow

# The known small run. Catalog rows: number -> (artist, title, album).
CATALOG = {
    2: ("Aurora Lane", "Night Drive", "Neon"),
    3: ("Aurora Lane", "Glass", "Neon"),
    4: ("Kite Parade", "Open Water", "Tides"),
    5: ("Kite Parade", "Salt", "Tides"),
    6: ("", "Untitled", ""),  # invalid: no artist
    7: ("Aurora Lane", "Night Drive", "Neon"),  # duplicate of row 2
}
# (row number, dataset slug, dataset track id, kind, confidence)
MATCHES = [
    (2, "alpha", "a-1", "exact", 100),
    (2, "beta", "b-1", "strong", 92),
    (3, "alpha", "a-2", "version", 80),
    (4, "beta", "b-2", "possible", 76),
]
TRACKS = {
    ("alpha", "a-1"): ("Aurora Lane", "Night Drive"),
    ("alpha", "a-2"): ("Aurora Lane", "Glass (Live)"),
    ("beta", "b-1"): ("Aurora Lane", "Night Drive"),
    ("beta", "b-2"): ("Kite Parade", "Open Water (demo)"),
    ("beta", "b-3"): ("Kite Parade", "Open Waters"),
}


@dataclass
class Built:
    run: MatchRun
    catalog: Catalog
    rows: dict[int, CatalogRow]
    matches: dict[tuple[int, str], Match]
    datasets: dict[str, Dataset] = field(default_factory=dict)


def make_dataset(slug: str, number: int = 1, *, tracks: dict[str, tuple[str, str]]) -> Dataset:
    dataset, _ = Dataset.objects.get_or_create(
        slug=slug,
        defaults={
            "name": f"{slug.title()} Set",
            "publisher": f"{slug.title()} Lab",
            "licence": "CC BY 4.0",
            "description": f"The {slug} test dataset.",
        },
    )
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        sha256=f"{slug}{number}".ljust(64, "0"),
        file_format="generic-csv",
        normalizer_version="1",
        status=DatasetVersion.Status.READY,
        row_count=len(tracks),
        files=[{"name": f"{slug}.csv", "bytes": 1, "sha256": "0" * 64}],
    )
    for i, (track_id, (artist, title)) in enumerate(tracks.items(), start=2):
        DatasetTrack.objects.create(
            version=version,
            track_id=track_id,
            artist=artist,
            title=title,
            url=f"https://example.org/{slug}/{track_id}",
            source_file=f"{slug}.csv",
            source_row=i,
            artist_key=artist.lower(),
            title_key=title.lower(),
            artists_norm=artist.lower(),
        )
    dataset.current_version = version
    dataset.save()
    return dataset


def make_catalog(organization: Any) -> tuple[Catalog, dict[int, CatalogRow]]:
    catalog = Catalog.objects.create(
        organization=organization,
        name="catalog.xlsx",
        stored_file="x",
        file_format="xlsx",
        sha256="c" * 64,
        row_count=len(CATALOG),
    )
    rows = {}
    for number, (artist, title, album) in CATALOG.items():
        rows[number] = CatalogRow.objects.create(
            catalog=catalog,
            row_number=number,
            artist=artist,
            title=title,
            album=album,
            cells={"Artist": artist, "Title": title},
            status=CatalogRow.Status.INVALID if not artist else CatalogRow.Status.VALID,
            problems=[{"column": "Artist", "message": "empty"}] if not artist else [],
            duplicate_of=None,
        )
    rows[7].duplicate_of = rows[2]
    rows[7].save()
    return catalog, rows


def make_run(
    catalog: Catalog,
    rows: dict[int, CatalogRow],
    matches: list[tuple[int, str, str, str, int]] = MATCHES,
) -> Built:
    slugs = sorted({m[1] for m in matches} | {"alpha", "beta"})
    datasets = {s: Dataset.objects.get(slug=s) for s in slugs}
    run = MatchRun.objects.create(
        organization=catalog.organization,
        catalog=catalog,
        status=MatchRun.Status.DONE,
        engine_version="score-1/norm-1",
        thresholds={"strong": 90, "possible": 75},
        total_rows=len(rows),
        rows_done=len(rows),
        finished_at=timezone.now(),
    )
    run.dataset_versions.set([d.current_version for d in datasets.values()])
    built = Built(run, catalog, rows, {}, datasets)
    best: dict[int, tuple[str, int]] = {}
    rank: dict[tuple[int, str], int] = {}
    for number, slug, track_id, kind, confidence in matches:
        track = DatasetTrack.objects.get(version=datasets[slug].current_version, track_id=track_id)
        rank[(number, slug)] = rank.get((number, slug), 0) + 1
        built.matches[(number, slug)] = Match.objects.create(
            run=run,
            catalog_row=rows[number],
            track=track,
            dataset=datasets[slug],
            kind=kind,
            confidence=confidence,
            rank=rank[(number, slug)],
            artist_score=100.0,
            title_score=float(confidence),
            duration_delta_s=1.5,
            evidence={
                "rules": ["title: version tag 'live' set aside"],
                "dataset": {"slug": slug, "version": 1, "sha256": "f" * 64},
                "provenance": {"file": f"{slug}.csv", "row": track.source_row},
                "scores": {"artist": 100.0, "title": float(confidence)},
            },
        )
        if number not in best or confidence > best[number][1]:
            best[number] = (kind, confidence)
    for number, row in rows.items():
        if row.status == CatalogRow.Status.INVALID:
            status, kind, conf = RowResult.Status.INVALID, "", 0
        else:
            source = row.duplicate_of.row_number if row.duplicate_of else number
            kind, conf = best.get(source, ("", 0))
            status = RowResult.Status.MATCHED if kind else RowResult.Status.UNMATCHED
        RowResult.objects.create(
            run=run,
            catalog_row=row,
            status=status,
            best_kind=kind,
            best_confidence=conf,
            candidates_considered=3 if number == 4 else 0,
            top_candidates=[
                {
                    "track": built.matches[(4, "beta")].track_id,
                    "kind": "possible",
                    "confidence": 76,
                    "artist": 100.0,
                    "title": 76.0,
                },
                {
                    "track": DatasetTrack.objects.get(track_id="b-3").pk,
                    "kind": "possible",
                    "confidence": 70,
                    "artist": 100.0,
                    "title": 70.0,
                },
            ]
            if number == 4
            else [],
        )
    return built


@pytest.fixture
def built(label) -> Built:  # type: ignore[no-untyped-def]
    for slug in ("alpha", "beta"):
        make_dataset(slug, tracks={tid: v for (s, tid), v in TRACKS.items() if s == slug})
    catalog, rows = make_catalog(label)
    return make_run(catalog, rows)


def _numbers(qs: Any) -> list[int]:
    return [r.catalog_row.row_number for r in qs]


# --- figures ------------------------------------------------------------------------------


def test_report_headline_counts_rows_by_status_and_by_best_kind(built):
    summary = report_summary(built.run)
    assert (summary.rows, summary.matched, summary.unmatched, summary.invalid) == (6, 4, 1, 1)
    assert summary.accounted
    # Row 7 duplicates row 2, so its best kind (exact) is counted as a row of its own.
    assert summary.by_kind == {"exact": 2, "version": 1, "possible": 1}


def test_report_counts_each_row_once_per_dataset_under_its_best_kind(built):
    datasets = {d.slug: d for d in report_summary(built.run).datasets}
    assert datasets["alpha"].found == 2
    assert datasets["alpha"].by_kind == {"exact": 1, "version": 1}
    assert datasets["beta"].found == 2
    assert datasets["beta"].by_kind == {"strong": 1, "possible": 1}
    assert datasets["beta"].share == pytest.approx(2 / 6)
    assert datasets["alpha"].licence == "CC BY 4.0"
    assert datasets["alpha"].tracks == 2


def test_review_figures_count_reviewed_unreviewed_and_confirmed_separately(built, rita):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(2, "beta")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(4, "beta")], user=rita, value="rejected")
    summary = report_summary(built.run)
    assert (summary.matches, summary.reviewed, summary.unreviewed) == (4, 3, 1)
    assert summary.confirmed == 2
    assert summary.confirmed_rows == 1, "two confirmed matches of the same row are one row"
    datasets = {d.slug: d for d in summary.datasets}
    assert (datasets["alpha"].confirmed, datasets["beta"].confirmed) == (1, 1)


def test_breakdown_by_artist_and_album_ranks_the_most_found_first(built):
    artists = report_breakdown(built.run, by="artist")
    assert [(b.label, b.found, b.rows) for b in artists] == [
        ("Aurora Lane", 3, 3),
        ("Kite Parade", 1, 2),
    ]
    albums = report_breakdown(built.run, by="album")
    assert [(b.label, b.found) for b in albums] == [("Neon", 3), ("Tides", 1)]


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [2, 3, 4, 5, 6, 7]),
        ({"status": "invalid"}, [6]),
        ({"status": "unmatched"}, [5]),
        ({"dataset": "beta"}, [2, 4, 7]),
        ({"dataset": "alpha", "kind": "version"}, [3]),
        ({"kind": "possible"}, [4]),
        ({"conf_min": "90"}, [2, 7]),
        ({"conf_max": "80"}, [3, 4]),
        ({"conf_min": "77", "conf_max": "95"}, [2, 3, 7]),
        ({"q": "glass"}, [3]),
        ({"q": "KITE"}, [4, 5]),
        ({"q": "kite", "status": "matched"}, [4]),
        ({"kind": "not-a-kind"}, [2, 3, 4, 5, 6, 7]),
    ],
)
def test_each_row_filter_keeps_exactly_the_rows_it_describes(built, query, expected):
    assert _numbers(row_table(built.run, filters=ReportFilters.from_query(query))) == expected


def test_review_filter_separates_reviewed_from_unreviewed_rows(built, rita):
    review.verdict_record(match=built.matches[(4, "beta")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(3, "alpha")], user=rita, value="rejected")

    def rows(**query: str) -> list[int]:
        return _numbers(row_table(built.run, filters=ReportFilters.from_query(query)))

    assert rows(review="confirmed") == [4]
    assert rows(review="rejected") == [3]
    assert rows(review="reviewed") == [3, 4]
    assert rows(review="unreviewed") == [2, 7]
    assert rows(review="unsure") == []


def test_sort_by_confidence_puts_the_strongest_rows_first(built):
    ordered = _numbers(
        row_table(built.run, filters=ReportFilters.from_query({"sort": "-confidence"}))
    )
    assert ordered[:2] == [2, 7]
    assert ordered[2:4] == [3, 4]
    by_title = _numbers(row_table(built.run, filters=ReportFilters.from_query({"sort": "title"})))
    assert by_title[0] == 3  # "Glass"


def test_confidence_bounds_are_clamped_and_junk_is_ignored():
    f = ReportFilters.from_query({"conf_min": "-5", "conf_max": "250", "sort": "drop table"})
    assert (f.conf_min, f.conf_max, f.sort) == (None, 100, "row")


# --- pages --------------------------------------------------------------------------------


def test_report_page_shows_figures_chart_context_and_filtered_rows(built, client, bob):
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.get(reverse("run-detail", args=[built.run.pk]), {"dataset": "beta"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>4</strong> of 6 catalog rows" in body
    assert '<svg role="img" aria-labelledby="chart-title chart-desc"' in body
    assert "Alpha Set: 2 of 6 catalog rows (33.3%), 1 exact, 1 version." in body
    assert "not proof that a model was trained" in body
    assert "Alpha Lab" in body and "CC BY 4.0" in body
    assert "3 rows match these filters." in body
    assert "Aurora Lane" in body and "Neon" in body
    # Bob is a member: he reads but cannot review.
    assert "run-bulk-verdict" not in body and 'name="value"' not in body


def test_report_page_paginates_and_keeps_filters_in_page_links(built, client, alice, settings):
    from matcher import views

    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    before = views.ROWS_PER_PAGE
    views.ROWS_PER_PAGE = 2
    try:
        response = client.get(reverse("run-detail", args=[built.run.pk]), {"q": "a", "page": "2"})
    finally:
        views.ROWS_PER_PAGE = before
    body = response.content.decode()
    assert "Page 2 of" in body
    assert 'href="?q=a&amp;page=1"' in body
    assert 'href="?q=a&amp;page=3"' in body


def test_outsider_gets_404_on_every_report_page(built, client, charlie):
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    m = built.matches[(2, "alpha")]
    for url in (
        reverse("run-detail", args=[built.run.pk]),
        reverse("run-diff", args=[built.run.pk]),
        reverse("run-report-csv", args=[built.run.pk]),
        reverse("run-report-xlsx", args=[built.run.pk]),
        reverse("run-evidence-pack", args=[built.run.pk]),
        reverse("match-evidence", args=[m.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("match-verdict", args=[m.pk]),
        reverse("run-bulk-verdict", args=[built.run.pk]),
        reverse("run-rerun", args=[built.run.pk]),
    ):
        assert client.post(url, {"value": "confirmed", "kind": "exact"}).status_code == 404, url


def test_evidence_page_shows_both_sides_provenance_and_other_candidates(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    m = built.matches[(4, "beta")]
    body = client.get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert "Open Water (demo)" in body and "Open Water" in body
    assert "https://example.org/beta/b-2" in body
    assert "beta.csv" in body
    assert "1.5 s" in body
    # The runner-up candidate is shown with its artist and title, loaded from its track.
    assert "Open Waters" in body
    assert "(this match)" in body
    assert f'action="{reverse("match-verdict", args=[m.pk])}"' in body
