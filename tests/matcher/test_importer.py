"""Dataset import into the database: every format, both write paths, versions, bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from matcher.datasets.importer import DatasetImportError, dataset_import
from matcher.models import Dataset, DatasetTrack, DatasetVersion, TrackIdentifier

DATA = Path(__file__).resolve().parent.parent / "data" / "datasets"
REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db

# Every way of writing rows: COPY in this process, COPY fed by two worker processes with the
# indexes dropped and rebuilt around the load, and the ORM bulk inserts SQLite uses.
PATHS: dict[str, dict[str, Any]] = {
    "copy": {"use_copy": True, "workers": 1, "rebuild_indexes": False},
    "copy-workers-rebuild": {"use_copy": True, "workers": 2, "rebuild_indexes": True},
    "orm": {"use_copy": False},
}


@pytest.fixture(params=sorted(PATHS))
def write_path(request: pytest.FixtureRequest) -> dict[str, Any]:
    options = PATHS[request.param]
    if options.get("use_copy") and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    return options


def tracks_of(slug: str) -> dict[str, DatasetTrack]:
    version = Dataset.objects.get(slug=slug).current_version
    return {t.track_id: t for t in DatasetTrack.objects.filter(version=version)}


def identifiers_of(track: DatasetTrack) -> set[tuple[str, str]]:
    return set(TrackIdentifier.objects.filter(track=track).values_list("kind", "value"))


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


def laion_row(song_id: str | None, title: str | None, artists: list[str], **kw: Any) -> dict:
    return {
        "song_id": song_id,
        "title": title,
        "artist_names": artists,
        "artist_ids": [f"UC{'x' * 20}{i:02d}" for i, _ in enumerate(artists)],
        "album_name": kw.get("album", ""),
        "album_id": kw.get("album_id", "MPREb_abc"),
        "isExplicit": kw.get("explicit", False),
        "views": kw.get("views", "10K plays"),
        "duration": kw.get("duration", 200),
    }


def write_laion(path: Path, rows: list[dict], row_group_size: int = 3) -> Path:
    table = pa.Table.from_pylist(rows, schema=LAION_SCHEMA)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def laion_files(tmp_path: Path) -> list[Path]:
    first = [
        laion_row("dQw4w9WgXcQ", "Never Gonna Give You Up", ["Rick Astley"], duration=213),
        laion_row("9bZkp7q19f0", "PSY - GANGNAM STYLE (강남스타일) M/V", ["PSY"]),
        laion_row("kJQP7kiw5Fk", "Despacito ft. Daddy Yankee", ["Luis Fonsi", "Daddy Yankee"]),
        laion_row("abcdefghijk", None, ["Nobody"]),  # no title: rejected
        laion_row("", "No Id", ["Nobody"]),  # no song_id: rejected
        laion_row("dQw4w9WgXcQ", "Never Gonna Give You Up (Live)", ["Rick Astley"]),  # repeat
        laion_row("OPf0YbXqDm0", "Uptown Funk\tTab\\Slash\nNewline", ["Mark Ronson"]),
    ]
    second = [
        laion_row("fJ9rUzIMcZQ", "Bohemian Rhapsody", ["Queen"], album="A Night at the Opera"),
        laion_row("kJQP7kiw5Fk", "Despacito (again, in the second file)", ["Luis Fonsi"]),
    ]
    return [
        write_laion(tmp_path / "train-00000-of-00002.parquet", first),
        write_laion(tmp_path / "train-00001-of-00002.parquet", second),
    ]


def test_generic_csv_imports_tracks_identifiers_provenance_and_problems(write_path):
    summary = dataset_import(
        slug="demo-generic",
        paths=[DATA / "generic_tracks.csv"],
        file_format="generic-csv",
        **write_path,
    )
    assert summary.created and summary.rows == 5
    assert (summary.rejected_count, summary.warning_count) == (2, 2)
    listed = {(p["file"], p["row"], p["kept"]) for p in summary.problems}
    assert listed == {
        ("generic_tracks.csv", 5, False),
        ("generic_tracks.csv", 6, False),
        ("generic_tracks.csv", 7, True),
        ("generic_tracks.csv", 10, True),
    }
    assert any("missing artist" in p["reason"] for p in summary.problems)
    tracks = tracks_of("demo-generic")
    assert sorted(tracks) == ["g1", "g2", "g3", "g6", "g7"]
    g1 = tracks["g1"]
    assert (g1.source_file, g1.source_row) == ("generic_tracks.csv", 2)
    assert g1.isrc == "GBAYE6500053" and g1.duration_s == 125.5
    assert g1.artist_key and g1.title_key
    assert identifiers_of(g1) == {("isrc", "GBAYE6500053"), ("youtube", "NrgmdOz227I")}
    assert ("spotify", "69kOkLUCkxIZYexIgSG8rq") in identifiers_of(tracks["g2"])
    assert tracks["g3"].title == "残響散歌"
    # a quoted field spanning two lines survives COPY escaping intact
    assert tracks["g6"].url.endswith("lyrics\nsee also https://youtu.be/dQw4w9WgXcQ")
    assert tracks["g6"].duration_s is None
    assert tracks["g7"].isrc == "" and tracks["g7"].source_row == 10
    version = DatasetVersion.objects.get(dataset__slug="demo-generic")
    assert version.status == DatasetVersion.Status.READY
    assert (version.row_count, version.problem_count) == (5, 4)
    assert version.files[0]["name"] == "generic_tracks.csv"


def test_summary_lines_tell_rejected_lines_from_kept_ones():
    summary = dataset_import(
        slug="demo-generic", paths=[DATA / "generic_tracks.csv"], file_format="generic-csv"
    )
    text = "\n".join(summary.lines())
    assert "2 lines rejected (not imported)" in text
    assert "2 lines imported with a warning" in text
    assert "generic_tracks.csv, line 5 (rejected): missing artist" in text
    assert "generic_tracks.csv, line 10 (kept): isrc 'ZZ123'" in text


def test_laion_parquet_imports_with_identifiers_and_row_numbers_across_row_groups(
    write_path, tmp_path
):
    summary = dataset_import(
        slug="laion-disco-12m",
        paths=laion_files(tmp_path),
        file_format="laion-disco-12m",
        **write_path,
    )
    assert summary.workers == write_path.get("workers", 1)
    # 9 rows: 2 rejected, 2 repeats of an id already seen -> 5 tracks
    assert (summary.rows, summary.rejected_count, summary.duplicate_count) == (5, 2, 2)
    tracks = tracks_of("laion-disco-12m")
    assert sorted(tracks) == [
        "9bZkp7q19f0",
        "OPf0YbXqDm0",
        "dQw4w9WgXcQ",
        "fJ9rUzIMcZQ",
        "kJQP7kiw5Fk",
    ]
    # the first occurrence (file order, then row) is kept, not the later repeat
    assert tracks["dQw4w9WgXcQ"].title == "Never Gonna Give You Up"
    assert tracks["kJQP7kiw5Fk"].source_file == "train-00000-of-00002.parquet"
    assert tracks["kJQP7kiw5Fk"].artist == "Luis Fonsi; Daddy Yankee"
    # row 7 sits in the third row group of three rows: numbering runs across groups
    assert tracks["OPf0YbXqDm0"].source_row == 7
    assert tracks["OPf0YbXqDm0"].title == "Uptown Funk\tTab\\Slash\nNewline"
    bohemian = tracks["fJ9rUzIMcZQ"]
    assert (bohemian.source_file, bohemian.source_row) == ("train-00001-of-00002.parquet", 1)
    assert bohemian.album == "A Night at the Opera"
    assert bohemian.extra == {"views": "10K plays", "explicit": False, "album_id": "MPREb_abc"}
    assert bohemian.url == "https://music.youtube.com/watch?v=fJ9rUzIMcZQ"
    assert identifiers_of(tracks["kJQP7kiw5Fk"]) == {
        ("youtube", "kJQP7kiw5Fk"),
        ("youtube_channel", "UC" + "x" * 20 + "00"),
        ("youtube_channel", "UC" + "x" * 20 + "01"),
    }
    # the repeats' identifiers went with them
    version = Dataset.objects.get(slug="laion-disco-12m").current_version
    assert TrackIdentifier.objects.filter(version=version, kind="youtube").count() == 5
    assert {(p["row"], p["reason"]) for p in summary.problems} == {
        (4, "missing title"),
        (5, "missing song_id"),
    }


def test_sleeping_disco_jsonl_plain_and_gzipped_with_malformed_lines(write_path, tmp_path):
    good = {
        "song_id": 378195,
        "song_url": "https://genius.com/Kendrick-lamar-humble-lyrics",
        "title": "HUMBLE.",
        "primary_artist": "Kendrick Lamar",
        "featured_artists": [],
        "album_name": "DAMN.",
        "album_release_date": "2017-04-14",
        "language": "en",
        "youtube_links": ["https://www.youtube.com/watch?v=tvTRZJ-4EyI"],
        "tags": ["Rap"],
        "lyrics": "[Intro] ...",
    }
    featured = {
        **good,
        "song_id": 2,
        "title": "Stay With Me",
        "primary_artist": "Sam Smith",
        "featured_artists": ["Mary J. Blige"],
        "song_url": "https://genius.com/Sam-smith-stay-with-me-lyrics",
        "youtube_links": [],
    }
    plain = tmp_path / "k.jsonl"
    plain.write_text(
        json.dumps(good)
        + "\n{not json\n"
        # no title field and no Genius URL to read one from: rejected
        + json.dumps({**good, "song_id": 9, "title": "", "song_url": ""})
        + "\n"
    )
    zipped = tmp_path / "s.jsonl.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as fh:
        fh.write("\n" + json.dumps(featured) + "\n[1, 2]\n")
    summary = dataset_import(
        slug="sleeping-disco-9m",
        paths=[plain, zipped],
        file_format="sleeping-disco-9m",
        **write_path,
    )
    assert (summary.rows, summary.rejected_count, summary.warning_count) == (2, 3, 0)
    assert {(p["file"], p["row"]) for p in summary.problems} == {
        ("k.jsonl", 2),
        ("k.jsonl", 3),
        ("s.jsonl.gz", 3),
    }
    tracks = tracks_of("sleeping-disco-9m")
    humble = tracks["378195"]
    assert (humble.source_file, humble.source_row) == ("k.jsonl", 1)
    assert "lyrics" not in humble.extra and humble.extra["language"] == "en"
    assert identifiers_of(humble) == {
        ("genius", "378195"),
        ("genius_url", "genius.com/kendrick-lamar-humble-lyrics"),
        ("youtube", "tvTRZJ-4EyI"),
    }
    assert tracks["2"].artist == "Sam Smith; Mary J. Blige"
    assert tracks["2"].source_row == 2


def test_lone_surrogate_escapes_in_json_are_replaced_and_listed_not_fatal(write_path, tmp_path):
    """JSON allows "\\ud800" alone; no text encoding (nor PostgreSQL) can store it."""
    path = tmp_path / "u.jsonl"
    path.write_text(
        '{"song_id": 1, "title": "Bad \\ud800 Title", "primary_artist": "Mo \\uDFFF"}\n'
        '{"song_id": 2, "title": "Smile \\ud83d\\ude00", "primary_artist": "Pair"}\n'
        '{"song_id": 3, "title": "", "primary_artist": "Lone \\ud800"}\n',
        encoding="ascii",
    )
    summary = dataset_import(
        slug="sleeping-disco-9m", paths=[path], file_format="sleeping-disco-9m", **write_path
    )
    assert (summary.rows, summary.rejected_count, summary.warning_count) == (2, 1, 1)
    assert [(p["row"], p["kept"]) for p in summary.problems] == [(1, True), (3, False)]
    tracks = tracks_of("sleeping-disco-9m")
    assert (tracks["1"].title, tracks["1"].artist) == ("Bad \ufffd Title", "Mo \ufffd")
    assert tracks["2"].title == "Smile \U0001f600"  # a proper pair is one character


def _strings(*values: bytes) -> pa.Array:
    """A string array holding exactly these bytes, valid UTF-8 or not (parquet allows both)."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [
            None,
            pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]),
            pa.py_buffer(b"".join(values)),
        ],
    )


