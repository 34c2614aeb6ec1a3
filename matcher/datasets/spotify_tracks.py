"""Reader for the Hugging Face "Spotify Tracks Dataset" (maharshipandya), one ``dataset.csv``.

The same track_id is listed once per genre it was collected under; we yield one track per id,
at its first line, with every genre in ``extra["genres"]``. Knowing all genres before yielding
takes two passes over the file: the first keeps only {track_id: [genres]} (about 90k ids for the
114k-row original, a few MB), the second yields records; row data is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from matcher.datasets._text import csv_rows, parse_float
from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord
from matcher.engine.identifiers import spotify_track_id

REQUIRED = ("track_id", "artists", "track_name")
# The leading index column is "" in the original and "...1" after R's readr, "Unnamed: 0" pandas.
_INDEX_NAMES = {"", "...1", "unnamed: 0", "index"}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

Row = tuple[int, dict[str, str]]


def read(paths: Sequence[Path]) -> ReaderOutput:
    paths = [Path(path) for path in paths]
    genres: dict[str, list[str]] = {}
    for _name, _line, row in _valid_rows(paths):
        if isinstance(row, ImportProblem):
            continue  # only the second pass reports problems
        genre_list = genres.setdefault(row["track_id"], [])
        genre = row.get("track_genre", "")
        if genre and genre not in genre_list:
            genre_list.append(genre)
    for name, line, row in _valid_rows(paths, problems=True):
        if isinstance(row, ImportProblem):
            yield row
            continue
        # pop: later lines of the same id were merged into this record
        track_genres = genres.pop(row["track_id"], None)
        if track_genres is None:
            continue
        yield from _record(name, line, row, track_genres)


def _valid_rows(
    paths: list[Path], *, problems: bool = False
) -> Iterator[tuple[str, int, dict[str, str] | ImportProblem]]:
    for path in paths:
        name = path.name
        rows = csv_rows(path)
        header_line = next(rows, None)
        if header_line is None:
            raise DatasetFormatError(f"{name}: the file is empty; expected the dataset.csv header.")
        header = [cell.strip() for cell in header_line[1]]
        if header and header[0].lower() in _INDEX_NAMES:
            header[0] = "_index"
        missing = [column for column in REQUIRED if column not in header]
        if missing:
            raise DatasetFormatError(
                f"{name}: this is not the Spotify Tracks Dataset layout (no "
                f"{', '.join(missing)} column)."
            )
        for line, fields in rows:
            if not any(field.strip() for field in fields):
                continue
            row = {
                column: (fields[i].strip() if i < len(fields) else "")
                for i, column in enumerate(header)
            }
            absent = [column for column in REQUIRED if not row[column]]
            if absent:
                if problems:
                    yield name, line, ImportProblem(name, line, "missing " + ", ".join(absent))
                continue
            yield name, line, row


def _record(name: str, line: int, row: dict[str, str], genres: list[str]) -> ReaderOutput:
    track_id = row["track_id"]
    duration: float | None = None
    duration_text = row.get("duration_ms", "")
    try:
        duration_ms = parse_float(duration_text)
        duration = duration_ms / 1000 if duration_ms is not None else None
    except ValueError:
        # a bad duration does not make the track unknown: keep it and say so
        yield ImportProblem(
            name, line, f"duration_ms {duration_text!r} is not a number; track kept without it"
        )
    extra: dict[str, object] = {"genres": genres}
    explicit = row.get("explicit", "").lower()
    if explicit in _TRUE or explicit in _FALSE:
        extra["explicit"] = explicit in _TRUE
    popularity = row.get("popularity", "")
    if popularity.isdigit():
        extra["popularity"] = int(popularity)
    canonical = spotify_track_id(track_id)
    yield TrackRecord(
        track_id=track_id,
        artists=[artist.strip() for artist in row["artists"].split(";") if artist.strip()],
        title=row["track_name"],
        album=row.get("album_name", ""),
        duration_s=duration,
        url=f"https://open.spotify.com/track/{canonical}" if canonical else "",
        identifiers=[("spotify", canonical)] if canonical else [],
        extra=extra,
        source_file=name,
        source_row=line,
    )
