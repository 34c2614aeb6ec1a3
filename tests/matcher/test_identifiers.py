"""Canonical identifiers shared by the catalog and dataset sides."""

from __future__ import annotations

import pytest

from matcher.engine.identifiers import (
    fma_url_key,
    genius_url_key,
    identifiers_in,
    normalize_isrc,
    spotify_track_id,
    youtube_channel_id,
    youtube_video_id,
)


@pytest.mark.parametrize(
    "text",
    [
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42",
        "youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?si=xyz",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM",
        "https://m.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "  https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ  ",
    ],
)
def test_every_youtube_url_form_gives_the_same_video_id(text: str) -> None:
    assert youtube_video_id(text) == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "text", ["", "not a video", "https://www.youtube.com/watch?v=short", "https://vimeo.com/1234"]
)
def test_text_without_a_video_gives_no_youtube_id(text: str) -> None:
    assert youtube_video_id(text) is None


def test_youtube_video_id_keeps_its_case() -> None:
    assert youtube_video_id("https://youtu.be/AbC-_12xYz9") == "AbC-_12xYz9"


def test_channel_id_is_read_from_bare_id_and_channel_url() -> None:
    channel = "UCBR8-60-B28hp2BmDPdntcQ"
    assert youtube_channel_id(channel) == channel
    assert youtube_channel_id(f"https://www.youtube.com/channel/{channel}/videos") == channel
    assert youtube_channel_id("UCshort") is None


@pytest.mark.parametrize(
    "text",
    [
        "69kOkLUCkxIZYexIgSG8rq",
        "spotify:track:69kOkLUCkxIZYexIgSG8rq",
        "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq?si=1a2b3c",
        "https://open.spotify.com/intl-de/track/69kOkLUCkxIZYexIgSG8rq",
        "https://open.spotify.com/intl-pt-BR/track/69kOkLUCkxIZYexIgSG8rq",
        "open.spotify.com/embed/track/69kOkLUCkxIZYexIgSG8rq",
    ],
)
def test_every_spotify_form_gives_the_same_track_id(text: str) -> None:
    assert spotify_track_id(text) == "69kOkLUCkxIZYexIgSG8rq"


def test_spotify_album_url_is_not_a_track() -> None:
    assert spotify_track_id("https://open.spotify.com/album/69kOkLUCkxIZYexIgSG8rq") is None


def test_genius_song_url_key_is_lowercase_path_without_scheme_or_query() -> None:
    url = "https://Genius.com/The-beatles-yesterday-lyrics?utm=x#chorus"
    assert genius_url_key(url) == "genius.com/the-beatles-yesterday-lyrics"
    assert genius_url_key("http://www.genius.com/The-beatles-yesterday-lyrics/") == (
        "genius.com/the-beatles-yesterday-lyrics"
    )


def test_genius_artist_page_is_not_a_song_key() -> None:
    assert genius_url_key("https://genius.com/artists/The-beatles") is None


def test_fma_url_key_drops_scheme_www_case_and_trailing_slash() -> None:
    assert fma_url_key(
        "https://www.FreeMusicArchive.org/music/AWOL/AWOL_-_A_Way_Of_Life/Food/"
    ) == ("freemusicarchive.org/music/awol/awol_-_a_way_of_life/food")
    assert fma_url_key("http://freemusicarchive.org/") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GBAYE6500053", "GBAYE6500053"),
        ("gb-aye-65-00053", "GBAYE6500053"),
        (" GB AYE 65 00053 ", "GBAYE6500053"),
        ("ISRC: USRC17607839", "USRC17607839"),
        ("US.RC1.76.07839", "USRC17607839"),  # dots, as some label exports write it
        ("US_RC1_76_07839", "USRC17607839"),  # underscores
        ("us rc1 76 07839", "USRC17607839"),
        ("QM24S2402528", "QM24S2402528"),
        ("XX1234567890", None),  # XX is no country prefix
        ("GBAYE650005", None),
        ("", None),
    ],
)
def test_isrc_is_compacted_uppercased_and_validated(text: str, expected: str | None) -> None:
    assert normalize_isrc(text) == expected


def test_identifiers_in_free_text_finds_each_kind_once() -> None:
    text = (
        "ISRC gb-aye-65-00053; video https://youtu.be/dQw4w9WgXcQ and again "
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ, channel "
        "https://www.youtube.com/channel/UCBR8-60-B28hp2BmDPdntcQ, "
        "spotify:track:69kOkLUCkxIZYexIgSG8rq, https://genius.com/songs/378195 "
        "https://genius.com/The-beatles-yesterday-lyrics "
        "http://freemusicarchive.org/music/AWOL/AWOL_-_A_Way_Of_Life/Food"
    )
    assert identifiers_in(text) == [
        ("isrc", "GBAYE6500053"),
        ("spotify", "69kOkLUCkxIZYexIgSG8rq"),
        ("youtube", "dQw4w9WgXcQ"),
        ("youtube_channel", "UCBR8-60-B28hp2BmDPdntcQ"),
        ("genius", "378195"),
        ("genius_url", "genius.com/the-beatles-yesterday-lyrics"),
        ("fma_url", "freemusicarchive.org/music/awol/awol_-_a_way_of_life/food"),
    ]


def test_bare_words_shaped_like_ids_are_not_taken_from_free_text() -> None:
    assert identifiers_in("Hello_World and 69kOkLUCkxIZYexIgSG8rq") == []