def test_parquet_text_that_is_not_utf8_is_repaired_and_listed_not_fatal(write_path, tmp_path):
    names = pa.ListArray.from_arrays(
        pa.array([0, 1, 2, 3], pa.int32()), _strings(b"Ok", b"Bj\xf6rk", b"Ok")
    )
    table = pa.table(
        {
            "song_id": pa.array(["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"]),
            "title": _strings(b"Fine", b"Fine", b"Caf\xe9 Song"),
            "artist_names": names,
        }
    )
    path = tmp_path / "train-00000-of-00005.parquet"
    pq.write_table(table, path)
    summary = dataset_import(
        slug="laion-disco-12m", paths=[path], file_format="laion-disco-12m", **write_path
    )
    assert (summary.rows, summary.rejected_count, summary.warning_count) == (3, 0, 2)
    assert [(p["row"], p["kept"]) for p in summary.problems] == [(2, True), (3, True)]
    tracks = tracks_of("laion-disco-12m")
    assert tracks["bbbbbbbbbbb"].artist == "Bj\ufffdrk"
    assert tracks["ccccccccccc"].title == "Caf\ufffd Song"
    assert tracks["aaaaaaaaaaa"].title == "Fine"


def test_fma_both_layouts_and_spotify_import_with_their_ids(write_path):
    fma = dataset_import(
        slug="free-music-archive",
        paths=[DATA / "fma_tracks_head5.csv"],
        file_format="free-music-archive",
        **write_path,
    )
    assert fma.rows == 5 and fma.problem_count == 0
    tracks = tracks_of("free-music-archive")
    assert sorted(tracks, key=int) == ["2", "3", "5", "10", "20"]
    assert tracks["2"].source_row == 4  # after the three header lines
    assert identifiers_of(tracks["10"]) == {("fma", "10")}

    raw = dataset_import(
        slug="fma-raw",
        paths=[DATA / "fma_raw_tracks_head5.csv"],
        file_format="free-music-archive",
        **write_path,
    )
    assert raw.rows == 5
    assert {kind for kind, _ in identifiers_of(tracks_of("fma-raw")["10"])} == {"fma", "fma_url"}

    spotify = dataset_import(
        slug="spotify-tracks-dataset",
        paths=[DATA / "spotify_tracks_sample_886.csv"],
        file_format="spotify-tracks-dataset",
        **write_path,
    )
    assert spotify.rows == 886
    first = tracks_of("spotify-tracks-dataset")["5vjLSffimiIP26QG5WcN2K"]
    assert (first.artist, first.title, first.source_row) == ("Chord Overstreet", "Hold On", 2)
    assert first.extra["genres"] == ["acoustic"]
    assert identifiers_of(first) == {("spotify", "5vjLSffimiIP26QG5WcN2K")}


