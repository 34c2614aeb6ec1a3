"""Imports a dataset's native files into a new dataset version, streaming with bounded memory.

Readers (matcher.datasets) yield records; here each record is normalized (matcher.engine) and
written in batches: COPY on PostgreSQL, bulk inserts elsewhere. One import is one transaction,
so a failed import leaves nothing behind. Identical files are recognised by their SHA-256 and
not imported twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from matcher.datasets.base import DatasetFormatError, ImportProblem, TrackRecord
from matcher.datasets.registry import FORMATS, KNOWN_DATASETS
from matcher.engine.keys import prepare
from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.models import Dataset, DatasetTrack, DatasetVersion, TrackIdentifier

logger = logging.getLogger(__name__)

PROBLEMS_KEPT = 1000  # problems listed in the summary; all are counted
BATCH_ROWS = 5000

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
    problem_count: int = 0
    duplicate_count: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        if not self.created:
            return [
                f"{self.dataset}: these files are already imported as version "
                f"{self.version_number} ({self.sha256[:12]}); nothing to do."
            ]
        out = [
            f"{self.dataset}: version {self.version_number} ({self.sha256[:12]}) imported: "
            f"{self.rows:,} tracks in {self.seconds:.1f} s, {self.duplicate_count:,} duplicate "
            f"ids skipped, {self.problem_count:,} problem lines."
        ]
        for p in self.problems[:20]:
            out.append(f"  {p['file']}, line {p['row']}: {p['reason']}")
        if self.problem_count > 20:
            out.append(f"  ... and {self.problem_count - 20:,} more (listed in the version record)")
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
) -> ImportSummary:
    """Import `paths` (read with `file_format`) as a new version of dataset `slug`."""
    if file_format not in FORMATS:
        raise DatasetImportError(
            f"unknown format {file_format!r}; known formats: {', '.join(sorted(FORMATS))}"
        )
    for path in paths:
        if not path.is_file():
            raise DatasetImportError(f"{path}: no such file")
    files = [{"name": p.name, "bytes": p.stat().st_size, "sha256": file_digest(p)} for p in paths]
    # The version is the content: the same files in any order are the same version.
    combined = hashlib.sha256("\n".join(sorted(f["sha256"] for f in files)).encode()).hexdigest()

    dataset = dataset_get_or_create(slug=slug)
    existing = DatasetVersion.objects.filter(dataset=dataset, sha256=combined).first()
    if existing is not None and existing.status == DatasetVersion.Status.READY:
        return ImportSummary(
            slug, existing.number, combined, created=False, rows=existing.row_count
        )

    started = time.monotonic()
    reader = FORMATS[file_format]
    with transaction.atomic():
        if existing is not None:
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
        writer = (
            _PostgresWriter(version.pk)
            if connection.vendor == "postgresql"
            else _OrmWriter(version.pk)
        )
        summary = ImportSummary(slug, number, combined, created=True)
        try:
            _load(reader(list(paths)), writer, summary, progress)
        except DatasetFormatError as exc:
            raise DatasetImportError(str(exc)) from exc
        summary.duplicate_count = writer.remove_duplicate_ids()
        summary.rows -= summary.duplicate_count
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
    logger.info(
        "dataset imported",
        extra={"dataset": slug, "version": number, "rows": summary.rows, "s": summary.seconds},
    )
    return summary


def _load(
    records: Iterable[TrackRecord | ImportProblem],
    writer: _Writer,
    summary: ImportSummary,
    progress: Callable[[int], None] | None,
) -> None:
    batch: list[tuple[list[Any], list[tuple[str, str]]]] = []
    for item in records:
        if isinstance(item, ImportProblem):
            summary.problem_count += 1
            if len(summary.problems) < PROBLEMS_KEPT:
                summary.problems.append(
                    {"file": item.source_file, "row": item.source_row, "reason": item.reason}
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


def _track_row(rec: TrackRecord) -> tuple[list[Any], list[tuple[str, str]]]:
    prepared = prepare(artists=rec.artists, title=rec.title, duration_s=rec.duration_s)
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
    return row, rec.identifiers


class _Writer:
    def __init__(self, version_id: int) -> None:
        self.version_id = version_id

    def write(self, batch: list[tuple[list[Any], list[tuple[str, str]]]]) -> None:
        raise NotImplementedError

    def remove_duplicate_ids(self) -> int:
        """Keep the first track of each dataset id (lowest line), drop later repeats."""
        table = DatasetTrack._meta.db_table
        ident_table = TrackIdentifier._meta.db_table
        # Table names come from the models, never from input.
        dup_sql = (
            f"SELECT t.id FROM {table} t WHERE t.version_id = %s AND EXISTS ("  # noqa: S608
            f"SELECT 1 FROM {table} u WHERE u.version_id = t.version_id "
            f"AND u.track_id = t.track_id AND u.id < t.id)"
        )
        with connection.cursor() as cur:
            cur.execute(
                f"DELETE FROM {ident_table} WHERE track_id IN ({dup_sql})",  # noqa: S608
                [self.version_id],
            )
            cur.execute(
                f"DELETE FROM {table} WHERE id IN ({dup_sql})",  # noqa: S608
                [self.version_id],
            )
            return cur.rowcount or 0


class _OrmWriter(_Writer):
    def write(self, batch: list[tuple[list[Any], list[tuple[str, str]]]]) -> None:
        tracks = [
            DatasetTrack(
                version_id=self.version_id, **dict(zip(TRACK_COLUMNS[2:], row, strict=True))
            )
            for row, _ in batch
        ]
        DatasetTrack.objects.bulk_create(tracks, batch_size=1000)
        idents = [
            TrackIdentifier(version_id=self.version_id, track_id=track.pk, kind=kind, value=value)
            for track, (_, pairs) in zip(tracks, batch, strict=True)
            for kind, value in pairs
        ]
        TrackIdentifier.objects.bulk_create(idents, batch_size=1000)


class _PostgresWriter(_Writer):
    """COPY straight into the tables; ids are taken from the table's sequence beforehand."""

    def __init__(self, version_id: int) -> None:
        super().__init__(version_id)
        self.track_table = DatasetTrack._meta.db_table
        self.ident_table = TrackIdentifier._meta.db_table
        with connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.track_table])
            self.track_seq = cur.fetchone()[0]
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.ident_table])
            self.ident_seq = cur.fetchone()[0]

    def _ids(self, cur: Any, seq: str, n: int) -> list[int]:
        cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [seq, n])
        return [r[0] for r in cur.fetchall()]

    def write(self, batch: list[tuple[list[Any], list[tuple[str, str]]]]) -> None:
        with connection.cursor() as wrapper:
            cur = wrapper.cursor  # the psycopg 3 cursor, for COPY
            ids = self._ids(cur, self.track_seq, len(batch))
            n_idents = sum(len(pairs) for _, pairs in batch)
            ident_ids = self._ids(cur, self.ident_seq, n_idents) if n_idents else []
            cols = ", ".join(TRACK_COLUMNS)
            with cur.copy(f"COPY {self.track_table} ({cols}) FROM STDIN") as copy:
                for track_pk, (row, _) in zip(ids, batch, strict=True):
                    out = [track_pk, self.version_id, *row]
                    out[9] = json.dumps(out[9], ensure_ascii=False) if out[9] else "{}"
                    copy.write_row(out)
            if n_idents:
                it = iter(ident_ids)
                with cur.copy(
                    f"COPY {self.ident_table} (id, version_id, track_id, kind, value) FROM STDIN"
                ) as copy:
                    for track_pk, (_, pairs) in zip(ids, batch, strict=True):
                        for kind, value in pairs:
                            copy.write_row([next(it), self.version_id, track_pk, kind, value])
