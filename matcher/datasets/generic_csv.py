"""Reader for the generic dataset CSV: ``track_id,artist,title,album,duration_s,isrc,url``.

Only track_id, artist and title must be filled; several artists in one cell are separated by ";".
Column order is free and extra columns are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matcher.datasets._text import csv_rows, parse_float
from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord
from matcher.engine.identifiers import identifiers_in, normalize_isrc

REQUIRED = ("track_id", "artist", "title")


def split_artists(cell: str) -> list[str]:
    return [name.strip() for name in cell.split(";") if name.strip()]


def read(paths: Sequence[Path]) -> ReaderOutput:
    for path in paths:
        yield from _read_file(Path(path))


def _read_file(path: Path) -> ReaderOutput:
    name = path.name
    rows = csv_rows(path)
    header_line = next(rows, None)
    if header_line is None:
        raise DatasetFormatError(f"{name}: the file is empty; expected a header line.")
    header = [cell.strip().lower() for cell in header_line[1]]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise DatasetFormatError(
            f"{name}: the header has no {', '.join(missing)} column; expected "
            "track_id,artist,title,album,duration_s,isrc,url."
        )
    index = {column: header.index(column) for column in header if column}

    def cell(fields: list[str], column: str) -> str:
        position = index.get(column)
        if position is None or position >= len(fields):
            return ""
        return fields[position].strip()

    for line, fields in rows:
        if not any(field.strip() for field in fields):
            continue  # blank lines carry no track; a person would not count them as rows
        absent = [column for column in REQUIRED if not cell(fields, column)]
        if absent:
            yield ImportProblem(name, line, "missing " + ", ".join(absent))
            continue
        track_id = cell(fields, "track_id")
        duration_text = cell(fields, "duration_s")
        try:
            duration = parse_float(duration_text)
        except ValueError:
            duration = None
            yield ImportProblem(
                name, line, f"duration_s {duration_text!r} is not a number; track kept without it"
            )
        raw_isrc = cell(fields, "isrc")
        isrc = normalize_isrc(raw_isrc) or ""
        if raw_isrc and not isrc:
            yield ImportProblem(
                name, line, f"isrc {raw_isrc!r} is not a valid ISRC; track kept without it"
            )
        url = cell(fields, "url")
        identifiers = [("isrc", isrc)] if isrc else []
        for pair in identifiers_in(url):
            if pair not in identifiers:
                identifiers.append(pair)
        yield TrackRecord(
            track_id=track_id,
            artists=split_artists(cell(fields, "artist")),
            title=cell(fields, "title"),
            album=cell(fields, "album"),
            duration_s=duration,
            isrc=isrc,
            url=url,
            identifiers=identifiers,
            source_file=name,
            source_row=line,
        )