def test_spotify_id_listed_under_several_genres_is_one_track_with_all_genres(write_path, tmp_path):
    header = ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,track_genre"
    path = tmp_path / "dataset.csv"
    path.write_text(
        f"{header}\n"
        "0,5vjLSffimiIP26QG5WcN2K,Chord Overstreet,Hold On,Hold On,82,198853,False,acoustic\n"
        "1,1EzrEOXmMH3G43AXT1y7pA,Jason Mraz,We Sing,I'm Yours,80,soon,False,acoustic\n"
        "2,5vjLSffimiIP26QG5WcN2K,Chord Overstreet,Hold On,Hold On,82,198853,False,pop\n"
    )
    summary = dataset_import(
        slug="spotify-tracks-dataset",
        paths=[path],
        file_format="spotify-tracks-dataset",
        **write_path,
    )
    assert (summary.rows, summary.rejected_count, summary.warning_count) == (2, 0, 1)
    tracks = tracks_of("spotify-tracks-dataset")
    assert tracks["5vjLSffimiIP26QG5WcN2K"].extra["genres"] == ["acoustic", "pop"]
    assert tracks["1EzrEOXmMH3G43AXT1y7pA"].duration_s is None


def test_reimporting_identical_files_does_nothing():
    first = dataset_import(
        slug="demo-generic", paths=[DATA / "generic_tracks.csv"], file_format="generic-csv"
    )
    ids = set(DatasetTrack.objects.values_list("id", flat=True))
    again = dataset_import(
        slug="demo-generic", paths=[DATA / "generic_tracks.csv"], file_format="generic-csv"
    )
    assert not again.created and again.version_number == first.version_number == 1
    assert "already imported as version 1" in again.lines()[0]
    assert set(DatasetTrack.objects.values_list("id", flat=True)) == ids
    assert DatasetVersion.objects.count() == 1


