"""Imports a dataset's native files into a new dataset version, streaming with bounded memory.

Readers (matcher.datasets) yield records; each record is normalized (matcher.engine) and written
in batches: COPY on PostgreSQL, bulk inserts elsewhere. One import is one transaction, so a
failed import leaves nothing behind. Identical files are recognised by their SHA-256 and not
imported twice.

On PostgreSQL, big inputs are read and normalized by worker processes (matcher.datasets.copy_text)
while this process COPYs their output; a very large import into a comparatively small table
drops the track tables' secondary indexes and foreign keys, and rebuilds them after the load
(building an index once is several times faster than maintaining it row by row). Both happen
inside the same transaction, so the all-or-nothing guarantee holds; the price is that the
track tables are locked against readers until the import commits.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from matcher.datasets import copy_text
from matcher.datasets import workers as import_workers
from matcher.datasets.base import DatasetFormatError, ImportProblem, TrackRecord
from matcher.datasets.registry import FORMATS, KNOWN_DATASETS
from matcher.engine.keys import prepare
from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.engine.readings import Reading, extra_readings
from matcher.models import Dataset, DatasetTrack, DatasetVersion, TrackIdentifier, TrackReading
from matcher.search.services import search_terms_add, search_terms_refresh

logger = logging.getLogger(__name__)

PROBLEMS_KEPT = 1000  # problems listed in the summary; all are counted
BATCH_ROWS = 5000  # rows per bulk insert on the ORM path
PARALLEL_MIN_BYTES = 8 << 20  # smaller inputs are encoded in-process: spawning costs ~1 s
BULK_MIN_ROWS = 500_000  # below this, maintaining the indexes row by row is cheap enough
MAX_WORKERS = 2
# A new dataset whose tracks are at most this share of all current tracks has its keys added to
# the search terms; otherwise (or when a version is replaced) the terms are rebuilt.
TERMS_ADD_MAX_SHARE = 0.1

TRACK_COLUMNS = (
    "id",
    "version_id",
    "track_id",
    "artist",
    "title",
    "album",
    "duration_s",
    "isrc",
    "url",
    "extra",
    "source_file",
    "source_row",
    "artist_key",
    "title_key",
    "artists_norm",
    "version_label",
)


class DatasetImportError(Exception):
    """The import cannot go on; the message says which file and why."""


@dataclass
class ImportSummary:
    dataset: str
    version_number: int
    sha256: str
    created: bool  # False: these exact files were imported before, nothing was done
    rows: int = 0
    rejected_count: int = 0  # source lines that did not become a track
    warning_count: int = 0  # lines imported as a track, without a bad optional field
    duplicate_count: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    rebuilt_indexes: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, for benchmarks
    details: dict[str, float] = field(default_factory=dict)  # seconds per statement of a step

    @property
    def problem_count(self) -> int:
        return self.rejected_count + self.warning_count

    def add_problem(self, source_file: str, source_row: int, reason: str, *, kept: bool) -> None:
        if kept:
            self.warning_count += 1
        else:
            self.rejected_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(
                {"file": source_file, "row": source_row, "reason": reason, "kept": kept}
            )

    def lines(self) -> list[str]:
        if not self.created:
            return [
                f"{self.dataset}: these files are already imported as version "
                f"{self.version_number} ({self.sha256[:12]}); nothing to do."
            ]
        out = [
            f"{self.dataset}: version {self.version_number} ({self.sha256[:12]}) imported: "
            f"{self.rows:,} tracks in {self.seconds:.1f} s; {self.duplicate_count:,} duplicate "
            f"ids skipped; {self.rejected_count:,} lines rejected (not imported); "
            f"{self.warning_count:,} lines imported with a warning."
        ]
        for p in self.problems[:20]:
            what = "kept" if p["kept"] else "rejected"
            out.append(f"  {p['file']}, line {p['row']} ({what}): {p['reason']}")
        if self.problem_count > 20:
            out.append(
                f"  ... and {self.problem_count - 20:,} more (the first {PROBLEMS_KEPT:,} are "
                "listed in the version record)"
            )
        return out


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def dataset_get_or_create(*, slug: str) -> Dataset:
    info = KNOWN_DATASETS.get(slug)
    defaults: dict[str, Any] = {"name": slug}
    if info is not None:
        defaults = {
            "name": info.name,
            "publisher": info.publisher,
            "source_url": info.source_url,
            "licence": info.licence,
            "description": info.description,
        }
    dataset, _ = Dataset.objects.get_or_create(slug=slug, defaults=defaults)
    return dataset


def dataset_import(
    *,
    slug: str,
    paths: Sequence[Path],
    file_format: str,
    progress: Callable[[int], None] | None = None,
    use_copy: bool | None = None,
    workers: int | None = None,
    rebuild_indexes: bool | None = None,
) -> ImportSummary:
    """Import `paths` (read with `file_format`) as a new version of dataset `slug`.

    `use_copy` (default: on PostgreSQL), `workers` (default: 2 for inputs over 8 MB) and
    `rebuild_indexes` (default: for big loads into a comparatively small table) exist so tests
    and benchmarks can choose a path; results are the same whichever is taken.
    """
    if file_format not in FORMATS:
        raise DatasetImportError(
            f"unknown format {file_format!r}; known formats: {', '.join(sorted(FORMATS))}"
        )
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise DatasetImportError(f"{path}: no such file")
    files: list[dict[str, Any]] = [
        {"name": p.name, "bytes": p.stat().st_size, "sha256": file_digest(p)} for p in paths
    ]
    # The version is the content: the same files in any order are the same version.
    combined = hashlib.sha256("\n".join(sorted(f["sha256"] for f in files)).encode()).hexdigest()

    dataset = dataset_get_or_create(slug=slug)
    existing = DatasetVersion.objects.filter(dataset=dataset, sha256=combined).first()
    if existing is not None and existing.status == DatasetVersion.Status.READY:
        return ImportSummary(
            slug, existing.number, combined, created=False, rows=existing.row_count
        )
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"

    started = time.monotonic()
    replaced = dataset.current_version_id
    with transaction.atomic():
        if existing is not None:
            # a failed or interrupted earlier attempt; its rows go without a Python-side cascade
            _delete_version_rows(existing.pk)
            existing.delete()
        number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            sha256=combined,
            files=files,
            file_format=file_format,
            normalizer_version=NORMALIZER_VERSION,
        )
        summary = ImportSummary(slug, number, combined, created=True)
        try:
            if use_copy:
                _copy_load(
                    version.pk,
                    file_format,
                    paths,
                    summary,
                    progress,
                    workers=workers,
                    rebuild_indexes=rebuild_indexes,
                )
            else:
                writer = _OrmWriter(version.pk)
                _load(FORMATS[file_format](paths), writer, summary, progress)
                summary.duplicate_count = writer.remove_duplicate_ids()
                summary.rows -= summary.duplicate_count
        except DatasetFormatError as exc:
            raise DatasetImportError(str(exc)) from exc
        version.row_count = summary.rows
        version.problem_count = summary.problem_count
        version.problems = summary.problems
        version.duplicate_count = summary.duplicate_count
        version.status = DatasetVersion.Status.READY
        version.finished_at = timezone.now()
        version.save()
        dataset.current_version = version
        dataset.save(update_fields=["current_version"])
    summary.seconds = time.monotonic() - started
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-vacuum") as pool:
        vacuum = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # on its own connection, beside the search terms: each keeps one core busy
            vacuum = pool.submit(_vacuum, summary.phases, summary.details)
        # The public search reads the distinct keys of the current versions (matcher.search).
        mark = time.monotonic()
        if replaced is None and summary.rows <= TERMS_ADD_MAX_SHARE * _current_tracks():
            search_terms_add(version.pk)
            summary.phases["search terms (added)"] = time.monotonic() - mark
        else:
            search_terms_refresh()
            summary.phases["search terms"] = time.monotonic() - mark
        if vacuum is not None:
            vacuum.result()  # its errors are the import's
    logger.info(
        "dataset imported",
        extra={"dataset": slug, "version": number, "rows": summary.rows, "s": summary.seconds},
    )
    return summary


def _current_tracks() -> int:
    """Tracks in the current versions of all datasets."""
    total = DatasetVersion.objects.filter(
        pk__in=Dataset.objects.exclude(current_version=None).values("current_version")
    ).aggregate(n=Sum("row_count"))["n"]
    return int(total or 0)


def _vacuum(phases: dict[str, float], details: dict[str, float]) -> None:
    """VACUUM (ANALYZE) the track tables after an import has committed, on this thread's own
    connection (closed at the end); records its time in `phases`.

    Matching reads its candidates with index-only scans of the covering indexes, which stay
    index-only only for table pages marked all-visible; a freshly loaded table has none, and
    autovacuum may not come for a long time (measured on 12.2M fresh tracks: a 500-row chunk's
    candidate reads took ~1.8 s instead of well under 0.1 s, each index entry checked against its
    table page). VACUUM skips pages already all-visible, so after a small import it only visits
    what changed. It cannot run inside a transaction: callers in one (tests) skip it.
    """
    mark = time.monotonic()
    try:
        with connection.cursor() as cur:
            for model in (DatasetTrack, TrackIdentifier, TrackReading):
                table = model._meta.db_table
                with _timed(details, f"vacuum {table}"):
                    # Table names come from the models, never from input.
                    cur.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
    finally:
        connection.close()
    phases["vacuum"] = time.monotonic() - mark


def _delete_version_rows(version_id: int) -> None:
    with connection.cursor() as cur:
        for model in (TrackIdentifier, TrackReading, DatasetTrack):
            # Table names come from the models, never from input.
            cur.execute(
                f"DELETE FROM {model._meta.db_table} WHERE version_id = %s",  # noqa: S608
                [version_id],
            )


# --- PostgreSQL: COPY, workers, index rebuild ----------------------------------------------------


def _conninfo() -> dict[str, Any]:
    """Connection parameters a worker process can use (plain values only, picklable)."""
    params = connection.get_connection_params()
    return {
        k: v for k, v in params.items() if isinstance(v, str | int) and k != "prepare_threshold"
    }


def _copy_load(
    version_id: int,
    file_format: str,
    paths: Sequence[Path],
    summary: ImportSummary,
    progress: Callable[[int], None] | None,
    *,
    workers: int | None,
    rebuild_indexes: bool | None,
) -> None:
    track_table = DatasetTrack._meta.db_table
    ident_table = TrackIdentifier._meta.db_table
    reading_table = TrackReading._meta.db_table
    units = import_workers.plan_units(file_format, paths)
    if workers is None:
        big = sum(path.stat().st_size for path in paths) >= PARALLEL_MIN_BYTES
        workers = min(MAX_WORKERS, os.cpu_count() or 1, len(units)) if big else 1
    workers = max(1, min(workers, len(units)))
    summary.workers = workers
    with connection.cursor() as wrapper:
        cur = wrapper.cursor  # the psycopg 3 cursor, for COPY
        # The import is one transaction that can be replayed from the files: losing its commit
        # in a crash costs nothing, waiting for the WAL flush does.
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute("SET LOCAL work_mem = '64MB'")
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [track_table])
        track_seq = cur.fetchone()[0]
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [ident_table])
        ident_seq = cur.fetchone()[0]
        if rebuild_indexes is None:
            cur.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [track_table])
            existing = max(cur.fetchone()[0], 0)
            expected = FORMATS[file_format].estimate_rows(paths)
            rebuild_indexes = expected >= BULK_MIN_ROWS and expected >= existing / 2
        summary.rebuilt_indexes = rebuild_indexes
        tables = [track_table, ident_table, reading_table]
        saved = _drop_secondary(cur, tables) if rebuild_indexes else None

        loading = time.monotonic()
        target = copy_text.Target(version_id, track_seq, ident_seq)
        chunks: Iterator[copy_text.Chunk]
        if workers > 1:
            chunks = import_workers.parallel_chunks(
                conninfo=_conninfo(), target=target, units=units, workers=workers
            )
        else:

            def allocate(seq: str, n: int) -> range:
                return copy_text.reserve_ids(cur.execute, seq, n)

            chunks = (
                chunk
                for unit in units
                for chunk in import_workers.encode_unit(unit, target, allocate)
            )
        track_copy = f"COPY {track_table} ({', '.join(copy_text.TRACK_COPY_COLUMNS)}) FROM STDIN"
        ident_copy = f"COPY {ident_table} ({', '.join(copy_text.IDENT_COPY_COLUMNS)}) FROM STDIN"
        reading_copy = (
            f"COPY {reading_table} ({', '.join(copy_text.READING_COPY_COLUMNS)}) FROM STDIN"
        )
        try:
            for chunk in chunks:
                for source_file, source_row, reason in chunk.problems:
                    summary.add_problem(
                        source_file, source_row, reason, kept=copy_text.KEPT_MARK in reason
                    )
                # counts beyond the listed problems (a chunk lists at most PROBLEMS_PER_CHUNK)
                listed_kept = sum(copy_text.KEPT_MARK in p[2] for p in chunk.problems)
                summary.warning_count += chunk.warnings - listed_kept
                summary.rejected_count += chunk.rejected - (len(chunk.problems) - listed_kept)
                if not chunk.rows:
                    continue
                with cur.copy(track_copy) as copy:
                    copy.write(chunk.tracks)
                if chunk.identifiers:
                    with cur.copy(ident_copy) as copy:
                        copy.write(chunk.identifiers)
                if chunk.readings:
                    with cur.copy(reading_copy) as copy:
                        copy.write(chunk.readings)
                summary.rows += chunk.rows
                if progress:
                    progress(chunk.rows)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # stops the workers if the load failed part-way
        mark = time.monotonic()
        summary.phases["load"] = mark - loading
        # Fresh statistics so the duplicate removal joins by hash, not row by row: a load too
        # small to rebuild the indexes is still new to the statistics (its version is estimated
        # at one row), and the ranking's semi join would then rescan the repeated ids per track.
        for table in tables:
            cur.execute(f"ANALYZE {table}")
        summary.phases["analyze"] = time.monotonic() - mark
        mark = time.monotonic()
        summary.duplicate_count = _remove_duplicates(
            cur, version_id, [path.name[:255] for path in paths], summary.details, saved
        )
        summary.rows -= summary.duplicate_count
        summary.phases["duplicates"] = time.monotonic() - mark
        if saved is not None:
            _restore_secondary(cur, saved, summary.phases, summary.details)


@contextmanager
def _timed(details: dict[str, float], name: str) -> Iterator[None]:
    mark = time.monotonic()
    yield
    details[name] = time.monotonic() - mark


def _remove_duplicates(
    cur: Any,
    version_id: int,
    file_order: list[str],
    details: dict[str, float],
    saved: _Secondary | None,
) -> int:
    """Keep each dataset id's first track (by file order, then line); drop later repeats.

    `saved` holds the dropped indexes of a big load: the identifiers' index on their track is
    then built before the repeats' identifiers are deleted (it was to be built anyway), so both
    deletes find their rows through indexes. LAION, 123k repeats: 6.4 + 4.7 s, against
    12.3 + 4.7 s as scans of the 25M identifiers and 12.3M tracks.
    """
    track_table = DatasetTrack._meta.db_table
    ident_table = TrackIdentifier._meta.db_table
    reading_table = TrackReading._meta.db_table
    # Workers write in any order, so "first" comes from the provenance, not from the ids.
    order = "array_position(%s::text[], source_file::text), source_row, id"
    ranked = f"SELECT id, row_number() OVER (PARTITION BY track_id ORDER BY {order}) AS n"
    # Repeated ids are found first, by sorting the ids alone in byte order ("C": no locale rules,
    # abbreviated keys), so only their few tracks are ranked. On LAION's 12.2M tracks: 7.5 s,
    # then 4 s to rank, where ranking every track (a sort on four keys) took 20 s, and hashing
    # the ids 13 s.
    cur.execute("CREATE TEMP TABLE import_repeated (track_id text) ON COMMIT DROP")
    cur.execute("SET LOCAL enable_hashagg = off")
    with _timed(details, "duplicates: repeated ids"):
        cur.execute(
            "INSERT INTO import_repeated "  # noqa: S608
            f'SELECT track_id COLLATE "C" FROM {track_table} WHERE version_id = %s '
            "GROUP BY 1 HAVING count(*) > 1",
            [version_id],
        )
    cur.execute("RESET enable_hashagg")
    cur.execute("ANALYZE import_repeated")
    with _timed(details, "duplicates: ranked"):
        cur.execute(
            f"CREATE TEMP TABLE import_duplicates ON COMMIT DROP AS SELECT id FROM ("  # noqa: S608
            f"{ranked} FROM {track_table} WHERE version_id = %s AND track_id IN "
            "(SELECT track_id FROM import_repeated)) r WHERE n > 1",
            [file_order, version_id],
        )
    cur.execute("DROP TABLE import_repeated")
    cur.execute("SELECT count(*) FROM import_duplicates")
    count = cur.fetchone()[0]
    if count:
        # Without statistics the planner may rescan the temp table per identifier row.
        cur.execute("ANALYZE import_duplicates")
        if saved is not None:
            _build_saved_index(cur, saved, ident_table, "track_id", details)
        cur.execute("SET LOCAL enable_seqscan = off")
        with _timed(details, "duplicates: identifiers deleted"):
            cur.execute(
                f"DELETE FROM {ident_table} i USING import_duplicates d "  # noqa: S608
                "WHERE i.track_id = d.id"
            )
        with _timed(details, "duplicates: readings deleted"):
            # through the primary key (track_id, reading), which the load keeps
            cur.execute(
                f"DELETE FROM {reading_table} r USING import_duplicates d "  # noqa: S608
                "WHERE r.track_id = d.id"
            )
        with _timed(details, "duplicates: tracks deleted"):
            cur.execute(
                f"DELETE FROM {track_table} t USING import_duplicates d "  # noqa: S608
                "WHERE t.id = d.id"
            )
        cur.execute("RESET enable_seqscan")
    cur.execute("DROP TABLE import_duplicates")
    return int(count)


@dataclass
class _Secondary:
    indexes: list[str]  # CREATE INDEX statements
    foreign_keys: list[tuple[str, str, str]]  # (table, constraint name, definition)


def _drop_secondary(cur: Any, tables: list[str]) -> _Secondary:
    """Drop the foreign keys and non-constraint indexes of `tables`; return how to rebuild them."""
    from psycopg import sql

    cur.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])",
        [tables],
    )
    foreign_keys = [tuple(row) for row in cur.fetchall()]
    cur.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [tables],
    )
    indexes = cur.fetchall()
    # ALTER TABLE refuses to run while deferred checks (of the new version row) are pending
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute("SET CONSTRAINTS ALL DEFERRED")
    for table, name, _ in foreign_keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    for name, _ in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return _Secondary([definition for _, definition in indexes], foreign_keys)


def _build_saved_index(
    cur: Any, saved: _Secondary, table: str, column: str, details: dict[str, float]
) -> None:
    """Build now, and take off the list, the saved index of `table` on `column` alone."""
    shape = re.compile(rf" ON (?:\S+\.)?{re.escape(table)} USING btree \({re.escape(column)}\)$")
    for definition in saved.indexes:
        if shape.search(definition):
            _build_index(cur, definition, details)
            saved.indexes.remove(definition)
            return


def _build_index(cur: Any, definition: str, details: dict[str, float]) -> None:
    """Run a CREATE INDEX statement, timed in `details` under the index's name."""
    name = definition.split(" INDEX ", 1)[1].split()[0]
    with _timed(details, f"index {name}"):
        cur.execute(definition)


