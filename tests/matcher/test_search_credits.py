"""The public search finds every credited artist of a track, not only the first (issue 17)."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from matcher.datasets import importer
from matcher.datasets.importer import dataset_import
from matcher.models import DatasetTrack, SearchTerm
from matcher.search.keys import credited_besides_first
from matcher.search.selectors import SearchResult, dataset_search, search_suggest
from matcher.search.services import search_terms_refresh
from matcher.search.views import SearchOutputSerializer

DATA = Path(__file__).resolve().parents[1] / "data" / "datasets"
SPOTIFY = DATA / "spotify_tracks_sample_886.csv"  # `;`-joined artists, as published
# Real rows of ../shared/data/billboard_hot100_top40_1980_2021.csv (dgmolla/hot100 @ f00be652,
# charts.csv): one artist cell with "Featuring" credits, in the generic dataset layout.
CHARTS = (
    "track_id,artist,title,album,duration_s,isrc,url\n"
    "c1,Katy Perry Featuring Snoop Dogg,California Gurls,,,,\n"
    "c2,Chingy Featuring Ludacris & Snoop Dogg,Holidae In,,,,\n"
    "c3,Nate Dogg Featuring Snoop Doggy Dogg,Never Leave Me Alone,,,,\n"
    "c4,Nelly,Hot In Herre,,,,\n"
)


@pytest.fixture(autouse=True)
def _fresh_throttles():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


def _import_charts(tmp_path: Path) -> None:
    path = tmp_path / "charts.csv"
    path.write_text(CHARTS, encoding="utf-8")
    dataset_import(slug="charts", paths=[path], file_format="generic-csv")


@pytest.fixture
def datasets(db, tmp_path: Path):  # type: ignore[no-untyped-def]
    dataset_import(slug="spotify-tracks", paths=[SPOTIFY], file_format="spotify-tracks-dataset")
    _import_charts(tmp_path)


def credited(name: str) -> set[str]:
    """Titles of the sample's tracks that credit `name` anywhere in their `artists`."""
    with SPOTIFY.open(encoding="utf-8") as fh:
        return {
            row["track_name"]
            for row in csv.DictReader(fh)
            if name in [a.strip() for a in row["artists"].split(";")]
        }


def found(result: SearchResult, slug: str) -> tuple[int, set[str]]:
    group = next((g for g in result.groups if g.slug == slug), None)
    return (group.count, {h.title for h in group.hits}) if group else (0, set())


# --- the selector ------------------------------------------------------------------------------


def test_an_artist_credited_after_the_first_is_found_by_artist_alone(datasets):
    result = dataset_search(artist="Snoop Dogg", limit=50)
    titles = {"Bad Decisions (with BTS & Snoop Dogg)", "Still D.R.E.", "The Next Episode"}
    assert credited("Snoop Dogg") == titles  # the sample as published
    assert found(result, "spotify-tracks") == (3, titles)
    assert result.artist_terms[0].display == "Snoop Dogg"  # spelled as published


@pytest.mark.parametrize("name", ["Justin Bieber", "Halsey", "BTS", "Khalid"])
def test_every_track_crediting_an_artist_is_counted_and_listed(datasets, name):
    expected = credited(name)
    assert len(expected) >= 2
    assert found(dataset_search(artist=name, limit=50), "spotify-tracks") == (
        len(expected),
        expected,
    )


def test_the_first_credited_artist_is_still_found(datasets):
    count, titles = found(dataset_search(artist="Dr. Dre", limit=50), "spotify-tracks")
    assert {"Still D.R.E.", "The Next Episode"} <= titles
    assert count == len(credited("Dr. Dre"))


def test_a_featured_credit_in_one_artist_cell_is_found(datasets):
    assert found(dataset_search(artist="Ludacris"), "charts") == (1, {"Holidae In"})
    assert found(dataset_search(artist="snoop dogg"), "charts") == (
        2,
        {"California Gurls", "Holidae In"},
    )


def test_an_artist_sharing_a_word_with_a_credited_one_is_not_found(datasets):
    timberlake = dataset_search(artist="Justin Timberlake", limit=50)
    assert found(timberlake, "spotify-tracks")[1] == credited("Justin Timberlake")
    assert not credited("Justin Timberlake") & credited("Justin Bieber")
    # "Snoop Doggy Dogg" is credited on a Nate Dogg track: neither is Snoop Dogg
    assert found(dataset_search(artist="Nate Dogg"), "charts") == (1, {"Never Leave Me Alone"})
    assert "Never Leave Me Alone" not in found(dataset_search(artist="Snoop Dogg"), "charts")[1]


