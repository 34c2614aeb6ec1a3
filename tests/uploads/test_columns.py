"""Header synonyms to catalog fields (uploads/columns.py)."""

from __future__ import annotations

import pytest

from uploads.columns import FIELDS, SYNONYMS, duration_unit, guess_mapping, header_key


def test_header_key_ignores_case_spacing_punctuation_accents_and_camel_case() -> None:
    keys = {header_key(h) for h in ("Track_Name", "track name", "TrackName", "TRÁCK-NAME ")}
    assert keys == {"trackname"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Artist", "Title"], {"artist": 0, "title": 1}),
        (["ArtistName", "SongTitle"], {"artist": 0, "title": 1}),
        (["Primary Artist", "Recording Title"], {"artist": 0, "title": 1}),
        (["Performer", "Song"], {"artist": 0, "title": 1}),
        (["Künstler", "Titel", "Dauer"], {"artist": 0, "title": 1, "duration": 2}),
        (["Interpret", "Titel", "Länge"], {"artist": 0, "title": 1, "duration": 2}),
        (["Artiste", "Titre", "Durée"], {"artist": 0, "title": 1, "duration": 2}),
        (["Artista", "Título", "Duración"], {"artist": 0, "title": 1, "duration": 2}),
        (["artista", "Canción", "Álbum"], {"artist": 0, "title": 1, "album": 2}),
        (["artist", "song", "peakRank"], {"artist": 0, "title": 1}),
    ],
)
def test_common_and_translated_headers_are_recognised(
    headers: list[str], expected: dict[str, int]
) -> None:
    assert guess_mapping(headers) == expected


def test_every_field_has_a_recognised_label_export_header() -> None:
    headers = [
        "Display Artist",
        "Track Title",
        "Version Title",
        "ISRC",
        "Barcode",
        "Release Title",
        "Label",
        "Duration (ms)",
        "Spotify URI",
        "YouTube URL",
    ]
    assert guess_mapping(headers) == {name: index for index, name in enumerate(FIELDS)}


def test_track_artist_is_preferred_over_album_artist_whatever_the_order() -> None:
    assert guess_mapping(["Album Artist", "Title", "Track Artist"])["artist"] == 2
    assert guess_mapping(["Track Artist", "Title", "Album Artist"])["artist"] == 0


def test_album_artist_is_used_when_it_is_the_only_artist_column() -> None:
    assert guess_mapping(["Album Artist", "Title"])["artist"] == 0


def test_track_title_is_preferred_over_a_bare_name_column() -> None:
    assert guess_mapping(["Name", "Artist", "Track Title"])["title"] == 2


def test_the_leftmost_of_two_identical_headers_wins() -> None:
    assert guess_mapping(["Artist", "Title", "Artist"])["artist"] == 0


def test_headers_that_only_contain_a_synonym_are_not_mapped() -> None:
    # The real "Most Streamed Spotify Songs 2024" export: streams and views are not ids.
    mapping = guess_mapping(
        ["Track", "Album Name", "Artist", "Spotify Streams", "YouTube Views", "Track Score"]
    )
    assert mapping == {"artist": 2, "title": 0, "album": 1}


def test_a_column_serves_one_field_only() -> None:
    mapping = guess_mapping(["Artist", "Title", "Time"])
    assert sorted(mapping.values()) == [0, 1, 2]


def test_empty_and_missing_headers_map_nothing() -> None:
    assert guess_mapping(["", "   ", "Comments"]) == {}


def test_synonyms_cover_every_field_and_each_key_belongs_to_one_field() -> None:
    assert set(SYNONYMS) == set(FIELDS)
    seen: dict[str, str] = {}
    for name, synonyms in SYNONYMS.items():
        for synonym in synonyms:
            key = header_key(synonym)
            assert seen.setdefault(key, name) == name, synonym


@pytest.mark.parametrize(
    ("header", "unit"),
    [("Duration (ms)", "ms"), ("duration_ms", "ms"), ("Length in milliseconds", "ms"),
     ("Duration (sec)", "s"), ("Duration", None), ("Time", None)],
)  # fmt: skip
def test_duration_unit_is_read_from_the_header(header: str, unit: str | None) -> None:
    assert duration_unit(header) == unit
