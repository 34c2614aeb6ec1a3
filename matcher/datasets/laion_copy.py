"""LAION-DISCO-12M record batches straight to COPY text, column by column.

The record path (reader -> TrackRecord -> datasets.copy_text) spends about 20 µs of Python per
row on top of normalization: building records, identifiers, JSON, escaping and joining text. Here
Arrow's compute functions check the rows and build every column that needs no normalization, in
C++, and Python only normalizes (matcher.engine.keys.prepare).

Only "plain" rows take this path: rows whose values the record path would use exactly as they are
(a bare video id and bare channel ids, text with no spaces to strip and no NUL, JSON-safe views
and album ids, no repeated channel id...). Any other row, and a whole batch with an unexpected
column type or text that is not valid UTF-8, goes through the record path (which repairs, strips,
reads ids out of URLs and lists problems), so both paths give the same tracks and identifiers
(tests/matcher/test_import_laion.py checks this on hand-made and on generated rows).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from matcher.datasets import laion_disco
from matcher.datasets.base import Unit
from matcher.datasets.copy_text import (
    Chunk,
    IdAllocator,
    Target,
    encode,
    encode_records,
    escape,
    reading_lines,
)
from matcher.engine.keys import prepare

# What Python's str.strip() removes (str.isspace), as an RE2 character class.
_SPACE = "".join(f"\\x{{{code:x}}}" for code in range(sys.maxunicode + 1) if chr(code).isspace())
# Text the record path keeps as it is: not empty, nothing to strip at either end, no NUL.
_PLAIN_TEXT = rf"(?s)\A[^{_SPACE}\x00](?:[^\x00]*[^{_SPACE}\x00])?\z"
_VIDEO_ID = r"\A[A-Za-z0-9_-]{11}\z"  # matcher.engine.identifiers: a bare id is kept as it is
_CHANNEL_ID = r"\AUC[A-Za-z0-9_-]{22}\z"
# Strings JSON writes between quotes unchanged (json escapes '"', '\' and U+0000-U+001F).
_JSON_PLAIN = r'\A[^"\\\x00-\x1f]*\z'
_COPY_SPECIAL = r"[\\\t\n\r]"

_TEXT = pa.string()
_LIST = pa.list_(pa.string())
_TYPES = {
    "song_id": _TEXT,
    "title": _TEXT,
    "artist_names": _LIST,
    "artist_ids": _LIST,
    "album_name": _TEXT,
    "album_id": _TEXT,
    "isExplicit": pa.bool_(),
    "views": _TEXT,
    "duration": pa.float64(),
}
_URL_PREFIX = "https://music.youtube.com/watch?v="


def encode_unit(unit: Unit, target: Target, allocate: IdAllocator) -> Iterator[Chunk]:
    """The fast encoder of the LAION format: a unit's row groups, one chunk per record batch
    (a unit without row groups, whole files, goes record by record)."""
    _, paths, groups = unit
    if groups is None:
        yield from encode(laion_disco.read_unit(unit), target, allocate)
        return
    for batch in laion_disco.row_group_batches(Path(paths[0]), groups):
        yield encode_batch(batch, target, allocate)


def encode_batch(batch: laion_disco.Batch, target: Target, allocate: IdAllocator) -> Chunk:
    """One chunk of COPY text for the rows of `batch`, with the problems of its other rows."""
    columns = _columns(batch)
    if columns is None:
        return encode_records(laion_disco.batch_records(batch), target, allocate)
    plain = _plain_rows(columns, batch.data.num_rows)
    other = pc.indices_nonzero(pc.invert(plain)).to_pylist()
    if other:
        chunk = encode_records(laion_disco.batch_records(batch, other), target, allocate)
    else:
        chunk = Chunk()
    positions = pc.indices_nonzero(plain)
    if len(positions):
        tracks, identifiers, readings = _plain_text(columns, positions, batch, target, allocate)
        chunk.tracks = tracks + chunk.tracks
        chunk.identifiers = identifiers + chunk.identifiers
        chunk.readings = readings + chunk.readings
        chunk.rows += len(positions)
    return chunk


def _columns(batch: laion_disco.Batch) -> dict[str, pa.Array] | None:
    """Every column of the format, of one type each (absent ones as nulls); None when a column
    has a type the record path would have to interpret, or text that is not valid UTF-8."""
    n = batch.data.num_rows
    out: dict[str, pa.Array] = {}
    for name, wanted in _TYPES.items():
        if name not in batch.columns:
            out[name] = pa.nulls(n, wanted)
            continue
        array = batch.data.column(batch.columns.index(name))
        kind = array.type
        if wanted == _TEXT:
            usable = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        elif wanted == _LIST:
            usable = (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
                pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)
            )
        elif name == "duration":
            usable = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        else:
            usable = kind == wanted
        if not usable:
            return None
        try:
            array.validate(full=True)  # Parquet does not promise valid UTF-8
        except pa.ArrowInvalid:
            return None
        out[name] = array if kind == wanted else pc.cast(array, wanted, safe=False)
    return out


def _matches(array: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(array, pattern), False)


def _rows_of(parents: pa.Array, bad_values: pa.Array, n: int) -> pa.Array:
    """Which of the n rows hold at least one of the list values flagged in `bad_values`;
    `parents` gives each value's row (pc.list_parent_indices)."""
    bad_rows = pc.cast(pc.filter(parents, bad_values), pa.int64())
    return pc.is_in(pa.array(range(n), pa.int64()), value_set=bad_rows)