def test_changed_files_make_version_two_and_version_one_tracks_stay(write_path, tmp_path):
    files = laion_files(tmp_path)
    dataset_import(slug="laion-disco-12m", paths=files, file_format="laion-disco-12m", **write_path)
    v1_tracks = {
        t.pk: (t.track_id, t.title)
        for t in DatasetTrack.objects.filter(
            version__number=1, version__dataset__slug="laion-disco-12m"
        )
    }
    changed = write_laion(
        files[1], [laion_row("fJ9rUzIMcZQ", "Bohemian Rhapsody (Remastered 2011)", ["Queen"])]
    )
    summary = dataset_import(
        slug="laion-disco-12m",
        paths=[files[0], changed],
        file_format="laion-disco-12m",
        **write_path,
    )
    assert summary.created and summary.version_number == 2
    dataset = Dataset.objects.get(slug="laion-disco-12m")
    assert dataset.current_version.number == 2
    # evidence made against version 1 points at these rows: they must be untouched
    still = {t.pk: (t.track_id, t.title) for t in DatasetTrack.objects.filter(pk__in=v1_tracks)}
    assert still == v1_tracks
    v2 = tracks_of("laion-disco-12m")
    assert v2["fJ9rUzIMcZQ"].title == "Bohemian Rhapsody (Remastered 2011)"
    assert not set(t.pk for t in v2.values()) & set(v1_tracks)


