"""Turns reader records into PostgreSQL COPY text, in the importer's process or in worker processes.

No Django here: worker processes are started with "spawn" and import only this module, the
readers and the engine. Each worker reads its share of the files (whole files, or parquet row
groups), normalizes every record, takes primary keys from the tables' sequences on its own
connection, and sends COPY-ready text back to the importer, which alone writes to the tables
inside the import's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string
from typing import Any

from matcher.datasets.base import ImportProblem, TrackRecord
from matcher.engine.keys import Prepared, prepare
from matcher.engine.readings import extra_readings

CHUNK_ROWS = 4_000  # rows per message: about 1.2 MB of COPY text
QUEUE_CHUNKS = 4  # messages waiting for the importer, so memory stays bounded
PROBLEMS_PER_CHUNK = 1000  # the importer lists at most this many anyway
KEPT_MARK = "track kept"  # readers say "...; track kept without it" for a bad optional field

# COPY columns: numbers first, then the text fields, escaped together once per row.
TRACK_COPY_COLUMNS = (
    "id",
    "version_id",
    "duration_s",
    "source_row",
    "track_id",
    "artist",
    "title",
    "album",
    "isrc",
    "url",
    "extra",
    "source_file",
    "artist_key",
    "title_key",
    "artists_norm",
    "version_label",
)
IDENT_COPY_COLUMNS = ("id", "version_id", "track_id", "kind", "value")
READING_COPY_COLUMNS = (
    "version_id",
    "track_id",
    "reading",
    "duration_s",
    "name",
    "artist_key",
    "title_key",
    "artists_norm",
    "version_label",
)


def escape(joined: str) -> str:
    """COPY text escaping of NUL-separated fields; NUL (never in stored text) becomes the tab.

    Chained replace() is several times faster than str.translate() with a mapping.
    """
    if "\\" in joined:
        joined = joined.replace("\\", "\\\\")
    if "\t" in joined:
        joined = joined.replace("\t", "\\t")
    if "\n" in joined:
        joined = joined.replace("\n", "\\n")
    if "\r" in joined:
        joined = joined.replace("\r", "\\r")
    return joined.replace("\x00", "\t")


IdAllocator = Callable[[str, int], Sequence[int]]  # (sequence name, how many) -> new ids
_ID_BLOCK_LOCK = 0x7472_6964  # advisory lock key ("trid"): one block reservation at a time


def reserve_ids(execute: Callable[[str, list[Any]], Any], sequence: str, n: int) -> range:
    """`n` consecutive new ids of `sequence`; `execute(sql, params)` returns a cursor.

    Taking each id with nextval() cost the server ~0.5 us and a result row per id: 17
    CPU-seconds of the 2 cores for LAION's 37M tracks and identifiers. Here the next id is
    taken and the sequence set past the block, under a lock that makes the pair atomic among
    importers (workers and the importer alike). Nothing else takes ids from these sequences on
    PostgreSQL (the ORM writer serves other databases): a nextval() slipping between the two
    statements would get an id of the block, and the COPY would then fail on the primary key,
    not write a row twice.
    """
    if n <= 0:
        return range(0)
    execute("SELECT pg_advisory_lock(%s)", [_ID_BLOCK_LOCK])
    try:
        first = int(execute("SELECT nextval(%s)", [sequence]).fetchone()[0])
        if n > 1:
            execute("SELECT setval(%s, %s)", [sequence, first + n - 1])
    finally:
        execute("SELECT pg_advisory_unlock(%s)", [_ID_BLOCK_LOCK])
    return range(first, first + n)


@dataclass
class Chunk:
    """COPY text for some tracks and their identifiers, and the problems met on the way."""

    tracks: bytes = b""
    identifiers: bytes = b""
    readings: bytes = b""
    rows: int = 0
    rejected: int = 0  # lines that did not become a track
    warnings: int = 0  # lines kept as a track without a bad optional field
    problems: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Where the rows go: the version, and the sequences that give primary keys."""

    version_id: int
    track_seq: str
    ident_seq: str


def is_warning(problem: ImportProblem) -> bool:
    return KEPT_MARK in problem.reason


def _strip_nul(text: str) -> str:
    return text.replace("\x00", "")


