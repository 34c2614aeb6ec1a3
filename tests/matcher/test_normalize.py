"""Unit tests for matcher.engine.normalize with real titles and credits and public fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.engine.normalize import (
    NORMALIZER_VERSION,
    Artists,
    VersionInfo,
    fold,
    normalize_artists,
    normalize_title,
    split_credits,
    translit,
)

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "normalize" / "metadata-filter"

# --------------------------------------------------------------------------------------------
# metadata-filter fixtures (tests/data/normalize/metadata-filter, MIT)
# --------------------------------------------------------------------------------------------

ARTIST_FILES = {
    "album-artist-from-artist.json",
    "remove-feature.json",
    "normalize-feature.json",
    "remove-additional-artists.json",
    "fix-various-artists.json",
}
# Characters-only fixtures: compared on the folded key, since we map '`' to "'" for display.
CHARACTER_FILES = {
    "decode-html-entities.json",
    "replace-nbsp.json",
    "replace-smart-quotes.json",
    "remove-zero-width.json",
}

# Cases where their filter keeps or rewrites a version tag and we classify it instead:
# input -> (our display, expected differs, expected same).
CLASSIFIED = {
    "Track Title (Artist Remix)": ("Track Title", ("remix",), ()),
    "Track Title (Remix)": ("Track Title", ("remix",), ()),
    "Track Title - Artist Remix": ("Track Title", ("remix",), ()),
    "Track Title - Remix": ("Track Title", ("remix",), ()),
    "Track Title - Group X dub": ("Track Title", ("remix",), ()),
    "Track Title - Group X edit": ("Track Title", ("edit",), ()),
    "Track Title - Group X mix": ("Track Title", ("remix",), ()),
    "Track Title - Group X Remix Edit": ("Track Title", ("edit", "remix"), ()),
    "Track Title - VIP": ("Track Title", ("remix",), ()),
    "Track Title - Short Version": ("Track Title", ("edit",), ()),
    "Track Title - Instrumental": ("Track Title", ("instrumental",), ()),
    "Track Title (Live / Remastered)": ("Track Title", ("live",), ("remaster",)),
    "Track Title - Live / Remastered": ("Track Title", ("live",), ("remaster",)),
}
# Cases where we knowingly differ from their output, with the reason.
DIVERGENT = {
    # Unrecognised square-bracket text is YouTube noise for us; they keep it.
    "Album Title (Remastered Re-issue + Bonus) [Whatever]": "Album Title",
    "Album Title (Remastered Reissue + Bonus) [Whatever]": "Album Title",
    "Album Title [Remastered Re-issue + Bonus] [Whatever]": "Album Title",
    "Album Title [Remastered Reissue + Bonus] [Whatever]": "Album Title",
    # Extracting a quoted title from free text and dropping a lone "clip" word would damage real
    # titles ("Paper Clip"); we only unwrap a title that is entirely quoted.
    "'Track Title' whatever": "'Track Title' whatever",
    "Track Title clip": "Track Title clip",
    # Feat. credits in a title always move to Title.featured.
    "Imminent (Lyric Video) ft. Joshua Idehen": "Imminent",
}


def _fixture_cases() -> list[tuple[str, str, str]]:
    cases = []
    for path in sorted(FIXTURES.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            given = case.get("funcParameter", case.get("fieldValue"))
            cases.append((path.name, given, case["expectedValue"]))
    return cases


FIXTURE_CASES = _fixture_cases()


def test_all_metadata_filter_fixture_files_are_loaded() -> None:
    assert len({name for name, _, _ in FIXTURE_CASES}) == 18
    assert len(FIXTURE_CASES) > 200


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [c for c in FIXTURE_CASES if c[0] not in ARTIST_FILES | CHARACTER_FILES],
    ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None,
)
def test_metadata_filter_title_fixture_is_cleaned_or_classified(
    name: str, given: str, expected: str
) -> None:
    title = normalize_title(given)
    if given in CLASSIFIED:
        display, differs, same = CLASSIFIED[given]
        assert title.display == display
        assert title.version.differs == differs
        assert title.version.same == same
        return
    assert title.display == DIVERGENT.get(given, expected)
    if given.strip() != title.display:
        assert title.rules, "a change to the title must be explained by a rule"
    if name in {"remove-live.json", "spotify.json"}:
        assert "live" in title.version.differs
    same_files = {"remove-remastered.json", "remove-reissue.json", "remove-clean-explicit.json"}
    if name in same_files and given != expected:
        assert title.version.same
        assert not title.version.differs


@pytest.mark.parametrize(
    ("name", "given", "expected"), [c for c in FIXTURE_CASES if c[0] in CHARACTER_FILES]
)
def test_metadata_filter_character_fixture_gives_same_key(
    name: str, given: str, expected: str
) -> None:
    title = normalize_title(given)
    assert title.script_key == fold(expected)
    assert "\u200b" not in title.display and "\u00a0" not in title.display


@pytest.mark.parametrize(
    ("name", "given", "expected"), [c for c in FIXTURE_CASES if c[0] in ARTIST_FILES]
)
def test_metadata_filter_artist_fixture_gives_primary_artist(
    name: str, given: str, expected: str
) -> None:
    artists = normalize_artists(given)
    if given == "Various Artists (Fundraiser for Ukraine)":
        # A parenthesised note on an artist is kept: it is not a credit.
        assert artists.key == "various artists fundraiser for ukraine"
        return
    primary = expected.split(" feat. ")[0]
    assert artists.names[0] == primary
    assert artists.key == translit(primary)
    if "feat." in given:
        assert artists.featured and artists.featured[0] == "artist b"


# --------------------------------------------------------------------------------------------
# fold / translit
# --------------------------------------------------------------------------------------------


def test_fold_maps_ampersand_smart_quotes_and_zero_width() -> None:
    assert fold("Simon &\u200b Garfunkel") == "simon and garfunkel"
    assert fold("Don\u2019t Stop Me Now") == fold("Don't Stop Me Now") == "dont stop me now"
    assert fold("Rock\u00a0\u2013\u00a0Roll") == "rock roll"


def test_fold_keeps_initialisms_and_symbol_spellings_together() -> None:
    # billboard_hot100_top40_1980_2021.csv: "D.R.A.M.", "Ke$ha", "A$AP Rocky", "P!nk"
    assert fold("D.R.A.M.") == "dram"
    assert fold("Ke$ha") == "kesha"
    assert fold("A$AP Rocky") == "asap rocky"
    assert fold("P!nk") == "pink"
    assert fold("R. Kelly") == "r kelly"


def test_fold_keeps_original_script_and_indic_words_whole() -> None:
    assert fold("Незабудка") == "незабудка"
    assert fold("हिन्दी गाना") == "हिन्दी गाना"


def test_translit_romanizes_non_latin_scripts() -> None:
    assert translit("Beyoncé") == "beyonce"
    assert translit("Незабудка") == "nezabudka"
    assert translit("사랑해") == "salanghae"


def test_translit_falls_back_to_fold_instead_of_empty() -> None:
    assert translit("!!!") == ""  # no letter or digit at all
    assert translit("Sigur Rós") == "sigur ros"
    assert translit("♥") == ""


def test_normalizer_version_is_a_string() -> None:
    assert isinstance(NORMALIZER_VERSION, str) and NORMALIZER_VERSION


# --------------------------------------------------------------------------------------------
# Titles
# --------------------------------------------------------------------------------------------


def test_remaster_tag_is_same_recording() -> None:
    # spotify_tracks_sample_886.csv has "... - Remastered 2009" titles
    title = normalize_title("Something - Remastered 2009")
    assert title.display == "Something"
    assert title.version.same == ("remaster 2009",)
    assert title.version.differs == ()
    assert title.version.label == ""
    assert "same recording: remaster 2009" in title.rules


@pytest.mark.parametrize(
    ("raw", "display", "same"),
    [
        # A title that is a year keeps it: "1977" by Bay City Rollers-style titles.
        ("1977 - Remastered 2011", "1977", ("remaster 2011",)),
        ("1977 - Remastered", "1977", ("remaster",)),
        ("1979 (Remastered 2012)", "1979", ("remaster 2012",)),
        # A year standing alone between dashes belongs to the remaster tag.
        ("Song - 2011 - Remaster", "Song", ("remaster 2011",)),
        ("Song - 2011 - Digital Remaster", "Song", ("remaster 2011",)),
        ("Song 2011 - Remaster", "Song 2011", ("remaster",)),
    ],
)
def test_year_next_to_a_remaster_tag_goes_where_it_belongs(
    raw: str, display: str, same: tuple[str, ...]
) -> None:
    title = normalize_title(raw)
    assert title.display == display
    assert title.version.same == same


def test_digital_remaster_in_brackets_keeps_year() -> None:
    title = normalize_title("Track Title (2009 Re-Mastered Digital Version)")
    assert title.version.same == ("remaster 2009",)


def test_live_at_venue_is_a_different_version_with_detail() -> None:
    title = normalize_title("Bohemian Rhapsody - Live at Wembley")
    assert title.display == "Bohemian Rhapsody"
    assert title.version.differs == ("live",)
    assert title.version.details == ("Live at Wembley",)
    assert title.version.label == "live"
    assert "version: live" in title.rules


def test_portuguese_ao_vivo_is_live() -> None:
    # spotify_tracks_multilingual_2000.csv has "- Ao Vivo" titles
    assert normalize_title("Evidências - Ao Vivo").version.differs == ("live",)


def test_featured_artist_moves_from_title() -> None:
    # spotify_tracks_sample_886.csv: "(feat. Drake)"
    title = normalize_title("Sicko Mode (feat. Drake)")
    assert title.display == "Sicko Mode"
    assert title.key == "sicko mode"
    assert title.featured == ("drake",)
    assert "featured artist moved from title" in title.rules


def test_with_credit_list_in_title_is_split_into_featured_keys() -> None:
    # spotify_tracks_sample_886.csv: "(with Selena Gomez, Ozuna & Cardi B)"
    title = normalize_title("Taki Taki (with Selena Gomez, Ozuna & Cardi B)")
    assert title.display == "Taki Taki"
    assert title.featured == ("selena gomez", "ozuna", "cardi b")


def test_bare_feat_after_title_is_moved() -> None:
    title = normalize_title("Imminent ft. Joshua Idehen")
    assert title.display == "Imminent"
    assert title.featured == ("joshua idehen",)


def test_official_video_tag_is_removed_as_cruft() -> None:
    title = normalize_title("Blinding Lights [Official Video]")
    assert title.display == "Blinding Lights"
    assert title.version == VersionInfo()
    assert "YouTube cruft removed: [Official Video]" in title.rules


def test_artist_dash_title_with_lyrics_splits_artist_without_credits() -> None:
    title = normalize_title("Adele - Hello (Lyrics)")
    assert title.display == "Hello"
    assert title.artist_in_title == "adele"
    assert "artist split from title" in title.rules


def test_artist_dash_title_splits_when_artist_is_credited() -> None:
    credits = normalize_artists("Green Day")
    title = normalize_title("Green Day - Boulevard of Broken Dreams", artists=credits)
    assert title.display == "Boulevard of Broken Dreams"
    assert title.artist_in_title == "green day"


def test_dash_in_plain_title_is_not_split_without_youtube_shape() -> None:
    # spotify_tracks_sample_886.csv: "Sunflower - Spider-Man: Into the Spider-Verse"
    title = normalize_title("Sunflower - Spider-Man: Into the Spider-Verse")
    assert title.display == "Sunflower - Spider-Man: Into the Spider-Verse"
    assert title.artist_in_title == ""


def test_dash_is_not_split_when_left_part_is_not_the_credited_artist() -> None:
    credits = normalize_artists("Post Malone;Swae Lee")
    title = normalize_title("Sunflower - Spider-Man: Into the Spider-Verse", artists=credits)
    assert title.artist_in_title == ""


def test_youtube_title_with_featured_artist_on_the_left() -> None:
    title = normalize_title(
        "Calvin Harris feat. Rihanna - This Is What You Came For (Official Video)"
    )
    assert title.display == "This Is What You Came For"
    assert title.artist_in_title == "calvin harris"
    assert title.featured == ("rihanna",)


def test_pipe_tail_and_hd_are_removed() -> None:
    title = normalize_title("Numb | Linkin Park | HD")
    assert title.display == "Numb"


def test_named_remix_records_the_remixer() -> None:
    title = normalize_title("Adagio for Strings (Tiesto Remix)")
    assert title.display == "Adagio for Strings"
    assert title.version.differs == ("remix",)
    assert title.version.details == ("remix by Tiesto",)
    assert title.version.label == "remix"


def test_from_film_is_from_media_with_the_work_named() -> None:
    title = normalize_title('Let It Go (From "Frozen")')
    assert title.display == "Let It Go"
    assert title.version.differs == ("from_media",)
    assert title.version.details == ("from 'Frozen'",)


def test_from_motion_picture_after_dash_is_from_media() -> None:
    # spotify_tracks_sample_886.csv style: "- From The Motion Picture ..."
    title = normalize_title("Shallow - From A Star Is Born Soundtrack")
    assert title.version.differs == ("from_media",)


def test_sped_up_is_its_own_version_kind() -> None:
    title = normalize_title("Bad Habit - Sped Up")
    assert title.display == "Bad Habit"
    assert title.version.differs == ("sped_up",)


def test_slowed_and_reverb_are_both_recorded() -> None:
    title = normalize_title("Snowfall (Slowed + Reverb)")
    assert title.version.differs == ("reverb", "slowed")
    assert title.version.label == "reverb+slowed"


def test_karaoke_version_is_karaoke() -> None:
    title = normalize_title("Someone Like You (Karaoke Version)")
    assert title.version.differs == ("karaoke",)


def test_in_the_style_of_is_karaoke() -> None:
    title = normalize_title("Rolling in the Deep (In the Style of Adele)")
    assert title.version.differs == ("karaoke",)


def test_radio_edit_is_an_edit() -> None:
    # spotify_tracks_sample_886.csv: "- Radio Edit"
    title = normalize_title("Wake Me Up - Radio Edit")
    assert title.display == "Wake Me Up"
    assert title.version.differs == ("edit",)


def test_extended_and_club_mix_differ_but_original_mix_is_same() -> None:
    assert normalize_title("Levels - Extended Mix").version.differs == ("edit",)
    assert normalize_title("Levels - Club Mix").version.differs == ("remix",)
    original = normalize_title("Levels - Original Mix")
    assert original.version.differs == () and original.version.same == ("original mix",)


def test_mono_and_explicit_are_same_recording() -> None:
    mono = normalize_title("Help! (Mono)")
    assert mono.version.same == ("mono",) and mono.version.differs == ()
    explicit = normalize_title("HUMBLE. (Explicit)")
    assert explicit.version.same == ("explicit",) and explicit.display == "HUMBLE."


def test_album_and_lp_version_are_same_recording() -> None:
    # msd_subset_unique_tracks.csv has "(LP Version)" and "(Album Version)" on many titles
    assert normalize_title("Jump (LP Version)").version.same == ("album version",)
    assert normalize_title("Jump (Album Version)").version.same == ("album version",)


def test_taylors_version_is_a_rerecording() -> None:
    # most_streamed_spotify_2024_isrc.csv: "(Taylor's Version)"
    title = normalize_title("Is It Over Now? (Taylor's Version) (From The Vault)")
    assert title.display == "Is It Over Now?"
    assert title.version.differs == ("rerecorded",)
    assert title.version.same == ("from the vault",)


def test_acoustic_and_language_versions_differ() -> None:
    assert normalize_title("Hold On - Acoustic").version.differs == ("acoustic",)
    assert normalize_title("Despacito - Spanish Version").version.differs == ("language",)


def test_title_words_in_parentheses_are_kept() -> None:
    title = normalize_title("(I Can't Get No) Satisfaction")
    assert title.display == "(I Can't Get No) Satisfaction"
    assert title.key == "i cant get no satisfaction"
    assert title.rules == ()


def test_live_word_inside_a_title_is_not_a_version() -> None:
    for text in ("Live and Let Die", "Fully Alive", "Track Title Live"):
        assert normalize_title(text).version.differs == ()


def test_same_key_and_differs_tell_recording_from_version() -> None:
    studio = normalize_title("Yesterday - Remastered 2009")
    plain = normalize_title("Yesterday")
    live = normalize_title("Yesterday (Live)")
    assert studio.key == plain.key == live.key
    assert studio.version.differs == plain.version.differs
    assert live.version.differs != plain.version.differs


@pytest.mark.parametrize(
    ("raw", "script_key", "key"),
    [
        # spotify_tracks_multilingual_2000.csv
        ("夜に駆ける", "夜に駆ける", "yeniqukeru"),
        ("사랑을 했다", "사랑을 했다", "salangeul haessda"),
        ("Кукушка", "кукушка", "kukushka"),
    ],
)
def test_non_latin_title_keeps_script_and_gets_ascii_key(
    raw: str, script_key: str, key: str
) -> None:
    title = normalize_title(raw)
    assert title.display == raw
    assert title.script_key == script_key
    assert title.key == key


def test_non_latin_title_with_version_tag_is_classified() -> None:
    title = normalize_title("Кукушка (Live)")
    assert title.display == "Кукушка"
    assert title.version.differs == ("live",)


def test_title_of_only_symbols_keeps_a_key() -> None:
    assert normalize_title("!!!").key == "!!!"
    assert normalize_title("?").key == "?"


def test_tag_only_title_falls_back_to_raw_text() -> None:
    assert normalize_title("(Official Video)").display == "(Official Video)"


def test_empty_title_gives_empty_key() -> None:
    title = normalize_title("")
    assert title.key == "" and title.display == ""


def test_fast_path_title_has_no_rules() -> None:
    title = normalize_title("Boulevard of Broken Dreams")
    assert title.display == "Boulevard of Broken Dreams"
    assert title.key == "boulevard of broken dreams"
    assert title.version.label == "" and title.rules == ()


# --------------------------------------------------------------------------------------------
# Artists
# --------------------------------------------------------------------------------------------


def test_spotify_semicolon_list_is_split_and_names_kept_atomic() -> None:
    # spotify_tracks_sample_886.csv: "Ozuna;Daddy Yankee;J Balvin;Farruko;Anuel AA"
    artists = normalize_artists("Ozuna;Daddy Yankee;J Balvin;Farruko;Anuel AA")
    assert artists.primary == ("ozuna", "daddy yankee", "j balvin", "farruko", "anuel aa")
    assert artists.key == "ozuna"
    assert "credits split on ';'" in artists.rules


def test_semicolon_list_does_not_split_comma_inside_a_name() -> None:
    artists = normalize_artists("Tyler, The Creator;Kali Uchis")
    assert artists.names == ("Tyler, The Creator", "Kali Uchis")


def test_billboard_featuring_credit_splits_primary_and_featured() -> None:
    # billboard_hot100_top40_1980_2021.csv
    artists = normalize_artists("Jason Derulo Featuring Nicki Minaj & Ty Dolla $ign")
    assert artists.primary == ("jason derulo",)
    assert artists.featured == ("nicki minaj", "ty dolla sign")
    assert artists.names == ("Jason Derulo", "Nicki Minaj", "Ty Dolla $ign")


def test_billboard_comma_and_ampersand_list_is_split() -> None:
    # billboard_hot100_top40_1980_2021.csv
    artists = normalize_artists("Megan Thee Stallion, Nicki Minaj & Ty Dolla $ign")
    assert artists.primary == ("megan thee stallion", "nicki minaj", "ty dolla sign")


def test_with_and_duet_with_are_featured_credits() -> None:
    # billboard_hot100_top40_1980_2021.csv
    assert normalize_artists("Coldplay With Jay-Z").featured == ("jay z",)
    assert normalize_artists("Jordin Sparks Duet With Chris Brown").featured == ("chris brown",)


@pytest.mark.parametrize(
    "name",
    [
        "Tyler, The Creator",  # most_streamed_spotify_2024_isrc.csv
        "Earth, Wind & Fire",  # billboard_hot100_top40_1980_2021.csv
        "Simon & Garfunkel",  # msd_subset_unique_tracks.csv
        "Crosby, Stills, Nash & Young",  # spotify_tracks_multilingual_2000.csv
        "Kool & the Gang",
        "Years & Years",  # spotify_playlists_21k.csv
        "Tegan and Sara",  # spotify_playlists_21k.csv
        "TOMORROW X TOGETHER",  # spotify_tracks_sample_886.csv
        "10,000 Maniacs",  # billboard_hot100_top40_1980_2021.csv
        "Sublime With Rome",
        "Bob Wills & His Texas Playboys",  # spotify_playlists_21k.csv
    ],
)
def test_names_with_separators_are_kept_whole(name: str) -> None:
    artists = normalize_artists(name)
    assert artists.names == (name,)
    assert artists.featured == ()


def test_known_name_inside_a_credit_list_is_kept_whole() -> None:
    artists = normalize_artists("Earth, Wind & Fire feat. The Emotions")
    assert artists.names == ("Earth, Wind & Fire", "The Emotions")
    assert artists.featured == ("emotions",)


def test_x_separator_splits_collaborations() -> None:
    # billboard_hot100_top40_1980_2021.csv
    artists = normalize_artists("NEIKED X Mae Muller X Polo G")
    assert artists.primary == ("neiked", "mae muller", "polo g")


def test_inverted_article_and_leading_article_give_one_key() -> None:
    assert normalize_artists("Beatles, The").key == "beatles"
    assert normalize_artists("The Beatles").key == "beatles"
    assert normalize_artists("Beatles").key == "beatles"
    assert normalize_artists("Beatles, The").names == ("The Beatles",)


def test_youtube_channel_suffixes_are_removed() -> None:
    assert normalize_artists("Adele - Topic").names == ("Adele",)
    assert normalize_artists("TaylorSwiftVEVO").key == "taylor swift"
    assert normalize_artists("Imagine Dragons Official").key == "imagine dragons"
    assert "channel suffix removed: - Topic" in normalize_artists("Adele - Topic").rules


def test_symbol_band_name_keeps_a_key() -> None:
    artists = normalize_artists("!!!")
    assert artists.key == "!!!"
    assert artists.names == ("!!!",)


def test_non_latin_artist_gets_ascii_key_and_keeps_display() -> None:
    # spotify_tracks_multilingual_2000.csv
    artists = normalize_artists("Кино")
    assert artists.names == ("Кино",)
    assert artists.key == "kino"


def test_sequence_input_is_taken_as_already_split() -> None:
    artists = normalize_artists(["Simon & Garfunkel", "Future feat. Tems"])
    assert artists.names == ("Simon & Garfunkel", "Future", "Tems")
    assert artists.primary == ("simon and garfunkel", "future")
    assert artists.featured == ("tems",)


def test_empty_credit_gives_empty_key() -> None:
    assert normalize_artists("") == Artists("", (), (), (), "", ())
    assert normalize_artists([]).key == ""


def test_duplicate_credits_are_listed_once() -> None:
    # msd_subset_unique_tracks.csv: "Naughty By Nature;Naughty By Nature featuring Zhane"
    artists = normalize_artists("Naughty By Nature;Naughty By Nature featuring Zhane")
    assert artists.primary == ("naughty by nature",)
    assert artists.featured == ("zhane",)


def test_split_credits_returns_display_names_in_order() -> None:
    assert split_credits("A$AP Rocky Featuring Drake, 2 Chainz & Kendrick Lamar") == [
        "A$AP Rocky",
        "Drake",
        "2 Chainz",
        "Kendrick Lamar",
    ]


# -- upload noise (normalizer 3) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        ("Sukiyaki (classic) 1981", "Sukiyaki (classic)"),
        ("Yes! We Have No Bananas, 1923", "Yes! We Have No Bananas"),
        ("Harlem Shuffle LP '67", "Harlem Shuffle"),
        ("Stars Fell On Alabama (1950)", "Stars Fell On Alabama"),
        ("Reach Out I'll Be There w/Lyrics", "Reach Out I'll Be There"),
        ("Reach Out I'll Be There (w/Lyrics)", "Reach Out I'll Be There"),
        ("Somebody Lyrics, Full Song", "Somebody"),
        ("Hallelujah on iTunes", "Hallelujah"),
        ("Pumped Up Kicks on Spotify & Apple", "Pumped Up Kicks"),
        ("La Paloma.flv", "La Paloma"),
        ("Alain Bouchet September in the Rain.mov", "Alain Bouchet September in the Rain"),
        ("Gone Gone Gone (Fabor 124)", "Gone Gone Gone"),
        (
            "Have Yourself A Merry Little Christmas (Arista Records 1994)",
            "Have Yourself A Merry Little Christmas",
        ),
        ("08 Lover Man (HQ)", "Lover Man"),
        ("#11 - For No One", "For No One"),
    ],
)
def test_upload_noise_around_a_title_is_removed_and_explained(raw: str, display: str) -> None:
    title = normalize_title(raw)
    assert title.display == display
    assert title.rules
    assert title.version.differs == ()


@pytest.mark.parametrize(
    "raw",
    [
        "Party Like It's 1999",
        "1999",
        "Summer of '69",
        "1. Allegro",
        "31 - 40",
        "Symphony No. 40",
        "Love Potion No. 9",
        "99 Luftballons",
    ],
)
def test_numbers_that_belong_to_the_title_are_kept(raw: str) -> None:
    assert normalize_title(raw).display == raw


def test_a_part_number_in_brackets_is_not_a_catalogue_number() -> None:
    assert normalize_title("Song (Vol 2)").display == "Song (Vol 2)"
    assert normalize_title("Track Title (Remaster 2009)").version.same == ("remaster 2009",)


# -- readings of a YouTube row ------------------------------------------------------------------


def readings_of(channel: str, title: str) -> list[tuple[str, str, str]]:
    from matcher.engine.readings import track_readings

    return [
        (r.name, r.side.artist_key, r.side.title_key)
        for r in track_readings(artists=channel, title=title)
    ]


@pytest.mark.parametrize(
    ("channel", "title", "name", "artist_key", "title_key"),
    [
        (
            "monelle",
            "Fred Neil - A Little Bit of Rain",
            "title_split",
            "fred neil",
            "a little bit of rain",
        ),
        (
            "MyJustified",
            "Jim Ed Brown-Have I Told You Lately That I Love You",
            "title_split",
            "jim ed brown",
            "have i told you lately that i love you",
        ),
        (
            "x",
            "Chris Montez- Love Is A Many Splendored Thing",
            "title_split",
            "chris montez",
            "love is a many splendored thing",
        ),
        ("x", "The Scientist - Aimee Mann", "title_split_reversed", "aimee mann", "the scientist"),
        ("cdbpdx", "THE GREEN DOOR by Jim Lowe 1956", "by", "jim lowe", "the green door"),
        (
            "Steve Acho",
            "Hallejulah (Acoustic) by Steve Acho on iTunes",
            "by",
            "steve acho",
            "hallejulah",
        ),
        (
            "Antônio Bocaiúva",
            "IN THE STILL OF THE NIGHT - JULIE LONDON E BUD SHANK QUINTET",
            "title_split_reversed",
            "julie london e bud shank quintet",
            "in the still of the night",
        ),
        (
            "x",
            "The Violet Burning - 9 - Eleanor Rigby - Strength (1992)",
            "title_split",
            "violet burning",
            "eleanor rigby",
        ),
        (
            "x",
            'Telly Savalas - "I Shall Be Released" (Bob Dylan cover)',
            "quoted",
            "telly savalas",
            "i shall be released",
        ),
        (
            "RUBEGRAY",
            '"Just A Closer Walk With Thee" by Brook Benton',
            "quoted",
            "brook benton",
            "just a closer walk with thee",
        ),
        (
            "Heath Wilson",
            "Lloyd Price   I Cried For You",
            "title_split",
            "lloyd price",
            "i cried for you",
        ),
        (
            "Scout4Me1",
            "JOAN BAEZ ~ Put Your Hand In The Hand ~",
            "title_split",
            "joan baez",
            "put your hand in the hand",
        ),
        ("coockiestv", "FATS DOMINO I'm Walking", "title_split", "fats domino", "im walking"),
        (
            "Matthew Fries",
            "Curtis Stigers: San Diego Serenade (Tom Waits)",
            "title_split",
            "curtis stigers",
            "san diego serenade tom waits",
        ),
        ("Cedric Bacon", "The Misfits--Astro Zombies", "title_split", "misfits", "astro zombies"),
        # Bracketed notes after the title (the original artist, the medium) are left out in
        # a second reading; the first keeps them for a catalog that writes them too.
        (
            "Matthew Fries",
            "Curtis Stigers: San Diego Serenade (Tom Waits)",
            "title_split_bare",
            "curtis stigers",
            "san diego serenade",
        ),
        (
            "Karamiehorse",
            "Rogue Wave - In Between Days (The Cure)",
            "title_split_bare",
            "rogue wave",
            "in between days",
        ),
        (
            "john sandiford",
            "Connie Smith ~ Four Walls (Vinyl)",
            "title_split_bare",
            "connie smith",
            "four walls",
        ),
        # " / " between artist and title.
        (
            "Urief Urief",
            "Kitty Margolis / We Kiss In A Shadow",
            "title_split",
            "kitty margolis",
            "we kiss in a shadow",
        ),
        ("hankgwe", "Jessi Colter / Hey Jude", "title_split", "jessi colter", "hey jude"),
        (
            "Oke She Moke She Pop",
            "The Marcels   A Sunday Kind Of Love 1961",
            "title_split",
            "marcels",
            "a sunday kind of love",
        ),
        # A year before a file's extension, and a circa year (since score-6).
        (
            "tikuanyinwui",
            "Cliff Richard - the girl can't help it 1970.wmv",
            "title_split",
            "cliff richard",
            "the girl cant help it",
        ),
        (
            "mrblindfreddy9999",
            "Jo Ann Campbell - I Remember You (c.1962).",
            "title_split",
            "jo ann campbell",
            "i remember you",
        ),
    ],
)
def test_a_youtube_title_gives_the_readings_it_supports(
    channel: str, title: str, name: str, artist_key: str, title_key: str
) -> None:
    readings = readings_of(channel, title)
    assert readings[0][0] == "credited"
    assert (name, artist_key, title_key) in readings
    assert len(readings) <= 3


def test_a_version_tag_in_brackets_is_never_left_out_of_a_reading() -> None:
    readings = readings_of("x", "Rogue Wave - In Between Days (Live)")
    assert "title_split_bare" not in [r[0] for r in readings]


def test_a_plain_title_and_a_credited_split_have_only_the_credited_reading() -> None:
    assert [r[0] for r in readings_of("Ruby Turner - Topic", "Wishing on a Star")] == ["credited"]
    assert [r[0] for r in readings_of("Adele", "Adele - Hello (Official Video)")] == ["credited"]
    assert [r[0] for r in readings_of("Jay-Z", "Spider-Man")] == ["credited"]


def test_the_cover_tag_of_a_reading_names_the_original_artist_not_the_performer() -> None:
    from matcher.engine.readings import track_readings

    (quoted,) = [
        r
        for r in track_readings(
            artists="x", title='Telly Savalas - "I Shall Be Released" (Bob Dylan cover)'
        )
        if r.name == "quoted"
    ]
    assert quoted.side.version == ""
    assert "bob dylan" not in quoted.side.artists
    assert any("Bob Dylan is the original artist" in rule for rule in quoted.prepared.rules)


@pytest.mark.parametrize(
    ("channel", "title", "performer", "song"),
    [
        # Real SHS100K rows: a cover upload that names its performer (since score-6).
        ("Corey Gray", "OneRepublic - Apologize (Cover by Corey Gray)", "corey gray", "apologize"),
        (
            "Kina Grannis",
            "See You Again - Wiz Khalifa ft. Charlie Puth (Kina Grannis Cover)",
            "kina grannis",
            "see you again",
        ),
        ("Anthem Lights", "Let It Go - Frozen | Anthem Lights Cover", "anthem lights", "let it go"),
        (
            "PomplamooseMusic",
            "Uptown Funk - Mark Ronson / Bruno Mars - Cover by Pomplamoose",
            "pomplamoose",
            "uptown funk",
        ),
    ],
)
def test_a_cover_that_names_its_performer_is_read_as_the_performers_recording(
    channel: str, title: str, performer: str, song: str
) -> None:
    from matcher.engine.readings import track_readings

    read = {
        (r.side.artist_key, r.side.title_key): r
        for r in track_readings(artists=channel, title=title)
        if r.name == "cover_performer"
    }
    assert (performer, song) in read
    assert read[(performer, song)].side.version == ""  # the performer's own recording


def test_a_cover_tag_naming_another_artist_than_the_channel_gives_no_performer_reading() -> None:
    from matcher.engine.readings import track_readings

    # Real SHS100K row: `(Bob Dylan cover)` names the original artist, the performer is Telly
    # Savalas; and a bare tag names nobody.
    for channel, title in (
        ("Telly Savalas Fan", 'Telly Savalas - "I Shall Be Released" (Bob Dylan cover)'),
        ("Daniela Andrade", "Rihanna x Mikky Ekko - Stay (Cover) by Daniela Andrade"),
    ):
        names = [r.name for r in track_readings(artists=channel, title=title)]
        assert "cover_performer" not in names


def test_a_performers_acoustic_cover_stays_an_acoustic_version() -> None:
    from matcher.engine.readings import track_readings

    # Real SHS100K row: the catalog's `Savannah Outen / Hallelujah` is not told it is exact.
    title = "Hallelujah - Jeff Buckley (Savannah Outen Acoustic Cover) (ft. Jake Coco)"
    read = [
        r.side
        for r in track_readings(artists="Savannah Outen", title=title)
        if r.name == "cover_performer" and r.side.title_key == "hallelujah"
    ]
    assert read and read[0].version == "acoustic"