def _restore_secondary(
    cur: Any, saved: _Secondary, phases: dict[str, float], details: dict[str, float]
) -> None:
    from psycopg import sql

    # fire the checks the duplicate removal queued (Match rows referencing tracks), as above
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute("SET CONSTRAINTS ALL DEFERRED")
    mark = time.monotonic()
    for definition in saved.indexes:
        _build_index(cur, definition, details)
    phases["indexes"] = time.monotonic() - mark
    mark = time.monotonic()
    for table, name, definition in saved.foreign_keys:
        # validated here, with one join per constraint instead of one check per row
        with _timed(details, f"key {name}"):
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
                + sql.SQL(definition)
            )
    phases["foreign keys"] = time.monotonic() - mark


# --- other databases: bulk inserts through the ORM ------------------------------------------------


def _load(
    records: Iterable[TrackRecord | ImportProblem],
    writer: _OrmWriter,
    summary: ImportSummary,
    progress: Callable[[int], None] | None,
) -> None:
    batch: list[_OrmRow] = []
    for item in records:
        if isinstance(item, ImportProblem):
            summary.add_problem(
                item.source_file, item.source_row, item.reason, kept=copy_text.is_warning(item)
            )
            continue
        batch.append(_track_row(item))
        if len(batch) >= BATCH_ROWS:
            writer.write(batch)
            summary.rows += len(batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        writer.write(batch)
        summary.rows += len(batch)
        if progress:
            progress(len(batch))


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; nothing a person reads is lost by dropping it.
    return text.replace("\x00", "") if "\x00" in text else text


# A track's column values (TRACK_COLUMNS[2:]), identifiers and extra readings.
_OrmRow = tuple[list[Any], list[tuple[str, str]], list[Reading]]


def _track_row(rec: TrackRecord) -> _OrmRow:
    prepared = prepare(artists=rec.artists, title=rec.title, duration_s=rec.duration_s)
    readings = extra_readings(
        artists=rec.artists, title=rec.title, credited=prepared, duration_s=rec.duration_s
    )
    side = prepared.side
    row = [
        _clean(rec.track_id)[:128],
        _clean("; ".join(rec.artists)),
        _clean(rec.title),
        _clean(rec.album or ""),
        rec.duration_s,
        (rec.isrc or "")[:12],
        _clean(rec.url or ""),
        rec.extra or {},
        rec.source_file[:255],
        rec.source_row,
        _clean(side.artist_key),
        _clean(side.title_key),
        _clean(side.artists_norm),
        side.version,
    ]
    return row, rec.identifiers, readings


class _OrmWriter:
    def __init__(self, version_id: int) -> None:
        self.version_id = version_id

    def write(self, batch: list[_OrmRow]) -> None:
        tracks = [
            DatasetTrack(
                version_id=self.version_id, **dict(zip(TRACK_COLUMNS[2:], row, strict=True))
            )
            for row, _, _ in batch
        ]
        DatasetTrack.objects.bulk_create(tracks, batch_size=1000)
        idents = [
            TrackIdentifier(version_id=self.version_id, track_id=track.pk, kind=kind, value=value)
            for track, (_, pairs, _) in zip(tracks, batch, strict=True)
            for kind, value in pairs
        ]
        TrackIdentifier.objects.bulk_create(idents, batch_size=1000)
        readings = [
            TrackReading(
                version_id=self.version_id,
                track_id=track.pk,
                reading=number,
                name=reading.name,
                artist_key=_clean(reading.prepared.side.artist_key),
                title_key=_clean(reading.prepared.side.title_key),
                artists_norm=_clean(reading.prepared.side.artists_norm),
                version_label=reading.prepared.side.version,
                duration_s=track.duration_s,
            )
            for track, (_, _, extra) in zip(tracks, batch, strict=True)
            for number, reading in enumerate(extra, start=1)
        ]
        TrackReading.objects.bulk_create(readings, batch_size=1000)

    def remove_duplicate_ids(self) -> int:
        """Keep the first track of each dataset id (lowest line), drop later repeats.

        Tracks are inserted in reading order here, so the lowest id is the first line.
        """
        table = DatasetTrack._meta.db_table
        ident_table = TrackIdentifier._meta.db_table
        # Table names come from the models, never from input.
        dup_sql = (
            f"SELECT t.id FROM {table} t WHERE t.version_id = %s AND EXISTS ("  # noqa: S608
            f"SELECT 1 FROM {table} u WHERE u.version_id = t.version_id "
            f"AND u.track_id = t.track_id AND u.id < t.id)"
        )
        with connection.cursor() as cur:
            for dependent in (ident_table, TrackReading._meta.db_table):
                cur.execute(
                    f"DELETE FROM {dependent} WHERE track_id IN ({dup_sql})",  # noqa: S608
                    [self.version_id],
                )
            cur.execute(
                f"DELETE FROM {table} WHERE id IN ({dup_sql})",  # noqa: S608
                [self.version_id],
            )
            return cur.rowcount or 0
