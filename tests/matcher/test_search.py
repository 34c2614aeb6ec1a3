"""The public dataset search: fuzzy, accent-insensitive, grouped per dataset, throttled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from matcher.datasets.importer import dataset_import
from matcher.models import SearchTerm
from matcher.search import keys
from matcher.search import selectors as search
from matcher.search.selectors import (
    SearchQueryError,
    dataset_search,
    search_suggest,
)
from matcher.search.services import search_terms_refresh
from matcher.search.views import SearchAnonThrottle

HEADER = "track_id,artist,title,album,duration_s,isrc,url\n"
FIRST = (
    "a1,Beyoncé,Halo,I Am... Sasha Fierce,261,,https://www.youtube.com/watch?v=bnVUHWCynig\n"
    "a2,Beyoncé;JAY-Z,Drunk in Love,Beyoncé,323,,\n"
    "a3,Radiohead,Karma Police,OK Computer,264,,\n"
    "a4,Muse,Uprising,The Resistance,305,,\n"
    "a5,Sigur Rós,Hoppípolla,Takk...,268,,\n"
    "a6,Museum Of Sound,Echoes,,200,,\n"
)
SECOND = (
    "b1,Beyonce,Halo (Live),I Am... Yours,275,,https://open.spotify.com/track/4JehYebiI9JE8sR8MisGVb\n"
    "b2,Leona Lewis,Halo,Spirit,210,,\n"
    "b3,BEYONCÉ,Single Ladies (Put a Ring on It),I Am... Sasha Fierce,193,,\n"
)


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    cache.clear()  # throttle histories live in the default cache
    yield
    cache.clear()


@pytest.fixture
def datasets(db, tmp_path: Path):  # type: ignore[no-untyped-def]
    for slug, body in (("alpha-set", FIRST), ("beta-set", SECOND)):
        path = tmp_path / f"{slug}.csv"
        path.write_text(HEADER + body, encoding="utf-8")
        dataset_import(slug=slug, paths=[path], file_format="generic-csv")  # refreshes terms


def counts(result: search.SearchResult) -> dict[str, int]:
    return {group.slug: group.count for group in result.groups}


def titles(result: search.SearchResult, slug: str) -> list[str]:
    return [hit.title for group in result.groups if group.slug == slug for hit in group.hits]


# --- the selector ------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["beyonce", "BEYONCÉ", "Beyoncé", "  beyoncé  "])
def test_artist_search_ignores_accents_and_case_and_counts_per_dataset(datasets, typed):
    result = dataset_search(artist=typed, title="", limit=10)
    assert counts(result) == {"alpha-set": 2, "beta-set": 2}
    assert result.total == 4
    assert sorted(titles(result, "alpha-set")) == ["Drunk in Love", "Halo"]


@pytest.mark.parametrize(
    ("typed", "expected_title"),
    [
        ("Beyonse", "Halo"),
        ("Radiohaed", "Karma Police"),
        ("Mues", "Uprising"),
        ("Sigur Ros", "Hoppípolla"),
    ],
)
def test_artist_with_one_typo_is_found(datasets, typed, expected_title):
    result = dataset_search(artist=typed, title="", limit=10)
    assert expected_title in titles(result, "alpha-set")


def test_the_start_of_a_name_finds_it(datasets):
    assert titles(dataset_search(artist="Radioh", title=""), "alpha-set") == ["Karma Police"]


def test_an_exact_name_leaves_out_names_that_only_start_with_it(datasets):
    assert titles(dataset_search(artist="Muse", title=""), "alpha-set") == ["Uprising"]


def test_title_only_search_finds_every_artist_of_that_title(datasets):
    result = dataset_search(artist="", title="halo", limit=10)
    assert counts(result) == {"alpha-set": 1, "beta-set": 2}
    artists = {hit.artist for group in result.groups for hit in group.hits}
    assert artists == {"Beyoncé", "Beyonce", "Leona Lewis"}


def test_misspelled_title_is_found(datasets):
    result = dataset_search(artist="", title="Karma Polise", limit=10)
    assert titles(result, "alpha-set") == ["Karma Police"]


def test_artist_and_title_together_keep_only_that_artists_tracks(datasets):
    result = dataset_search(artist="Beyonce", title="Halo", limit=10)
    assert counts(result) == {"alpha-set": 1, "beta-set": 1}
    assert {hit.artist for group in result.groups for hit in group.hits} == {"Beyoncé", "Beyonce"}


def test_featured_artist_is_found_with_the_title(datasets):
    result = dataset_search(artist="Jay-Z", title="drunk in love", limit=10)
    assert titles(result, "alpha-set") == ["Drunk in Love"]


def test_limit_caps_the_listed_tracks_not_the_count(datasets):
    result = dataset_search(artist="beyonce", title="", limit=1)
    assert counts(result) == {"alpha-set": 2, "beta-set": 2}
    assert all(len(group.hits) == 1 for group in result.groups)


def test_empty_query_gives_a_message_not_an_error(datasets):
    result = dataset_search(artist="  ", title="", limit=10)
    assert result.groups == []
    assert "Type an artist" in result.message


def test_a_miss_says_nothing_was_found(datasets):
    result = dataset_search(artist="Zzyzx Qwerty", title="", limit=10)
    assert result.groups == []
    assert result.message == "No track in the datasets matches this search."


def test_overlong_input_is_refused_with_the_field_named(datasets):
    with pytest.raises(SearchQueryError) as caught:
        dataset_search(artist="a" * 201, title="", limit=10)
    assert caught.value.field == "artist"
    assert "at most 200 characters" in str(caught.value)


def test_only_the_current_version_of_a_dataset_is_searched(datasets, tmp_path):
    path = tmp_path / "alpha-v2.csv"
    path.write_text(HEADER + "a9,Beyoncé,Halo,,261,,\n", encoding="utf-8")
    dataset_import(slug="alpha-set", paths=[path], file_format="generic-csv")
    result = dataset_search(artist="beyonce", title="", limit=10)
    assert counts(result) == {"alpha-set": 1, "beta-set": 2}


def test_refresh_rebuilds_the_terms_with_their_lookup_indexes(datasets):
    assert search_terms_refresh() == search_terms_refresh()
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'matcher_searchterm'")
        names = {row[0] for row in cur.fetchall()}
    assert names == {"matcher_searchterm_pkey", "searchterm_prefix", "searchterm_suffix"}
    assert counts(dataset_search(artist="Radiohaed", title="")) == {"alpha-set": 1}


def test_portable_refresh_gives_the_same_terms(datasets, monkeypatch):
    def terms() -> set[tuple[str, str, str, int]]:
        return set(SearchTerm.objects.values_list("field", "key", "display", "tracks"))

    on_postgresql = terms()
    monkeypatch.setattr(connection, "vendor", "sqlite")
    search_terms_refresh()
    assert terms() == on_postgresql
    assert ("artist", "beyonce", "Beyonce", 4) in on_postgresql  # not in capitals


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_keys_one_typo_away_are_found_for_many_keys_at_once(datasets, monkeypatch, vendor):
    """Matching's round 3: short keys through their variants, longer ones through halves."""
    if vendor == "sqlite":
        monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM path
    artists = keys.one_typo_keys(
        field_name="artist", keys=["radiohaed", "mus", "sigr ros", "beyonc", "nobody here"]
    )
    assert artists == {"radiohaed": {"radiohead"}, "sigr ros": {"sigur ros"}, "beyonc": {"beyonce"}}
    titles = keys.one_typo_keys(field_name="title", keys=["karma polise", "hal", "uprsing"])
    assert titles == {"karma polise": {"karma police"}, "uprsing": {"uprising"}}


