"""What every dataset reader yields: one TrackRecord per source track, or an ImportProblem.

Readers are plain Python (no Django) so they can be tested and benchmarked alone; the loader in
matcher/services.py turns records into database rows (COPY on PostgreSQL, bulk inserts on SQLite).
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


class DatasetFormatError(Exception):
    """A whole file cannot be read (wrong format, broken container): the import stops clearly."""