def _plain_rows(c: dict[str, pa.Array], n: int) -> pa.Array:
    plain = pc.and_(_matches(c["song_id"], _VIDEO_ID), _matches(c["title"], _PLAIN_TEXT))
    album = c["album_name"]
    plain = pc.and_(
        plain,
        pc.or_(pc.fill_null(pc.equal(album, ""), True), _matches(album, _PLAIN_TEXT)),
    )
    for name in ("album_id", "views"):
        plain = pc.and_(plain, pc.or_(pc.is_null(c[name]), _matches(c[name], _JSON_PLAIN)))
    # float('inf') is kept by the record path and written as "inf": leave it to that path
    plain = pc.and_(plain, pc.invert(pc.fill_null(pc.is_inf(c["duration"]), False)))

    names, channels = c["artist_names"], c["artist_ids"]
    name_values, name_rows = pc.list_flatten(names), pc.list_parent_indices(names)
    channel_values, channel_rows = pc.list_flatten(channels), pc.list_parent_indices(channels)
    if len(name_values) != len(name_rows) or len(channel_values) != len(channel_rows):
        # values under null lists (legal in Arrow, not written by Parquet readers)
        return pa.array([False] * n)
    if len(name_values):
        bad = pc.invert(_matches(name_values, _PLAIN_TEXT))
        plain = pc.and_(plain, pc.invert(_rows_of(name_rows, bad, n)))
    if len(channel_values):
        bad = pc.invert(_matches(channel_values, _CHANNEL_ID))
        # a channel listed twice for one track: the record path keeps it once
        keys = pc.binary_join_element_wise(pc.cast(channel_rows, pa.string()), channel_values, "/")
        counts = pc.value_counts(keys)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        if len(repeated):
            bad = pc.or_(bad, pc.is_in(keys, value_set=repeated))
        plain = pc.and_(plain, pc.invert(_rows_of(channel_rows, bad, n)))
    return plain


def _copyescape(array: pa.Array) -> pa.Array:
    """COPY text escaping (as matcher.datasets.copy_text.escape); plain rows hold no NUL."""
    if not pc.any(_matches(array, _COPY_SPECIAL)).as_py():
        return array
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        array = pc.replace_substring(array, char, escaped)
    return array


def _keys(values: Sequence[str]) -> pa.Array:
    array = pa.array(values, _TEXT)
    if pc.any(pc.match_substring(array, "\x00")).as_py():
        # the record path drops NUL from every field of such a row; only keys can hold one here
        array = pc.replace_substring(array, "\x00", "")
    return _copyescape(array)


def _text_of(lines: pa.Array) -> bytes:
    """The concatenated values of a string array without nulls: its data between two offsets."""
    _, offsets, data = lines.buffers()
    start, end = (
        struct.unpack_from("<i", offsets, 4 * index)[0]
        for index in (lines.offset, lines.offset + len(lines))
    )
    return data.slice(start, end - start).to_pybytes() if data is not None else b""