def test_suggestions_complete_a_prefix_with_the_most_tracks_first(datasets):
    suggestions = search_suggest(q="bey", field_name="artist")
    assert [s.tracks for s in suggestions][:1] == [4]
    assert suggestions[0].text.casefold().startswith("beyonc")
    assert search_suggest(q="b", field_name="artist") == []  # too short to be useful


def test_suggestions_forgive_a_typo(datasets):
    texts = [s.text for s in search_suggest(q="radiohaed", field_name="artist")]
    assert texts == ["Radiohead"]


def test_sqlite_fallback_finds_prefix_and_typo(datasets, monkeypatch):
    # The embedded default (SQLite) has no pg_trgm: the fallback lookups must still find these.
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert "Karma Police" in titles(dataset_search(artist="Radiohaed", title=""), "alpha-set")
    assert counts(dataset_search(artist="", title="hopipolla")) == {"alpha-set": 1}


# --- the page and the suggestions fragment ---------------------------------------------------


def test_search_page_lists_results_per_dataset_with_links_to_sources(client, datasets):
    response = client.get(reverse("search"), {"artist": "beyonce"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="search-artist"' in html and 'id="search-results"' in html
    assert 'id="results-alpha-set"' in html and 'id="results-beta-set"' in html
    assert 'href="https://www.youtube.com/watch?v=bnVUHWCynig"' in html
    assert "alpha-set.csv, row 3" in html  # no URL: the source file and row instead


def test_search_page_says_once_that_presence_is_not_proof_of_training(client, datasets):
    body = client.get(reverse("search"), {"artist": "beyonce"}).content.decode()
    assert body.count("not proof that a model was trained on it") == 1


def test_submitting_the_search_clears_the_suggestion_list(client, datasets):
    body = client.get(reverse("search")).content.decode()
    form = body[body.index('<form id="search-form"') : body.index("</form>")]
    assert 'data-clears="search-suggestions"' in form
    app_js = (Path(settings.BASE_DIR) / "matcher" / "static" / "js" / "app.js").read_text()
    assert '"data-clears"' in app_js and "htmx:afterRequest" in app_js


def test_search_page_without_query_shows_the_form_only(client, datasets):
    response = client.get(reverse("search"))
    assert response.status_code == 200
    assert b'id="search-title"' in response.content
    assert b"track found" not in response.content


def test_htmx_search_answers_the_results_fragment(client, datasets):
    response = client.get(reverse("search"), {"title": "halo"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="search-results"')
    assert "3 tracks found" in html


def test_overlong_input_on_the_page_is_a_clear_error(client, datasets):
    response = client.get(reverse("search"), {"title": "x" * 300})
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()


def test_throttled_htmx_search_gets_the_message_in_the_fragment(client, datasets, monkeypatch):
    monkeypatch.setattr(SearchAnonThrottle, "THROTTLE_RATES", {"search_anon": "1/minute"})
    htmx = {"HX-Request": "true"}
    client.get(reverse("search"), {"artist": "muse"}, headers=htmx)
    response = client.get(reverse("search"), {"artist": "muse"}, headers=htmx)
    assert response.status_code == 200  # htmx would not swap in an error response
    assert "Too many searches" in response.content.decode()
    assert int(response["Retry-After"]) > 0


def test_suggestions_fragment_links_to_searches(client, datasets):
    response = client.get(reverse("search-suggest"), {"field": "artist", "artist": "radio"})
    html = response.content.decode()
    assert 'id="search-suggestions"' in html
    assert "/search/?artist=Radiohead" in html


def test_suggestions_as_json(client, datasets):
    response = client.get(
        reverse("search-suggest"),
        {"field": "title", "q": "karma"},
        headers={"Accept": "application/json"},
    )
    assert response.json() == {
        "field": "title",
        "suggestions": [{"text": "Karma Police", "tracks": 1}],
    }


# --- the API -----------------------------------------------------------------------------------


def test_api_search_answers_groups_with_counts(datasets):
    response = APIClient().get(reverse("api-search"), {"artist": "Beyonse"})
    assert response.status_code == 200
    body = response.json()
    assert {d["slug"]: d["count"] for d in body["datasets"]} == {"alpha-set": 2, "beta-set": 2}
    hit = next(h for d in body["datasets"] for h in d["hits"] if h["track_id"] == "a1")
    assert hit["url"] == "https://www.youtube.com/watch?v=bnVUHWCynig"
    assert body["artist_terms"][0]["key"] == "beyonce"


def test_api_empty_query_is_not_an_error(datasets):
    response = APIClient().get(reverse("api-search"))
    assert response.status_code == 200
    assert response.json()["datasets"] == []
    assert response.json()["message"].startswith("Type an artist")


def test_api_overlong_input_is_a_400_with_the_standard_error_body(datasets):
    response = APIClient().get(reverse("api-search"), {"artist": "a" * 201})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["code"] == "invalid"
    assert "artist" in error["fields"]


def test_api_bad_limit_is_a_400(datasets):
    response = APIClient().get(reverse("api-search"), {"artist": "muse", "limit": "0"})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["fields"]


def test_anonymous_api_is_throttled_with_the_standard_error_body(datasets, monkeypatch):
    monkeypatch.setattr(SearchAnonThrottle, "THROTTLE_RATES", {"search_anon": "2/minute"})
    api = APIClient()
    statuses = [api.get(reverse("api-search"), {"artist": "muse"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api.get(reverse("api-search"), {"artist": "muse"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_signed_in_users_are_not_held_to_the_anonymous_rate(datasets, alice, monkeypatch):
    monkeypatch.setattr(SearchAnonThrottle, "THROTTLE_RATES", {"search_anon": "1/minute"})
    api = APIClient()
    api.force_authenticate(alice)
    statuses = [api.get(reverse("api-search"), {"artist": "muse"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_search_page_is_throttled_too(client, datasets, monkeypatch):
    monkeypatch.setattr(SearchAnonThrottle, "THROTTLE_RATES", {"search_anon": "1/minute"})
    assert client.get(reverse("search"), {"artist": "muse"}).status_code == 200
    response = client.get(reverse("search"), {"artist": "muse"})
    assert response.status_code == 429
    assert "Too many searches" in response.content.decode()


def test_api_schema_documents_the_search(client, db):
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/search/"]["get"]
    assert operation["operationId"] == "search_datasets"
    assert {p["name"] for p in operation["parameters"]} >= {"artist", "title", "limit"}


@pytest.mark.django_db
@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_keys_one_typo_away_are_found_in_one_statement_whatever_they_hold(vendor, monkeypatch):
    # Short keys are looked up by all their variants at once (PostgreSQL: one text split on the
    # server); a key holding the separator goes as an array, and is found the same.
    for key in ("halo", "hal\x1fo", "karma", "echoes"):
        SearchTerm.objects.create(field="title", key=key, display=key, tracks=1)
    if vendor == "sqlite":
        monkeypatch.setattr(connection, "vendor", "sqlite")  # the SQLite statements
    found = keys.one_typo_keys(field_name="title", keys=["hallo", "kharma", "echo"])
    assert found == {"hallo": {"halo"}, "kharma": {"karma"}}
    found = keys.one_typo_keys(field_name="title", keys=["hal\x1fox"])
    assert found == {"hal\x1fox": {"hal\x1fo"}}