def test_broken_parquet_fails_clearly_and_leaves_nothing_behind(write_path, tmp_path):
    good = laion_files(tmp_path)[0]
    broken = tmp_path / "train-00001-of-00002.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(
        DatasetImportError, match=r"train-00001-of-00002\.parquet.*download it again"
    ):
        dataset_import(
            slug="laion-disco-12m",
            paths=[good, broken],
            file_format="laion-disco-12m",
            **write_path,
        )
    assert not DatasetVersion.objects.exists()
    assert not DatasetTrack.objects.exists() and not TrackIdentifier.objects.exists()


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="index rebuild is PostgreSQL-only",
)
def test_damage_inside_a_parquet_file_after_rows_were_loaded_rolls_everything_back(tmp_path):
    """Rows of the good file are COPYed before the damage is met; the transaction undoes them
    and the dropped indexes and foreign keys come back with the rollback."""

    def secondary() -> set[str]:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename IN "
                "('matcher_datasettrack', 'matcher_trackidentifier') "
                "UNION ALL SELECT conname FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid = 'matcher_trackidentifier'::regclass"
            )
            return {row[0] for row in cur.fetchall()}

    before = secondary()
    assert "track_title_cover" in before
    files = laion_files(tmp_path)
    data = bytearray(files[1].read_bytes())
    # scribble over the middle of the column chunks, keep the footer: the file opens, then fails
    for i in range(40, len(data) // 2):
        data[i] = 0xFF
    files[1].write_bytes(bytes(data))
    with pytest.raises(DatasetImportError, match=r"train-00001-of-00002\.parquet"):
        dataset_import(
            slug="laion-disco-12m",
            paths=files,
            file_format="laion-disco-12m",
            workers=1,
            rebuild_indexes=True,
        )
    assert not DatasetTrack.objects.exists() and not DatasetVersion.objects.exists()
    assert secondary() == before


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="index rebuild is PostgreSQL-only",
)
def test_rebuilding_indexes_restores_every_index_and_foreign_key(tmp_path):
    def definitions() -> set[str]:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename IN "
                "('matcher_datasettrack', 'matcher_trackidentifier') UNION ALL "
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN "
                "('matcher_datasettrack'::regclass, 'matcher_trackidentifier'::regclass)"
            )
            return {row[0] for row in cur.fetchall()}

    before = definitions()
    summary = dataset_import(
        slug="laion-disco-12m",
        paths=laion_files(tmp_path),
        file_format="laion-disco-12m",
        rebuild_indexes=True,
    )
    assert summary.rebuilt_indexes and "indexes" in summary.phases
    assert definitions() == before


