"""LAION batches encoded column by column give what the record path gives (no database needed).

The record path (reader -> TrackRecord -> datasets.copy_text) is the reference: it strips,
reads ids out of URLs, repairs text and lists problems. datasets.laion_copy must write the same
tracks and identifiers for every row, taking the rows it cannot treat as plain through that path.
"""

from __future__ import annotations

import importlib
import itertools
import math
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.datasets import copy_text, laion_copy, laion_disco
from matcher.datasets.copy_text import Chunk, Target

# bench/generate.py, by its plain name as tests/matcher/test_generate.py imports it
BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
generate = importlib.import_module("generate")
SCHEMA = generate.LAION_SCHEMA  # the publisher's column types
TARGET = Target(version_id=7, track_seq="tracks", ident_seq="idents")
CHANNEL = "UC" + "a" * 22
OTHER_CHANNEL = "UC" + "b" * 21 + "-"


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "song_id": "dQw4w9WgXcQ",
        "title": "Never Gonna Give You Up",
        "artist_names": ["Rick Astley"],
        "artist_ids": [CHANNEL],
        "album_name": "Whenever You Need Somebody",
        "album_id": "MPREb_abc",
        "isExplicit": False,
        "views": "1.2B plays",
        "duration": 213,
    }
    base.update(changes)
    return base


def allocator() -> copy_text.IdAllocator:
    counters = {"tracks": itertools.count(1), "idents": itertools.count(1)}
    return lambda sequence, n: [next(counters[sequence]) for _ in range(n)]


def batch_of(rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA, first_row: int = 0):
    data = pa.RecordBatch.from_pylist(rows, schema=schema)
    return laion_disco.Batch("train-00000-of-00005.parquet", data, list(schema.names), first_row)


def decoded(chunk: Chunk) -> dict[str, Any]:
    """What a chunk writes, without the primary keys: tracks by source row (duration as a
    number), the identifiers and the extra readings of each, the counts and the problems."""
    tracks: dict[str, tuple[int, list[Any]]] = {}
    for line in chunk.tracks.decode().split("\n")[:-1]:
        fields = line.split("\t")
        assert len(fields) == len(copy_text.TRACK_COPY_COLUMNS)
        pk, version, duration, source_row, *text = fields
        number = None if duration == "\\N" else float(duration)
        tracks[pk] = (int(source_row), [version, number, *text])
    identifiers: dict[int, list[tuple[str, ...]]] = {}
    for line in chunk.identifiers.decode().split("\n")[:-1]:
        pk, version, track_pk, kind, value = line.split("\t")
        identifiers.setdefault(tracks[track_pk][0], []).append((version, kind, value))
    readings: dict[int, list[tuple[str, ...]]] = {}
    for line in chunk.readings.decode().split("\n")[:-1]:
        fields = line.split("\t")
        assert len(fields) == len(copy_text.READING_COPY_COLUMNS)
        version, track_pk, *rest = fields
        readings.setdefault(tracks[track_pk][0], []).append((version, *rest))
    return {
        "tracks": {source_row: fields for source_row, fields in tracks.values()},
        "identifiers": {key: sorted(value) for key, value in identifiers.items()},
        "readings": {key: sorted(value) for key, value in readings.items()},
        "counts": (chunk.rows, chunk.rejected, chunk.warnings),
        "problems": sorted(chunk.problems),
    }


def by_record_path(batch: laion_disco.Batch) -> dict[str, Any]:
    return decoded(copy_text.encode_records(laion_disco.batch_records(batch), TARGET, allocator()))


def by_columns(batch: laion_disco.Batch) -> dict[str, Any]:
    return decoded(laion_copy.encode_batch(batch, TARGET, allocator()))


def plain_mask(batch: laion_disco.Batch) -> list[bool]:
    columns = laion_copy._columns(batch)
    assert columns is not None
    return laion_copy._plain_rows(columns, batch.data.num_rows).to_pylist()


