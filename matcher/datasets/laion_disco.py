"""Reader for LAION-DISCO-12M parquet files (``data/train-0000N-of-00005.parquet``).

Fields: song_id (YouTube video id), title, artist_names and artist_ids (parallel lists; ids are
YouTube Music channel ids), album_name, album_id, isExplicit, views ("10K plays"), duration (s).
Files are read in record batches, so memory stays flat whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord, Unit
from matcher.engine.identifiers import youtube_channel_id, youtube_video_id

COLUMNS = (
    "song_id",
    "title",
    "artist_names",
    "artist_ids",
    "album_name",
    "album_id",
    "isExplicit",
    "views",
    "duration",
)
REQUIRED = ("song_id", "title")
BATCH_ROWS = 8192  # Python objects of one batch: ~65k rows cost ~80 MB more RSS


def read(paths: Sequence[Path]) -> ReaderOutput:
    for path in paths:
        yield from _read_file(Path(path))


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetFormatError(
            f"{path.name}: is not a readable parquet file ({exc}); download it again."
        ) from exc


def row_groups(path: Path) -> list[int]:
    """Rows per row group of ``path``, so work can be split by row group."""
    metadata = _open(Path(path)).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def plan_units(file_format: str, paths: Sequence[Path]) -> list[Unit]:
    """One unit per parquet row group, so two workers share even a single big file."""
    return [
        (file_format, [str(path)], [group])
        for path in paths
        for group in range(len(row_groups(path)))
    ]


def estimate_rows(paths: Sequence[Path]) -> int:
    return sum(sum(row_groups(path)) for path in paths)


def read_unit(unit: Unit) -> ReaderOutput:
    _, paths, groups = unit
    if groups is None:
        return read([Path(path) for path in paths])
    return read_row_groups(Path(paths[0]), groups)


def read_row_groups(path: Path, groups: Sequence[int]) -> ReaderOutput:
    """The records of some row groups of one file, numbered as in the whole file."""
    for batch in row_group_batches(path, groups):
        yield from batch_records(batch)


def row_group_batches(path: Path, groups: Sequence[int]) -> Iterator[Batch]:
    """The record batches of some row groups of one file, numbered as in the whole file."""
    path = Path(path)
    sizes = row_groups(path)
    for group in groups:
        yield from batches(path, group=group, first_row=sum(sizes[:group]))


@dataclass(frozen=True)
class Batch:
    """Some consecutive rows of one file: `first_row` is the number of the row before them."""

    file_name: str
    data: pa.RecordBatch
    columns: list[str]  # the names of data's columns, a subset of COLUMNS in their order
    first_row: int


def batches(path: Path, *, group: int | None = None, first_row: int = 0) -> Iterator[Batch]:
    """The file's record batches (of one row group when `group` is given), each with the
    columns of COLUMNS the file has and the number of the row before its first (rows are
    numbered from 1 within the whole file). A damaged file raises DatasetFormatError."""
    name = path.name
    parquet = _open(path)
    present = set(parquet.schema_arrow.names)
    missing = [column for column in REQUIRED if column not in present]
    if missing:
        raise DatasetFormatError(
            f"{name}: has no {', '.join(missing)} column; this is not a LAION-DISCO-12M file."
        )
    columns = [column for column in COLUMNS if column in present]
    row = first_row
    try:
        for batch in parquet.iter_batches(
            batch_size=BATCH_ROWS,
            columns=columns,
            row_groups=None if group is None else [group],
        ):
            yield Batch(name, batch, columns, row)
            row += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise _damaged(name, row, exc) from exc


def _damaged(file_name: str, row: int, exc: Exception) -> DatasetFormatError:
    return DatasetFormatError(
        f"{file_name}: is damaged after row {row} ({exc}); download it again."
    )


def _read_file(path: Path, *, group: int | None = None, first_row: int = 0) -> ReaderOutput:
    for batch in batches(path, group=group, first_row=first_row):
        yield from batch_records(batch)


def batch_records(batch: Batch, rows: Sequence[int] | None = None) -> ReaderOutput:
    """The records of `batch` (of the rows at positions `rows` only, when given), in order."""
    values: dict[str, list[Any]] = {}
    repaired: set[int] = set()  # rows of the batch whose text was not valid UTF-8
    try:
        data = batch.data if rows is None else batch.data.take(pa.array(rows, pa.int64()))
        for i, column in enumerate(batch.columns):
            values[column], bad = _pylist(data.column(i))
            repaired |= bad
    except (OSError, pa.ArrowException) as exc:
        raise _damaged(batch.file_name, batch.first_row, exc) from exc
    empty = [None] * data.num_rows
    positions = range(data.num_rows) if rows is None else rows
    for offset, (position, fields) in enumerate(
        zip(
            positions,
            zip(*(values.get(column, empty) for column in COLUMNS), strict=True),
            strict=True,
        )
    ):
        row = batch.first_row + position + 1
        record = _record(batch.file_name, row, *fields)
        if offset in repaired and isinstance(record, TrackRecord):
            yield ImportProblem(batch.file_name, row, _REPAIRED)
        yield record


_REPAIRED = "text that is not valid UTF-8 was read with U+FFFD for the bad bytes; track kept"


def _pylist(column: pa.Array) -> tuple[list[Any], set[int]]:
    """The column's values, and the positions whose text had to be repaired.

    Parquet does not guarantee that string columns hold valid UTF-8, and Arrow's conversion to
    Python then fails for the whole batch; such a column is read again as bytes and decoded with
    U+FFFD for the bad bytes, so every row is still imported and the repaired ones are listed.
    """
    try:
        return column.to_pylist(), set()
    except UnicodeDecodeError:
        pass
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        raw = column.cast(pa.list_(pa.large_binary())).to_pylist()
        values: list[Any] = [None if v is None else [_decode(x) for x in v] for v in raw]
        bad = {i for i, v in enumerate(raw) if v is not None and any(map(_invalid, v))}
    else:
        raw = column.cast(pa.large_binary()).to_pylist()
        values = [_decode(v) for v in raw]
        bad = {i for i, v in enumerate(raw) if _invalid(v)}
    return values, bad


def _decode(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def _invalid(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _record(
    name: str,
    row: int,
    song_id: Any,
    title: Any,
    artist_names: Any,
    artist_ids: Any,
    album_name: Any,
    album_id: Any,
    explicit: Any,
    views: Any,
    duration: Any,
) -> TrackRecord | ImportProblem:
    # a plain function, not a generator: at 12M rows the per-row generator cost shows
    song_id = song_id.strip() if isinstance(song_id, str) else ""
    title = title.strip() if isinstance(title, str) else ""
    if not song_id or not title:
        absent = [label for label, value in (("song_id", song_id), ("title", title)) if not value]
        return ImportProblem(name, row, "missing " + ", ".join(absent))
    artists = [artist.strip() for artist in artist_names or () if artist and artist.strip()]
    video_id = youtube_video_id(song_id)
    identifiers: list[tuple[str, str]] = [("youtube", video_id)] if video_id else []
    for channel in artist_ids or ():
        channel_id = youtube_channel_id(channel)
        if channel_id and ("youtube_channel", channel_id) not in identifiers:
            identifiers.append(("youtube_channel", channel_id))
    extra: dict[str, Any] = {}
    if views:
        extra["views"] = views
    if explicit is not None:
        extra["explicit"] = bool(explicit)
    if album_id:
        extra["album_id"] = album_id
    return TrackRecord(
        track_id=song_id,
        artists=artists,
        title=title,
        album=album_name.strip() if isinstance(album_name, str) else "",
        duration_s=float(duration) if isinstance(duration, int | float) and duration > 0 else None,
        url=f"https://music.youtube.com/watch?v={video_id}" if video_id else "",
        identifiers=identifiers,
        extra=extra,
        source_file=name,
        source_row=row,
    )