def test_import_dataset_command_prints_the_summary():
    out = io.StringIO()
    call_command(
        "import_dataset",
        "demo-generic",
        str(DATA / "generic_tracks.csv"),
        "--format",
        "generic-csv",
        "--no-progress",
        stdout=out,
    )
    text = out.getvalue()
    assert "demo-generic: version 1" in text and "5 tracks" in text
    assert "line 6 (rejected): missing title" in text


def test_import_dataset_command_reports_a_broken_file_as_an_error(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(CommandError, match=r"broken\.parquet: is not a readable parquet file"):
        call_command("import_dataset", "laion-disco-12m", str(bad), "--format", "laion-disco-12m")
    assert not DatasetVersion.objects.exists()


def test_import_dataset_command_exits_non_zero_with_the_reason_on_stderr(tmp_path):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings")
    command = ["import_dataset", "demo", str(tmp_path / "gone.csv"), "--format", "generic-csv"]
    result = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "gone.csv: no such file" in result.stderr


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="VACUUM is PostgreSQL's",
)
@pytest.mark.django_db(transaction=True)
def test_a_committed_import_vacuums_so_blocking_reads_stay_index_only():
    """Outside a transaction (as the command runs), the import VACUUMs the track tables: pages
    marked all-visible are what lets matching read the covering indexes without the table."""

    def vacuums() -> dict[str, int]:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute(
                "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname IN "
                "('matcher_datasettrack', 'matcher_trackidentifier')"
            )
            return dict(cur.fetchall())

    before = vacuums()
    summary = dataset_import(
        slug="generic-csv-sample",
        paths=[DATA / "generic_tracks.csv"],
        file_format="generic-csv",
    )
    assert "vacuum" in summary.phases
    after = vacuums()
    assert after["matcher_datasettrack"] == before["matcher_datasettrack"] + 1
    assert after["matcher_trackidentifier"] == before["matcher_trackidentifier"] + 1


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="id blocks are reserved on PostgreSQL sequences",
)
def test_id_blocks_reserved_by_importers_side_by_side_never_overlap():
    import threading

    import psycopg

    from matcher.datasets.copy_text import reserve_ids
    from matcher.datasets.importer import _conninfo

    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_serial_sequence('matcher_trackidentifier', 'id')")
        sequence = cur.fetchone()[0]
    blocks: list[range] = []

    def reserve(sizes: list[int]) -> None:
        with psycopg.connect(**_conninfo(), autocommit=True) as conn:
            for n in sizes:
                blocks.append(reserve_ids(conn.execute, sequence, n))

    threads = [
        threading.Thread(target=reserve, args=([1, 7, 4000, 2, 513] * 20,)) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(blocks) == 300 and all(len(block) for block in blocks)
    ids = [i for block in blocks for i in block]
    assert len(ids) == len(set(ids)) == 3 * 20 * (1 + 7 + 4000 + 2 + 513)
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(%s)", [sequence])
        assert cur.fetchone()[0] > max(ids)
    assert reserve_ids(connection.cursor().execute, sequence, 0) == range(0)