def test_artist_and_title_find_a_track_crediting_the_artist_after_the_first(datasets, monkeypatch):
    # not by scoring every track of the title (a common title has too many): by the credits
    monkeypatch.setattr("matcher.search.selectors.TITLE_SCORE_CAP", 0)
    result = dataset_search(artist="Snoop Dogg", title="The Next Episode")
    assert found(result, "spotify-tracks") == (1, {"The Next Episode"})


def test_suggestions_offer_an_artist_credited_after_the_first(datasets):
    suggestions = search_suggest(q="snoop d", field_name="artist")
    assert [(s.text, s.tracks) for s in suggestions][:1] == [("Snoop Dogg", 5)]  # 3 + 2


def test_the_credits_lookup_reads_an_index(datasets):
    """The plan of the credits' lookups must use the GIN index (a sequential scan of 22M tracks
    takes seconds): with sequential scans priced out, a query the index cannot serve still
    shows a Seq Scan, so this fails when the query and the index expression drift apart."""
    keys = ["snoop dogg", "halsey"]
    tracks = DatasetTrack.objects.filter(
        credited_besides_first(keys, vendor="postgresql"),
        version_id__in=list(DatasetTrack.objects.values_list("version_id", flat=True)),
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        counted = tracks.values_list("version_id").annotate(n=Count("*")).explain()
        # with a title too, either index narrows it down (here a title's one track)
        with_title = tracks.filter(title_key__in=["the next episode"]).values("id").explain()
    assert "track_other_credits" in counted
    assert "Seq Scan" not in counted
    assert "Seq Scan" not in with_title


def test_the_search_reads_the_credits_with_sequential_scans_off(datasets):
    with CaptureQueriesContext(connection) as queries:
        dataset_search(artist="Snoop Dogg")
    statements = [q["sql"] for q in queries.captured_queries]
    first_credits = next(i for i, sql in enumerate(statements) if "string_to_array" in sql)
    assert "SET LOCAL enable_seqscan = off" in statements[:first_credits]


# --- the page and the API ----------------------------------------------------------------------


def test_search_page_lists_the_tracks_of_a_featured_artist(client, datasets):
    body = client.get(reverse("search"), {"artist": "Snoop Dogg"}).content.decode()
    assert "Bad Decisions (with BTS &amp; Snoop Dogg)" in body
    assert "California Gurls" in body


def test_api_finds_a_featured_artist_in_the_documented_shape(datasets):
    response = APIClient().get(reverse("api-search"), {"artist": "Snoop Dogg"})
    assert response.status_code == 200
    body = response.json()
    assert {d["slug"]: d["count"] for d in body["datasets"]} == {"charts": 2, "spotify-tracks": 3}
    documented = SearchOutputSerializer()
    assert set(body) == set(documented.fields)
    group_fields = documented.fields["datasets"].child.fields
    assert all(set(d) == set(group_fields) for d in body["datasets"])
    hit_fields = set(group_fields["hits"].child.fields)
    assert all(set(h) == hit_fields for d in body["datasets"] for h in d["hits"])
    assert body["artist_terms"][0] == {
        "key": "snoop dogg",
        "display": "Snoop Dogg",
        "tracks": 5,
        "score": 100.0,
    }


# --- the terms, on every path ------------------------------------------------------------------


def terms() -> set[tuple[str, str, str, int]]:
    return set(SearchTerm.objects.values_list("field", "key", "display", "tracks"))


def test_added_terms_with_credits_are_what_a_rebuild_gives(db, tmp_path, monkeypatch):
    dataset_import(slug="spotify-tracks", paths=[SPOTIFY], file_format="spotify-tracks-dataset")
    monkeypatch.setattr(importer, "TERMS_ADD_MAX_SHARE", 1.0)
    _import_charts(tmp_path)
    added = terms()
    search_terms_refresh()
    assert added == terms()
    assert ("artist", "snoop dogg", "Snoop Dogg", 5) in added


def test_portable_terms_and_search_find_the_same_credits(datasets, monkeypatch):
    on_postgresql = terms()
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM paths
    search_terms_refresh()
    assert terms() == on_postgresql
    result = dataset_search(artist="Snoop Dogg", limit=50)
    assert found(result, "spotify-tracks")[0] == 3
    assert found(result, "charts") == (2, {"California Gurls", "Holidae In"})


def test_the_migration_fills_the_terms_a_rebuild_gives(datasets):
    migration = importlib.import_module("matcher.migrations.0008_other_credits_search")
    rebuilt = terms()
    SearchTerm.objects.filter(field="artist").delete()
    with connection.schema_editor() as editor:
        migration.refill_artist_terms(apps, editor)
    assert terms() == rebuilt
