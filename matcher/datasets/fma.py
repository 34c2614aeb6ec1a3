"""Reader for the Free Music Archive metadata (mdeff/fma, ``fma_metadata.zip``).

Two layouts are accepted and told apart by their header: ``tracks.csv`` (three header lines:
the group track/album/artist/set, the field name, then a ``track_id`` line) and the flat
``raw_tracks.csv`` (track_id, artist_name, track_title, album_title, track_duration "mm:ss",
track_url, license_title, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from matcher.datasets._text import csv_rows, parse_float, parse_mmss
from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord
from matcher.engine.identifiers import fma_url_key

Rows = Iterator[tuple[int, list[str]]]


def read(paths: Sequence[Path]) -> ReaderOutput:
    for path in paths:
        yield from _read_file(Path(path))


def _read_file(path: Path) -> ReaderOutput:
    name = path.name
    rows = csv_rows(path)
    first = next(rows, None)
    if first is None:
        raise DatasetFormatError(
            f"{name}: the file is empty; expected FMA tracks.csv or raw_tracks.csv."
        )
    header = [cell.strip() for cell in first[1]]
    if "track_id" in header and "track_title" in header:
        yield from _raw_tracks(name, header, rows)
    elif header and header[0] == "" and "track" in header:
        yield from _tracks(name, header, rows)
    else:
        raise DatasetFormatError(
            f"{name}: not an FMA metadata file; expected tracks.csv (three header lines) "
            "or raw_tracks.csv."
        )


def _getter(index: dict[str, int]) -> Callable[[list[str], str], str]:
    def get(fields: list[str], column: str) -> str:
        position = index.get(column)
        if position is None or position >= len(fields):
            return ""
        return fields[position].strip()

    return get


def _int_text(text: str) -> str:
    """ "1.0" -> "1": pandas wrote some integer ids as floats."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _raw_tracks(name: str, header: list[str], rows: Rows) -> ReaderOutput:
    get = _getter({column: i for i, column in enumerate(header) if column})
    for line, fields in rows:
        if not any(field.strip() for field in fields):
            continue
        track_id = _int_text(get(fields, "track_id"))
        duration_text = get(fields, "track_duration")
        duration: float | None = None
        problem: ImportProblem | None = None
        try:
            duration = parse_mmss(duration_text)
        except ValueError:
            problem = ImportProblem(
                name, line, f"track_duration {duration_text!r} is not mm:ss; track kept without it"
            )
        yield from _build(
            name,
            line,
            track_id=track_id,
            artist=get(fields, "artist_name"),
            title=get(fields, "track_title"),
            album=get(fields, "album_title"),
            duration=duration,
            url=get(fields, "track_url"),
            extra={
                "licence": get(fields, "license_title"),
                "artist_id": _int_text(get(fields, "artist_id")),
                "album_id": _int_text(get(fields, "album_id")),
            },
            problem=problem,
        )


def _tracks(name: str, groups: list[str], rows: Rows) -> ReaderOutput:
    second = next(rows, None)
    third = next(rows, None)
    if second is None or third is None or not third[1] or third[1][0].strip() != "track_id":
        raise DatasetFormatError(
            f"{name}: the three tracks.csv header lines (group, field, track_id) are incomplete."
        )
    index: dict[str, int] = {}
    group = ""
    for i, field in enumerate(second[1]):
        # pandas writes each group name on every column, but tolerate blanks after the first
        group = groups[i].strip() if i < len(groups) and groups[i].strip() else group
        index.setdefault(f"{group}.{field.strip()}", i)
    get = _getter(index)
    if "track.title" not in index or "artist.name" not in index:
        raise DatasetFormatError(f"{name}: the header has no track title or artist name column.")
    for line, fields in rows:
        if not any(field.strip() for field in fields):
            continue
        track_id = _int_text(fields[0].strip())
        duration_text = get(fields, "track.duration")
        duration: float | None = None
        problem: ImportProblem | None = None
        try:
            duration = parse_float(duration_text)
        except ValueError:
            problem = ImportProblem(
                name, line, f"duration {duration_text!r} is not a number; track kept without it"
            )
        extra = {
            "licence": get(fields, "track.license"),
            "genre_top": get(fields, "track.genre_top"),
            "artist_id": _int_text(get(fields, "artist.id")),
            "album_id": _int_text(get(fields, "album.id")),
        }
        yield from _build(
            name,
            line,
            track_id=track_id,
            artist=get(fields, "artist.name"),
            title=get(fields, "track.title"),
            album=get(fields, "album.title"),
            duration=duration,
            url="",  # tracks.csv carries no track URL and FMA pages are not addressable by id
            extra=extra,
            problem=problem,
        )


def _build(
    name: str,
    line: int,
    *,
    track_id: str,
    artist: str,
    title: str,
    album: str,
    duration: float | None,
    url: str,
    extra: dict[str, str],
    problem: ImportProblem | None,
) -> ReaderOutput:
    absent = [
        label
        for label, value in (("track_id", track_id), ("artist", artist), ("title", title))
        if not value
    ]
    if absent:
        yield ImportProblem(name, line, "missing " + ", ".join(absent))
        return
    if problem is not None:
        yield problem
    identifiers = [("fma", track_id)]
    key = fma_url_key(url)
    if key:
        identifiers.append(("fma_url", key))
    yield TrackRecord(
        track_id=track_id,
        artists=[artist],
        title=title,
        album=album,
        duration_s=duration,
        url=url,
        identifiers=identifiers,
        extra={key_: value for key_, value in extra.items() if value},
        source_file=name,
        source_row=line,
    )
