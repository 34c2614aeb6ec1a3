"""The factories build what the service would: consistent objects, and dataset tracks that are
keyed like imported ones, so that matching finds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matcher.datasets.importer import dataset_import
from matcher.engine.keys import prepare
from matcher.models import Dataset, DatasetTrack, Match, RowResult, TrackReading
from matcher.runs.services import match_run_start
from tests import factories
from uploads.models import CatalogRow

DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.django_db


def _keys(track: DatasetTrack) -> tuple[str, str, str, str]:
    return (track.artist_key, track.title_key, track.artists_norm, track.version_label)


def _readings(track: DatasetTrack) -> list[tuple[int, str, str, str, str, str]]:
    return [
        (r.reading, r.name, r.artist_key, r.title_key, r.artists_norm, r.version_label)
        for r in TrackReading.objects.filter(track=track).order_by("reading")
    ]


def test_a_factory_track_has_the_keys_prepare_gives_its_artist_and_title() -> None:
    track = factories.DatasetTrackFactory(artist="Daft Punk; Pharrell Williams", title="Get Lucky")
    side = prepare(artists=["Daft Punk", "Pharrell Williams"], title="Get Lucky").side
    assert _keys(track) == (side.artist_key, side.title_key, side.artists_norm, side.version)
    assert track.artists_norm.startswith("daft punk|pharrell williams||")


@pytest.mark.parametrize(
    "path", [DATA / "datasets" / "generic_tracks.csv", DATA / "youtube" / "uploads.csv"]
)
def test_a_factory_track_is_keyed_like_the_same_track_imported(path: Path) -> None:
    dataset_import(slug="imported", paths=[path], file_format="generic-csv", use_copy=False)
    imported = list(DatasetTrack.objects.filter(version__dataset__slug="imported"))
    assert imported
    version = factories.DatasetVersionFactory()
    with_readings = 0
    for track in imported:
        made = factories.DatasetTrackFactory(
            version=version,
            artist=track.artist,
            title=track.title,
            duration_s=track.duration_s,
            isrc=track.isrc,
        )
        assert _keys(made) == _keys(track), track.track_id
        assert _readings(made) == _readings(track), track.track_id
        with_readings += bool(_readings(made))
        isrcs = set(track.identifiers.filter(kind="isrc").values_list("value", flat=True))
        assert set(made.identifiers.values_list("value", flat=True)) == isrcs
    if path.parent.name == "youtube":
        # Some titles read as "Artist - Title": the comparison above covered extra readings.
        assert with_readings > 0


def test_a_factory_track_is_found_by_a_real_run(
    label: Any, django_capture_on_commit_callbacks: Any
) -> None:
    track = factories.DatasetTrackFactory(artist="Kate Bush", title="Running Up That Hill")
    catalog = factories.CatalogFactory(organization=label, row_count=1)
    row = factories.CatalogRowFactory(
        catalog=catalog, artist="Kate Bush", title="Running Up That Hill (A Deal with God)"
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = match_run_start(catalog=catalog, datasets=[track.version.dataset])
    run.refresh_from_db()
    assert run.status == run.Status.DONE, run.error
    match = Match.objects.get(run=run)
    assert (match.catalog_row, match.track) == (row, track)
    assert RowResult.objects.get(run=run).status == RowResult.Status.MATCHED


def test_a_catalog_row_belongs_to_a_ready_catalog_and_its_cells_say_what_its_fields_say() -> None:
    row = factories.CatalogRowFactory()
    assert row.catalog.is_ready
    assert row.status == CatalogRow.Status.VALID
    assert row.cells == {"Artist": row.artist, "Title": row.title}
    assert [row.catalog.headers[i] for i in row.catalog.mapping.values()] == ["Artist", "Title"]
    assert (row.artist, row.title) in factories.SONGS


def test_a_new_dataset_version_is_numbered_next_and_becomes_current() -> None:
    first = factories.DatasetVersionFactory()
    second = factories.DatasetVersionFactory(dataset=first.dataset)
    kept = factories.DatasetVersionFactory(dataset=first.dataset, current=False)
    assert (first.number, second.number, kept.number) == (1, 2, 3)
    assert first.sha256 != second.sha256
    assert Dataset.objects.get(pk=first.dataset_id).current_version == second


def test_a_run_is_in_its_catalogs_organization_and_matches_the_versions_it_is_given(
    label: Any,
) -> None:
    version = factories.DatasetVersionFactory()
    run = factories.MatchRunFactory(
        catalog=factories.CatalogFactory(organization=label), dataset_versions=[version]
    )
    assert run.organization == run.catalog.organization == label
    assert list(run.dataset_versions.all()) == [version]
    assert run.status == run.Status.QUEUED and run.rows_done == 0


def test_a_row_result_is_for_a_row_of_the_runs_catalog() -> None:
    result = factories.RowResultFactory()
    assert result.catalog_row.catalog == result.run.catalog
    assert result.status == RowResult.Status.UNMATCHED


def test_a_match_keeps_its_run_row_and_track_together(other_label: Any) -> None:
    match = factories.MatchFactory(run__catalog__organization=other_label)
    assert match.run.organization == match.catalog_row.catalog.organization == other_label
    assert match.catalog_row.catalog == match.run.catalog
    assert match.dataset == match.track.version.dataset
    assert list(match.run.dataset_versions.all()) == [match.track.version]
    assert (match.track.artist, match.track.title) == (
        match.catalog_row.artist,
        match.catalog_row.title,
    )


def test_a_match_is_scored_by_the_engine_unless_the_test_says_otherwise() -> None:
    live = factories.MatchFactory(
        catalog_row__artist="Nirvana",
        catalog_row__title="Lithium",
        track__title="Lithium (Live)",
    )
    assert live.kind == Match.Kind.VERSION
    assert live.version_note
    exact = factories.MatchFactory()
    assert (exact.kind, exact.confidence, exact.title_score) == (Match.Kind.EXACT, 100, 100.0)
    with pytest.raises(ValueError, match="does not match"):
        factories.MatchFactory(
            track=factories.DatasetTrackFactory(artist="Radiohead", title="Creep")
        )


def test_the_known_small_run_is_accounted_for_row_by_row(label: Any) -> None:
    built = factories.small_run(label)
    results = RowResult.objects.filter(run=built.run)
    assert sorted(r.catalog_row.row_number for r in results) == sorted(built.rows)
    assert {m.catalog_row.catalog for m in built.matches.values()} == {built.catalog}
    assert set(built.run.dataset_versions.all()) == {
        d.current_version for d in built.datasets.values()
    }
