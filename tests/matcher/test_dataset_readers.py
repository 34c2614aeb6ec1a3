"""Native dataset readers: counts, identifiers, provenance and reported problems."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matcher.datasets import fma, generic_csv, laion_disco, sleeping_disco, spotify_tracks
from matcher.datasets.base import DatasetFormatError, ImportProblem, TrackRecord
from matcher.datasets.registry import FORMATS, KNOWN_DATASETS

DATA = Path(__file__).resolve().parent.parent / "data" / "datasets"


def split(output: Any) -> tuple[list[TrackRecord], list[ImportProblem]]:
    items = list(output)
    records = [item for item in items if isinstance(item, TrackRecord)]
    problems = [item for item in items if isinstance(item, ImportProblem)]
    assert len(records) + len(problems) == len(items)
    return records, problems


# -- generic CSV ------------------------------------------------------------------------------


def test_generic_csv_reads_tracks_and_lists_rows_missing_required_fields() -> None:
    records, problems = split(generic_csv.read([DATA / "generic_tracks.csv"]))
    assert [record.track_id for record in records] == ["g1", "g2", "g3", "g6", "g7"]
    missing = {(p.source_row, p.reason) for p in problems if p.reason.startswith("missing")}
    assert missing == {(5, "missing artist"), (6, "missing title")}
    assert all(p.source_file == "generic_tracks.csv" for p in problems)


def test_generic_csv_row_is_cited_by_the_line_it_starts_on() -> None:
    records, _ = split(generic_csv.read([DATA / "generic_tracks.csv"]))
    rows = {record.track_id: record.source_row for record in records}
    # g6 has a quoted URL cell spanning lines 7-8; line 9 is blank
    assert rows == {"g1": 2, "g2": 3, "g3": 4, "g6": 7, "g7": 10}


def test_generic_csv_normalizes_isrc_and_collects_url_identifiers() -> None:
    records, _ = split(generic_csv.read([DATA / "generic_tracks.csv"]))
    by_id = {record.track_id: record for record in records}
    assert by_id["g1"].isrc == "GBAYE6500053"
    assert by_id["g1"].identifiers == [("isrc", "GBAYE6500053"), ("youtube", "NrgmdOz227I")]
    assert by_id["g2"].artists == ["Daft Punk", "Pharrell Williams"]
    assert by_id["g2"].identifiers == [("spotify", "69kOkLUCkxIZYexIgSG8rq")]
    assert by_id["g6"].artists == ["Crosby, Stills & Nash"]
    assert ("genius_url", "genius.com/crosby-stills-and-nash-suite-judy-blue-eyes-lyrics") in (
        by_id["g6"].identifiers
    )
    assert ("youtube", "dQw4w9WgXcQ") in by_id["g6"].identifiers
    assert by_id["g3"].title == "残響散歌"
    assert by_id["g1"].duration_s == 125.5


def test_generic_csv_keeps_track_with_bad_duration_or_isrc_and_says_so() -> None:
    records, problems = split(generic_csv.read([DATA / "generic_tracks.csv"]))
    by_id = {record.track_id: record for record in records}
    assert by_id["g6"].duration_s is None
    assert by_id["g7"].isrc == ""
    kept = {(p.source_row, p.reason.split()[0]) for p in problems if "track kept" in p.reason}
    assert kept == {(7, "duration_s"), (10, "isrc")}


def test_generic_csv_without_title_column_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"wrong\.csv.*track_id, artist, title"):
        list(generic_csv.read([path]))


def test_generic_csv_that_is_not_utf8_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("track_id,artist,title\n1,Beyonc\u00e9,Halo\n".encode("latin-1"))
    with pytest.raises(DatasetFormatError, match=r"latin1\.csv.*UTF-8"):
        list(generic_csv.read([path]))


# -- Spotify Tracks Dataset -------------------------------------------------------------------


def test_spotify_real_sample_gives_one_track_per_row_with_spotify_identifier() -> None:
    records, problems = split(spotify_tracks.read([DATA / "spotify_tracks_sample_886.csv"]))
    assert len(records) == 886
    assert problems == []
    first = records[0]
    assert first.track_id == "5vjLSffimiIP26QG5WcN2K"
    assert first.artists == ["Chord Overstreet"]
    assert first.title == "Hold On"
    assert first.duration_s == pytest.approx(198.853)
    assert first.url == "https://open.spotify.com/track/5vjLSffimiIP26QG5WcN2K"
    assert first.identifiers == [("spotify", "5vjLSffimiIP26QG5WcN2K")]
    assert first.extra == {"genres": ["acoustic"], "explicit": False, "popularity": 82}
    assert (first.source_file, first.source_row) == ("spotify_tracks_sample_886.csv", 2)
    assert records[-1].source_row == 887
    assert any(r.artists == ["Sam Tinnesz", "Yacht Money"] for r in records)


def test_spotify_track_listed_under_several_genres_is_one_track_with_all_genres(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dataset.csv"
    shutil.copy(DATA / "spotify_tracks_sample_886.csv", path)
    with open(DATA / "spotify_tracks_sample_886.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    hold_on, mraz = rows[1], rows[2]
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*hold_on[:-1], "pop"])
        writer.writerow([*mraz[:-1], "folk"])
        writer.writerow([*hold_on[:-1], "singer-songwriter"])
        writer.writerow([*hold_on[:-1], "pop"])
    records, problems = split(spotify_tracks.read([path]))
    assert problems == []
    assert len(records) == 886
    by_id = {record.track_id: record for record in records}
    assert by_id[hold_on[1]].extra["genres"] == ["acoustic", "pop", "singer-songwriter"]
    assert by_id[hold_on[1]].source_row == 2  # the first occurrence is the provenance
    assert by_id[mraz[1]].extra["genres"] == ["acoustic", "folk"]


def test_spotify_original_layout_with_empty_index_header_and_missing_artist(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dataset.csv"
    path.write_text(
        ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,track_genre\n"
        "0,5SuOikwiRyPMVoIQDJUgSV,Gen Hoshino,Comedy,Comedy,73,230666,False,acoustic\n"
        "1,1kR4gIb7nGxHPI3D2ifs59,,,,0,0,False,k-pop\n"
        "2,4qPNDBW1i3p13qLCt0Ki3A,Ben Woodward,Ghost (Acoustic),Ghost - Acoustic,55,1x,False,"
        "acoustic\n",
        encoding="utf-8",
    )
    records, problems = split(spotify_tracks.read([path]))
    assert [r.track_id for r in records] == ["5SuOikwiRyPMVoIQDJUgSV", "4qPNDBW1i3p13qLCt0Ki3A"]
    assert records[0].extra["explicit"] is False
    assert records[1].duration_s is None
    assert [(p.source_row, p.reason) for p in problems] == [
        (3, "missing artists, track_name"),
        (4, "duration_ms '1x' is not a number; track kept without it"),
    ]


# -- Free Music Archive -----------------------------------------------------------------------


def test_fma_tracks_csv_with_three_header_lines_is_read() -> None:
    records, problems = split(fma.read([DATA / "fma_tracks_head5.csv"]))
    assert problems == []
    assert [r.track_id for r in records] == ["2", "3", "5", "10", "20"]
    food = records[0]
    assert (food.artists, food.title, food.album) == (["AWOL"], "Food", "AWOL - A Way Of Life")
    assert food.duration_s == 168
    assert food.identifiers == [("fma", "2")]
    assert food.extra["licence"].startswith("Attribution-NonCommercial-ShareAlike 3.0")
    assert food.extra["genre_top"] == "Hip-Hop"
    assert [r.source_row for r in records] == [4, 5, 6, 7, 8]  # data starts after 3 headers
    assert records[3].artists == ["Kurt Vile"]


def test_fma_raw_tracks_csv_is_read_with_url_identifier() -> None:
    records, problems = split(fma.read([DATA / "fma_raw_tracks_head5.csv"]))
    assert problems == []
    assert [r.track_id for r in records] == ["2", "3", "5", "10", "20"]
    food = records[0]
    assert (food.artists, food.title, food.album) == (["AWOL"], "Food", "AWOL - A Way Of Life")
    assert food.url.startswith("http://freemusicarchive.org/music/AWOL/")
    assert food.identifiers[0] == ("fma", "2")
    assert food.identifiers[1][0] == "fma_url"
    assert food.identifiers[1][1].startswith("freemusicarchive.org/music/awol/")
    assert food.extra["album_id"] == "1"  # "1.0" as pandas wrote it
    assert food.source_row == 2


def test_fma_raw_tracks_duration_is_read_from_minutes_and_seconds(tmp_path: Path) -> None:
    path = tmp_path / "raw_tracks.csv"
    path.write_text(
        "track_id,artist_name,track_title,album_title,track_duration,track_url,license_title\n"
        "2,AWOL,Food,AWOL - A Way Of Life,02:48,http://freemusicarchive.org/music/AWOL/x/Food,"
        "CC BY\n"
        "3,AWOL,Electric Ave,,3m57,,\n"
        "4,AWOL,,,01:00,,\n",
        encoding="utf-8",
    )
    records, problems = split(fma.read([path]))
    assert [(r.track_id, r.duration_s) for r in records] == [("2", 168), ("3", None)]
    assert records[0].extra["licence"] == "CC BY"
    assert [(p.source_row, p.reason) for p in problems] == [
        (3, "track_duration '3m57' is not mm:ss; track kept without it"),
        (4, "missing title"),
    ]


def test_fma_file_of_another_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "genres.csv"
    shutil.copy(DATA / "generic_tracks.csv", path)
    with pytest.raises(DatasetFormatError, match=r"genres\.csv: not an FMA metadata file"):
        list(fma.read([path]))


# -- LAION-DISCO-12M --------------------------------------------------------------------------

LAION_SCHEMA = pa.schema(
    [
        ("song_id", pa.string()),
        ("title", pa.string()),
        ("artist_names", pa.list_(pa.string())),
        ("artist_ids", pa.list_(pa.string())),
        ("album_name", pa.string()),
        ("album_id", pa.string()),
        ("isExplicit", pa.bool_()),
        ("views", pa.string()),
        ("duration", pa.int64()),
    ]
)
LAION_ROWS = [
    {
        "song_id": "NrgmdOz227I",
        "title": "Yesterday (Remastered 2009)",
        "artist_names": ["The Beatles"],
        "artist_ids": ["UCc4K7bAqpdBP8jh1j9XZAww"],
        "album_name": "Help! (Remastered)",
        "album_id": "MPREb_7gJwV0zT5fE",
        "isExplicit": False,
        "views": "10K plays",
        "duration": 126,
    },
    {
        "song_id": "5NV6Rdv1a3I",
        "title": "Daft Punk - Get Lucky (Official Audio) ft. Pharrell Williams, Nile Rodgers",
        "artist_names": ["Daft Punk", "Pharrell Williams"],
        "artist_ids": ["UC_kRDKYrUlrbtrSiyu5Tflg", "UCsKpQZX8bSZjJuK1Jj0r4Zg"],
        "album_name": None,
        "album_id": None,
        "isExplicit": True,
        "views": "1.2B plays",
        "duration": 248,
    },
    {
        "song_id": "abcdefghijk",
        "title": None,
        "artist_names": ["Nobody"],
        "artist_ids": ["UCaaaaaaaaaaaaaaaaaaaaaa"],
        "album_name": None,
        "album_id": None,
        "isExplicit": False,
        "views": "3 plays",
        "duration": 60,
    },
    {
        "song_id": "Zl0Yj0Tx4nA",
        "title": "残響散歌",
        "artist_names": ["Aimer"],
        "artist_ids": [],
        "album_name": "残響散歌/朝が来る",
        "album_id": "MPREb_x",
        "isExplicit": False,
        "views": "25M plays",
        "duration": 185,
    },
]


def write_laion(path: Path, rows: list[dict[str, Any]], row_group_size: int = 2) -> Path:
    table = pa.Table.from_pylist(rows, schema=LAION_SCHEMA)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_laion_parquet_rows_become_tracks_with_youtube_identifiers(tmp_path: Path) -> None:
    path = write_laion(tmp_path / "train-00000-of-00005.parquet", LAION_ROWS)
    records, problems = split(laion_disco.read([path]))
    assert [r.track_id for r in records] == ["NrgmdOz227I", "5NV6Rdv1a3I", "Zl0Yj0Tx4nA"]
    lucky = records[1]
    assert lucky.artists == ["Daft Punk", "Pharrell Williams"]
    assert lucky.url == "https://music.youtube.com/watch?v=5NV6Rdv1a3I"
    assert lucky.identifiers == [
        ("youtube", "5NV6Rdv1a3I"),
        ("youtube_channel", "UC_kRDKYrUlrbtrSiyu5Tflg"),
        ("youtube_channel", "UCsKpQZX8bSZjJuK1Jj0r4Zg"),
    ]
    assert lucky.extra == {"views": "1.2B plays", "explicit": True}
    assert lucky.duration_s == 248
    assert lucky.album == ""
    assert records[2].title == "残響散歌"
    assert [(r.source_file, r.source_row) for r in records] == [
        ("train-00000-of-00005.parquet", 1),
        ("train-00000-of-00005.parquet", 2),
        ("train-00000-of-00005.parquet", 4),
    ]
    assert [(p.source_row, p.reason) for p in problems] == [(3, "missing title")]


def test_laion_rows_are_numbered_within_each_file(tmp_path: Path) -> None:
    first = write_laion(tmp_path / "train-00000-of-00002.parquet", LAION_ROWS[:2])
    second = write_laion(tmp_path / "train-00001-of-00002.parquet", LAION_ROWS[3:])
    records, _ = split(laion_disco.read([first, second]))
    assert [(r.source_file, r.source_row) for r in records] == [
        ("train-00000-of-00002.parquet", 1),
        ("train-00000-of-00002.parquet", 2),
        ("train-00001-of-00002.parquet", 1),
    ]


def test_broken_parquet_file_is_refused_with_its_name(tmp_path: Path) -> None:
    good = write_laion(tmp_path / "good.parquet", LAION_ROWS)
    broken = tmp_path / "train-00003-of-00005.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match=r"train-00003-of-00005\.parquet"):
        list(laion_disco.read([broken]))


def test_parquet_with_damaged_data_pages_is_refused_with_its_name(tmp_path: Path) -> None:
    good = write_laion(tmp_path / "good.parquet", LAION_ROWS * 50)
    data = bytearray(good.read_bytes())
    for offset in range(8, len(data) // 2):  # scribble over the column chunks, keep the footer
        data[offset] = 0xFF
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match=r"damaged\.parquet"):
        list(laion_disco.read([damaged]))


def test_parquet_without_song_id_is_not_taken_for_laion(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"title": ["x"]}), path)
    with pytest.raises(DatasetFormatError, match=r"other\.parquet: has no song_id column"):
        list(laion_disco.read([path]))


# -- Sleeping-DISCO-9M ------------------------------------------------------------------------

SLEEPING_ROWS: list[dict[str, Any]] = [
    {
        "song_id": 378195,
        "title": "Yesterday",
        "song_url": "https://genius.com/The-beatles-yesterday-lyrics",
        "primary_artist": "The Beatles",
        "featured_artists": [],
        "album_name": "Help!",
        "album_release_date": "1965-08-06",
        "language": "en",
        "youtube_links": ["https://www.youtube.com/watch?v=NrgmdOz227I"],
        "tags": ["Rock", "Pop"],
        "lyrics": "Yesterday, all my troubles seemed so far away",
    },
    {
        "song_id": 3059183,
        "title": "Get Lucky",
        "song_url": "https://genius.com/Daft-punk-get-lucky-lyrics",
        "primary_artist": "Daft Punk",
        "featured_artists": ["Pharrell Williams", "Nile Rodgers"],
        "album_name": "Random Access Memories",
        "album_release_date": "2013-05-17",
        "language": "en",
        "youtube_links": ["https://youtu.be/5NV6Rdv1a3I", "https://youtu.be/5NV6Rdv1a3I", "x"],
        "tags": [],
        "lyrics": "Like the legend of the phoenix",
    },
]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    text = "".join(line + "\n" for line in lines)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def sleeping_lines() -> list[str]:
    return [
        json.dumps(SLEEPING_ROWS[0]),
        '{"song_id": 42, "title": "Broken", ',
        "",
        json.dumps({"song_id": 7, "title": "No artist", "primary_artist": ""}),
        json.dumps(SLEEPING_ROWS[1], ensure_ascii=False),
        "[1, 2]",
    ]


@pytest.mark.parametrize("file_name", ["a.jsonl", "d.jsonl.gz"])
def test_sleeping_disco_lines_become_tracks_and_bad_lines_are_listed(
    tmp_path: Path, file_name: str
) -> None:
    path = write_jsonl(tmp_path / file_name, sleeping_lines())
    records, problems = split(sleeping_disco.read([path]))
    assert [(r.track_id, r.source_file, r.source_row) for r in records] == [
        ("378195", file_name, 1),
        ("3059183", file_name, 5),
    ]
    assert [(p.source_row, p.reason.split(" (")[0]) for p in problems] == [
        (2, "not valid JSON"),
        (4, "missing primary_artist"),
        (6, "not a JSON object"),
    ]
    lucky = records[1]
    assert lucky.artists == ["Daft Punk", "Pharrell Williams", "Nile Rodgers"]
    assert lucky.identifiers == [
        ("genius", "3059183"),
        ("genius_url", "genius.com/daft-punk-get-lucky-lyrics"),
        ("youtube", "5NV6Rdv1a3I"),
    ]
    assert lucky.url == "https://genius.com/Daft-punk-get-lucky-lyrics"
    assert lucky.extra == {"album_release_date": "2013-05-17", "language": "en"}
    assert records[0].extra["tags"] == ["Rock", "Pop"]


def test_sleeping_disco_does_not_keep_lyrics(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "y.jsonl", [json.dumps(SLEEPING_ROWS[0])])
    (record,) = list(sleeping_disco.read([path]))
    assert isinstance(record, TrackRecord)
    assert "troubles" not in repr(record)


def test_truncated_gzip_is_refused_with_the_file_name(tmp_path: Path) -> None:
    whole = write_jsonl(tmp_path / "whole.jsonl.gz", [json.dumps(SLEEPING_ROWS[0])] * 200)
    cut = tmp_path / "b.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[:-40])
    with pytest.raises(DatasetFormatError, match=r"b\.jsonl\.gz"):
        list(sleeping_disco.read([cut]))


def sleeping_line(**fields: Any) -> str:
    row = {k: v for k, v in SLEEPING_ROWS[0].items() if k != "title"}
    row.update(fields)
    return json.dumps({k: v for k, v in row.items() if v is not None})


def test_a_sleeping_disco_line_without_a_title_field_takes_its_title_from_the_genius_url(
    tmp_path: Path,
) -> None:
    lines = [
        sleeping_line(
            song_id=1,
            primary_artist="Hozier",
            song_url="https://genius.com/Hozier-take-me-to-church-lyrics",
        ),
        sleeping_line(
            song_id=2,
            primary_artist="Guns N' Roses",
            song_url="https://genius.com/Guns-n-roses-sweet-child-o-mine-lyrics",
        ),
        sleeping_line(
            song_id=3,
            primary_artist="Beyoncé",
            song_url="https://genius.com/Beyonce-drunk-in-love-lyrics",
        ),
        sleeping_line(
            song_id=4,
            primary_artist="Kendrick Lamar & SZA",
            song_url="https://genius.com/Kendrick-lamar-and-sza-all-the-stars-lyrics",
        ),
    ]
    path = write_jsonl(tmp_path / "h.jsonl", lines)
    records, problems = split(sleeping_disco.read([path]))
    assert problems == []
    assert [(r.track_id, r.title) for r in records] == [
        ("1", "Take me to church"),
        ("2", "Sweet child o mine"),
        ("3", "Drunk in love"),
        ("4", "All the stars"),
    ]
    assert records[0].extra["title_from"] == "song_url"
    assert ("genius_url", "genius.com/hozier-take-me-to-church-lyrics") in records[0].identifiers


def test_a_sleeping_disco_title_field_wins_over_the_url(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            sleeping_line(
                full_title="Take Me to Church by Hozier",
                song_id=5,
                primary_artist="Hozier",
                song_url="https://genius.com/Hozier-take-me-to-church-lyrics",
            ),
            json.dumps(SLEEPING_ROWS[0]),
        ],
    )
    records, problems = split(sleeping_disco.read([path]))
    assert problems == []
    assert [r.title for r in records] == ["Take Me to Church by Hozier", "Yesterday"]
    assert all("title_from" not in r.extra for r in records)


def test_only_a_sleeping_disco_line_with_no_title_anywhere_is_rejected(tmp_path: Path) -> None:
    lines = [
        sleeping_line(song_id=6, song_url=None),  # no title field and no URL
        sleeping_line(song_id=7, song_url="https://genius.com/Someone-else-yesterday-lyrics"),
        sleeping_line(song_id=8, song_url="https://genius.com/The-beatles-lyrics"),
        sleeping_line(song_id=9, song_url="https://example.com/The-beatles-yesterday-lyrics"),
        sleeping_line(song_id=10, song_url="https://genius.com/The-beatles-yesterday-lyrics"),
    ]
    path = write_jsonl(tmp_path / "n.jsonl", lines)
    records, problems = split(sleeping_disco.read([path]))
    assert [(r.track_id, r.title) for r in records] == [("10", "Yesterday")]
    assert [p.source_row for p in problems] == [1, 2, 3, 4]
    assert all(p.reason.startswith("missing title (no title field") for p in problems)


# -- registry ---------------------------------------------------------------------------------


def test_every_known_dataset_has_a_reader_and_the_published_row_count() -> None:
    assert set(FORMATS) == {*KNOWN_DATASETS, "generic-csv"}
    counts = {slug: info.expected_rows for slug, info in KNOWN_DATASETS.items()}
    assert counts == {
        "laion-disco-12m": 12_320_916,
        "sleeping-disco-9m": 9_713_413,
        "free-music-archive": 106_574,
        "spotify-tracks-dataset": 114_000,
    }
    for info in KNOWN_DATASETS.values():
        assert info.default_format in FORMATS
        assert info.source_url.startswith("https://")
        assert info.description.count(".") >= 2