def _extra_json(extra: dict[str, Any]) -> str:
    """`extra` as compact JSON. The readers' flat objects of text, booleans and integers are
    written directly (json.dumps cost ~5% of a LAION row's encoding); anything else goes to
    json.dumps. Strings are escaped by json's own (C) encoder, as json.dumps does."""
    if not extra:
        return "{}"
    parts = []
    for key, value in extra.items():
        if value is True:
            text = "true"
        elif value is False:
            text = "false"
        elif type(value) is str:
            text = _json_string(value)
        elif type(value) is int:
            text = str(value)
        else:
            return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"{_json_string(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def _text_fields(rec: TrackRecord, prepared: Prepared) -> list[str]:
    side = prepared.side
    extra = _extra_json(rec.extra)
    return [
        rec.track_id[:128],
        "; ".join(rec.artists),
        rec.title,
        rec.album or "",
        (rec.isrc or "")[:12],
        rec.url or "",
        extra,
        rec.source_file[:255],
        side.artist_key,
        side.title_key,
        side.artists_norm,
        side.version,
    ]


def _duration(duration_s: float | None) -> str:
    return "\\N" if duration_s is None else repr(float(duration_s))


def _track_line(track_pk: int, target: Target, rec: TrackRecord, prepared: Prepared) -> str:
    fields = _text_fields(rec, prepared)
    joined = "\x00".join(fields)
    if joined.count("\x00") != len(fields) - 1:  # a field held NUL: drop it, nothing readable lost
        joined = "\x00".join(_strip_nul(text) for text in fields)
    duration = _duration(rec.duration_s)
    return f"{track_pk}\t{target.version_id}\t{duration}\t{rec.source_row}\t{escape(joined)}\n"


def reading_lines(
    version_id: int,
    track_pk: int,
    artists: str | Sequence[str],
    title: str,
    prepared: Prepared,
    duration_s: float | None,
) -> list[str]:
    """COPY lines of a track's extra readings (matcher.engine.readings), usually none."""
    lines = []
    readings = extra_readings(
        artists=artists, title=title, credited=prepared, duration_s=duration_s
    )
    for number, reading in enumerate(readings, start=1):
        side = reading.prepared.side
        fields = (reading.name, side.artist_key, side.title_key, side.artists_norm, side.version)
        text = escape("\x00".join(_strip_nul(f) for f in fields))
        lines.append(f"{version_id}\t{track_pk}\t{number}\t{_duration(duration_s)}\t{text}\n")
    return lines


def encode(
    records: Iterable[TrackRecord | ImportProblem],
    target: Target,
    allocate: IdAllocator,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """Group records into chunks of COPY text; primary keys come from `allocate`."""
    pending: list[TrackRecord] = []
    chunk = Chunk()
    for item in records:
        if isinstance(item, ImportProblem):
            _count_problem(chunk, item)
            continue
        pending.append(item)
        if len(pending) >= chunk_rows:
            yield _fill(chunk, pending, target, allocate)
            pending = []
            chunk = Chunk()
    if pending or chunk.problems or chunk.rejected or chunk.warnings:
        yield _fill(chunk, pending, target, allocate)


def encode_records(
    records: Iterable[TrackRecord | ImportProblem], target: Target, allocate: IdAllocator
) -> Chunk:
    """All of `records` (a few thousand at most) as one chunk."""
    chunk = Chunk()
    pending: list[TrackRecord] = []
    for item in records:
        if isinstance(item, ImportProblem):
            _count_problem(chunk, item)
        else:
            pending.append(item)
    return _fill(chunk, pending, target, allocate)


def _count_problem(chunk: Chunk, problem: ImportProblem) -> None:
    if is_warning(problem):
        chunk.warnings += 1
    else:
        chunk.rejected += 1
    if len(chunk.problems) < PROBLEMS_PER_CHUNK:
        chunk.problems.append((problem.source_file, problem.source_row, problem.reason))


def _fill(chunk: Chunk, recs: list[TrackRecord], target: Target, allocate: IdAllocator) -> Chunk:
    if not recs:
        return chunk
    track_ids = allocate(target.track_seq, len(recs))
    n_idents = sum(len(rec.identifiers) for rec in recs)
    ident_ids = iter(allocate(target.ident_seq, n_idents) if n_idents else ())
    lines = []
    ident_lines = []
    read_lines: list[str] = []
    vid = target.version_id
    for track_pk, rec in zip(track_ids, recs, strict=True):
        prepared = prepare(artists=rec.artists, title=rec.title, duration_s=rec.duration_s)
        lines.append(_track_line(track_pk, target, rec, prepared))
        read_lines += reading_lines(vid, track_pk, rec.artists, rec.title, prepared, rec.duration_s)
        for kind, value in rec.identifiers:
            text = escape(f"{kind[:16]}\x00{_strip_nul(value)[:255]}")
            ident_lines.append(f"{next(ident_ids)}\t{vid}\t{track_pk}\t{text}\n")
    chunk.tracks = "".join(lines).encode()
    chunk.identifiers = "".join(ident_lines).encode()
    chunk.readings = "".join(read_lines).encode()
    chunk.rows = len(recs)
    return chunk