def _lines(*columns: pa.Array | str) -> bytes:
    row = pc.binary_join_element_wise(*columns, "\t")
    return _text_of(pc.binary_join_element_wise(row, "\n", ""))


def _plain_text(
    c: dict[str, pa.Array],
    positions: pa.Array,
    batch: laion_disco.Batch,
    target: Target,
    allocate: IdAllocator,
) -> tuple[bytes, bytes, bytes]:
    """(tracks, identifiers, readings) COPY text of the plain rows at `positions`."""
    take = {name: pc.take(array, positions) for name, array in c.items()}
    titles = take["title"].to_pylist()
    artist_lists = take["artist_names"].to_pylist()
    n = len(titles)
    pks = allocate(target.track_seq, n)
    durations = take["duration"].to_pylist()
    artist_keys: list[str] = []
    title_keys: list[str] = []
    artists_norm: list[str] = []
    versions: list[str] = []
    read_lines: list[str] = []
    vid = target.version_id
    for pk, title, artists, seconds in zip(pks, titles, artist_lists, durations, strict=True):
        prepared = prepare(artists=artists or [], title=title)
        side = prepared.side
        artist_keys.append(side.artist_key)
        title_keys.append(side.title_key)
        artists_norm.append(side.artists_norm)
        versions.append(side.version)
        duration_s = float(seconds) if seconds and seconds > 0 else None
        read_lines += reading_lines(vid, pk, artists or [], title, prepared, duration_s)
    track_pks = pa.array(pks, pa.int64())
    version = str(target.version_id)

    duration = take["duration"]
    duration_text = pc.if_else(
        pc.fill_null(pc.greater(duration, 0), False), pc.cast(duration, _TEXT), "\\N"
    )
    song = take["song_id"]
    tracks = _lines(
        pc.cast(track_pks, _TEXT),
        version,
        duration_text,
        pc.cast(pc.add(pc.cast(positions, pa.int64()), batch.first_row + 1), _TEXT),
        song,
        _copyescape(pc.fill_null(pc.binary_join(take["artist_names"], "; "), "")),
        _copyescape(take["title"]),
        _copyescape(pc.fill_null(take["album_name"], "")),
        "",
        pc.binary_join_element_wise(_URL_PREFIX, song, ""),
        _extra(take),
        escape(batch.file_name[:255]),  # a file name holds no NUL
        _keys(artist_keys),
        _keys(title_keys),
        _keys(artists_norm),
        _keys(versions),
    )

    channels = take["artist_ids"]
    channel_values = pc.list_flatten(channels)
    ident_pks = pa.array(allocate(target.ident_seq, n + len(channel_values)), pa.int64())
    identifiers = _lines(
        pc.cast(ident_pks.slice(0, n), _TEXT), version, pc.cast(track_pks, _TEXT), "youtube", song
    )
    if len(channel_values):
        owners = pc.take(track_pks, pc.list_parent_indices(channels))
        identifiers += _lines(
            pc.cast(ident_pks.slice(n), _TEXT),
            version,
            pc.cast(owners, _TEXT),
            "youtube_channel",
            channel_values,
        )
    return tracks, identifiers, "".join(read_lines).encode()


def _extra(take: dict[str, pa.Array]) -> pa.Array:
    """The `extra` JSON of the record path: views, explicit and album_id, each when present."""

    def member(name: str, key: str) -> pa.Array:
        values = take[name]
        present = pc.fill_null(pc.not_equal(values, ""), False)
        text = pc.binary_join_element_wise(f'"{key}":"', values, '",', "")
        return pc.if_else(present, text, "")

    explicit = take["isExplicit"]
    flag = pc.if_else(explicit, '"explicit":true,', '"explicit":false,')
    body = pc.binary_join_element_wise(
        member("views", "views"),
        pc.fill_null(flag, ""),
        member("album_id", "album_id"),
        "",
    )
    # each member ends in '",' or 'e,': trimming commas takes exactly the last separator
    return pc.binary_join_element_wise("{", pc.utf8_rtrim(body, characters=","), "}", "")
