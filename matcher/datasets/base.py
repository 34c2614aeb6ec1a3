"""What every dataset reader yields: one TrackRecord per source track, or an ImportProblem.

Readers are plain Python (no Django) so they can be tested and benchmarked alone; the importer
(matcher.datasets.importer) turns records into database rows (COPY on PostgreSQL, bulk inserts
on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(slots=True)
class TrackRecord:
    """One track as its publisher lists it, with provenance."""

    track_id: str  # the dataset's own id (LAION song_id, Spotify track_id, FMA track_id, ...)
    artists: list[str]  # credited artists in credit order; the first is the primary artist
    title: str
    album: str = ""
    duration_s: float | None = None
    isrc: str = ""
    url: str = ""  # the public page of this track at its source
    # (kind, value) pairs in canonical form, see matcher.engine.identifiers
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # small JSON-able facts (genres, views...)
    source_file: str = ""  # file name as given (basename), for provenance
    source_row: int = 0  # line number in a text file (header lines count), row number in parquet


@dataclass(slots=True)
class ImportProblem:
    """A source line that could not become a track, and why."""

    source_file: str
    source_row: int
    reason: str


ReaderOutput = Iterator[TrackRecord | ImportProblem]


class Reader(Protocol):
    def __call__(self, paths: Sequence[Path]) -> ReaderOutput: ...


# An independent piece of an import, for the worker processes: (format, paths, parquet row
# groups or None). Plain values, so it pickles into a spawned process.
Unit = tuple[str, list[str], list[int] | None]


def units_per_file(file_format: str, paths: Sequence[Path]) -> list[Unit]:
    """The default plan: each file is read on its own."""
    return [(file_format, [str(path)], None) for path in paths]


def units_all_files(file_format: str, paths: Sequence[Path]) -> list[Unit]:
    """One unit for all the files (a format whose tracks are merged across files)."""
    return [(file_format, [str(path) for path in paths], None)]


def rows_by_size(paths: Sequence[Path]) -> int:
    """A row count estimate for text formats: a line is rarely under 100 bytes (lyrics make
    JSON lines far longer)."""
    return sum(path.stat().st_size for path in paths) // 100


class DatasetFormatError(Exception):
    """A whole file cannot be read (wrong format, broken container): the import stops clearly."""
