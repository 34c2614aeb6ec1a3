"""Blocking keys and the stored compact form of a track."""

from __future__ import annotations

from matcher.engine.keys import ARTISTS_NORM_MAX_BYTES, PREFIX_MIN, TrackSide, prefix_key, prepare


def test_featured_artists_from_the_credit_and_the_title_follow_the_primary_artist():
    side = prepare(artists="Calvin Harris feat. Rihanna", title="This Is What You Came For").side
    assert side.artist_key == "calvin harris"
    assert side.artists == ("calvin harris", "rihanna")
    assert side.primary_count == 1
    from_title = prepare(artists="Drake", title="Take Care (feat. Rihanna)").side
    assert from_title.artists == ("drake", "rihanna")
    assert from_title.title_key == "take care"


def test_a_youtube_upload_without_a_credit_takes_its_artist_key_from_the_title():
    side = prepare(artists="", title="Adele - Hello (Official Music Video)").side
    assert side.artist_key == "adele"
    assert side.title_key == "hello"


def test_the_version_column_becomes_the_version_label():
    assert (
        prepare(artists="Queen", title="Bohemian Rhapsody", version="Live").side.version == "live"
    )
    remaster = prepare(artists="Queen", title="Bohemian Rhapsody", version="2011 Remaster").side
    assert remaster.version == ""


def test_the_stored_form_round_trips_primary_and_featured_credits():
    side = prepare(
        artists="Jessie J, Ariana Grande & Nicki Minaj", title="Bang Bang (feat. X)"
    ).side
    stored = TrackSide.from_stored(
        artist_key=side.artist_key,
        title_key=side.title_key,
        artists_norm=side.artists_norm,
        version=side.version,
        duration_s=None,
    )
    assert stored == side
    assert stored.primary_count == 3


def test_a_track_without_featured_artists_round_trips_too():
    side = prepare(artists="Adele", title="Hello").side
    assert side.artists_norm == "adele||"
    assert TrackSide.from_stored(
        artist_key="adele", title_key="hello", artists_norm="adele||", version="", duration_s=None
    ).artists == ("adele",)


def test_the_blocking_prefix_is_the_leading_half_of_a_key_and_never_the_whole_key():
    assert prefix_key("bohemian rhapsody") == "bohemian "
    assert prefix_key("fleetwood mac") == "fleetwo"
    assert prefix_key("hello") == ""  # not longer than PREFIX_MIN: the exact key covers it
    assert len(prefix_key("abcdefg")) == PREFIX_MIN


def test_a_typo_in_the_second_half_keeps_the_prefix():
    right = prepare(artists="Fleetwood Mac", title="Go Your Own Way").side
    typo = prepare(artists="Fleetwood Mca", title="Go Your Own Wya").side
    assert right.artist_key != typo.artist_key and right.title_key != typo.title_key
    assert prefix_key(right.artist_key) == prefix_key(typo.artist_key)
    assert prefix_key(right.title_key) == prefix_key(typo.title_key)


def test_accents_and_case_give_the_same_keys():
    a = prepare(artists="Beyoncé", title="Déjà Vu").side
    b = prepare(artists="BEYONCE", title="deja vu").side
    assert (a.artist_key, a.title_key) == (b.artist_key, b.title_key) == ("beyonce", "deja vu")


def test_a_long_credit_list_is_stored_within_the_index_budget_keeping_primary_names_first():
    primary = tuple(f"primary artist number {i} with a long name" for i in range(3))
    featured = tuple(f"featured guest {i} also with a fairly long name" for i in range(12))
    side = TrackSide("a", "t", primary + featured, len(primary), "")
    stored = side.artists_norm
    assert len(stored.encode()) <= ARTISTS_NORM_MAX_BYTES
    back = TrackSide.from_stored(
        artist_key="a", title_key="t", artists_norm=stored, version="", duration_s=None
    )
    assert back.artists[: back.primary_count] == primary  # every primary credit kept
    assert 0 < len(back.artists) - back.primary_count < len(featured)  # featured trimmed


def test_a_single_name_longer_than_the_budget_is_cut_on_a_character_boundary():
    side = TrackSide("a", "t", ("é" * 400,), 1, "")
    stored = side.artists_norm
    assert len(stored.encode()) <= ARTISTS_NORM_MAX_BYTES
    assert stored.endswith("||") and set(stored[:-2]) == {"é"}