# Rows the record path treats specially, each beside an ordinary row.
ODD_ROWS = {
    "ordinary": row(),
    "several artists and channels": row(
        artist_names=["Daft Punk", "Pharrell Williams"], artist_ids=[CHANNEL, OTHER_CHANNEL]
    ),
    "no artists, no channels": row(artist_names=None, artist_ids=None),
    "empty lists": row(artist_names=[], artist_ids=[]),
    "youtube title shape": row(title="Rick Astley - Never Gonna Give You Up (Official Video)"),
    "non-latin": row(title="残響散歌", artist_names=["Aimer"], album_name="残響散歌/朝が来る"),
    "spaces to strip": row(title="  Padded Title\u3000", artist_names=[" Padded "]),
    "blank artist among others": row(artist_names=["Rick Astley", "  ", ""]),
    "null artist in the list": row(artist_names=["Rick Astley", None]),
    "id in a url": row(song_id="https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    "id with spaces": row(song_id=" dQw4w9WgXcQ "),
    "not an id": row(song_id="not a video id"),
    "missing title": row(title=None),
    "blank title": row(title=" \t "),
    "missing song id": row(song_id=None),
    "channel as url": row(artist_ids=["https://www.youtube.com/channel/" + CHANNEL]),
    "channel twice": row(artist_ids=[CHANNEL, CHANNEL]),
    "bad channel": row(artist_ids=["UCshort", None]),
    "tab, newline and backslash": row(title="Uptown\rFunk\tTab\\Slash\nNewline"),
    "backslash in an artist": row(artist_names=["AC\\DC"]),
    "nul in the title": row(title="Nul\x00Title"),
    "quote in views": row(views='10K "plays"'),
    "backslash in album id": row(album_id="MPREb_\\x"),
    "control character in album id": row(album_id="MPREb_\x01"),
    "comma at the end of the album id": row(album_id="MPREb_x,", views=""),
    "empty views and album id": row(views="", album_id=""),
    "null explicit": row(isExplicit=None),
    "explicit only": row(views=None, album_id=None, isExplicit=True),
    "nothing for extra": row(views=None, album_id=None, isExplicit=None),
    "blank album": row(album_name="   "),
    "empty album": row(album_name=""),
    "null album": row(album_name=None),
    "zero duration": row(duration=0),
    "negative duration": row(duration=-5),
    "null duration": row(duration=None),
    "known band with a separator": row(artist_names=["Earth, Wind & Fire"]),
    "featured artist in the credit": row(artist_names=["Drake feat. Rihanna"]),
    "html entity": row(title="Rock &amp; Roll", artist_names=["Simon &amp; Garfunkel"]),
}
NOT_PLAIN = {
    "spaces to strip",
    "blank artist among others",
    "null artist in the list",
    "id in a url",
    "id with spaces",
    "not an id",
    "missing title",
    "blank title",
    "missing song id",
    "channel as url",
    "channel twice",
    "bad channel",
    "nul in the title",
    "quote in views",
    "backslash in album id",
    "control character in album id",
    "blank album",
}


def test_odd_rows_are_written_as_the_record_path_writes_them() -> None:
    batch = batch_of(list(ODD_ROWS.values()), first_row=100)
    expected = by_record_path(batch)
    assert expected["counts"][1] == 3  # the rows without a title or a song id are rejected
    assert by_columns(batch) == expected


def test_only_rows_the_record_path_would_change_leave_the_column_path() -> None:
    batch = batch_of(list(ODD_ROWS.values()))
    mask = dict(zip(ODD_ROWS, plain_mask(batch), strict=True))
    assert {name for name, plain in mask.items() if not plain} == NOT_PLAIN


@pytest.mark.parametrize("name", sorted(ODD_ROWS))
def test_each_odd_row_alone_is_written_as_the_record_path_writes_it(name: str) -> None:
    batch = batch_of([ODD_ROWS[name]], first_row=4)
    assert by_columns(batch) == by_record_path(batch)


def test_float_durations_and_infinity_are_written_as_the_record_path_writes_them() -> None:
    schema = SCHEMA.set(SCHEMA.get_field_index("duration"), pa.field("duration", pa.float64()))
    durations = [213.5, 0.0, -1.0, math.nan, math.inf, -math.inf, 1e300, None, 1 / 3]
    batch = batch_of([row(duration=d) for d in durations], schema)
    assert plain_mask(batch) == [True, True, True, True, False, False, True, True, True]
    assert by_columns(batch) == by_record_path(batch)


def test_missing_optional_columns_and_large_types_are_read() -> None:
    data = pa.table(
        {
            "song_id": pa.array(["dQw4w9WgXcQ", "9bZkp7q19f0"], pa.large_string()),
            "title": pa.array(["One", "Two"], pa.large_string()),
            "artist_names": pa.array([["A"], ["B", "C"]], pa.large_list(pa.large_string())),
        }
    ).to_batches()[0]
    batch = laion_disco.Batch("f.parquet", data, ["song_id", "title", "artist_names"], 0)
    assert plain_mask(batch) == [True, True]
    assert by_columns(batch) == by_record_path(batch)


def test_a_column_of_another_type_sends_the_batch_through_the_record_path() -> None:
    schema = SCHEMA.set(SCHEMA.get_field_index("duration"), pa.field("duration", pa.string()))
    batch = batch_of([row(duration="213"), row(duration="x")], schema)
    assert laion_copy._columns(batch) is None
    assert by_columns(batch) == by_record_path(batch)


def _strings(*values: bytes) -> pa.Array:
    """A string array holding exactly these bytes, valid UTF-8 or not (parquet allows both)."""
    offsets = pa.array([0, *itertools.accumulate(len(v) for v in values)], pa.int32())
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, offsets.buffers()[1], pa.py_buffer(b"".join(values))]
    )


def test_text_that_is_not_utf8_sends_the_batch_through_the_record_path() -> None:
    data = pa.RecordBatch.from_arrays(
        [pa.array(["aaaaaaaaaaa", "bbbbbbbbbbb"]), _strings(b"Fine", b"Caf\xe9 Song")],
        names=["song_id", "title"],
    )
    batch = laion_disco.Batch("f.parquet", data, ["song_id", "title"], 0)
    assert laion_copy._columns(batch) is None
    result = by_columns(batch)
    assert result == by_record_path(batch)
    assert result["counts"] == (2, 0, 1)  # the repaired row is kept and listed


def test_generated_rows_are_mostly_plain_and_written_as_the_record_path_writes_them(
    tmp_path: Path,
) -> None:
    paths = generate.write_files("laion-disco-12m", 3000, 11, tmp_path, files=1, workers=1)
    batches = list(laion_disco.batches(paths[0]))
    plain = sum(sum(plain_mask(batch)) for batch in batches)
    assert plain / 3000 > 0.95
    for batch in batches:
        assert by_columns(batch) == by_record_path(batch)


# Text from a small alphabet of the characters that matter (spaces Python strips and Arrow may
# not, NUL, COPY and JSON specials, separators, brackets, non-ASCII) plus any other character.
SPECIAL = " \t\n\r\x00\x01\x1c\x85\xa0\u2028\u3000\\\"',;&()[]-|.é残"
TEXT = st.text(
    st.one_of(
        st.sampled_from(SPECIAL),
        st.sampled_from("abcXYZ019"),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=12,
)
VIDEO_ID = st.text(st.sampled_from("abcXYZ019_-"), min_size=11, max_size=11)
CHANNEL_ID = st.text(st.sampled_from("aZ9_-"), min_size=22, max_size=22).map(lambda s: "UC" + s)
ROWS = st.fixed_dictionaries(
    {
        "song_id": st.one_of(VIDEO_ID, VIDEO_ID.map(lambda v: f" {v}"), TEXT, st.none()),
        "title": st.one_of(TEXT, st.sampled_from(["Song (Live)", "A - B (Official Video)"])),
        "artist_names": st.one_of(st.none(), st.lists(st.one_of(TEXT, st.none()), max_size=3)),
        "artist_ids": st.one_of(
            st.none(), st.lists(st.one_of(CHANNEL_ID, st.just(CHANNEL), TEXT), max_size=3)
        ),
        "album_name": st.one_of(st.none(), TEXT),
        "album_id": st.one_of(st.none(), TEXT),
        "isExplicit": st.one_of(st.none(), st.booleans()),
        "views": st.one_of(st.none(), TEXT),
        "duration": st.one_of(st.none(), st.integers(-10, 10**6)),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROWS, min_size=1, max_size=8), st.integers(0, 10**6))
def test_any_rows_are_written_as_the_record_path_writes_them(rows, first_row) -> None:
    batch = batch_of(rows, first_row=first_row)
    assert by_columns(batch) == by_record_path(batch)


def test_copy_text_of_one_plain_row_is_exact() -> None:
    batch = batch_of([row(title="Tab\there")], first_row=41)
    chunk = laion_copy.encode_batch(batch, TARGET, allocator())
    assert chunk.tracks == (
        b"1\t7\t213\t42\tdQw4w9WgXcQ\tRick Astley\tTab\\there\tWhenever You Need Somebody\t\t"
        b"https://music.youtube.com/watch?v=dQw4w9WgXcQ\t"
        b'{"views":"1.2B plays","explicit":false,"album_id":"MPREb_abc"}\t'
        b"train-00000-of-00005.parquet\trick astley\ttab here\trick astley||\t\n"
    )
    assert (
        chunk.identifiers
        == (f"1\t7\t1\tyoutube\tdQw4w9WgXcQ\n2\t7\t1\tyoutube_channel\t{CHANNEL}\n").encode()
    )
    assert pc.sum(pa.array(plain_mask(batch))).as_py() == 1
