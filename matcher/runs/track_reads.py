"""Reads of dataset tracks for blocking: the same lookups on PostgreSQL (index-only scans of the
covering indexes) and through the ORM (the embedded SQLite default), side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Q

from matcher.engine.keys import (
    ARTIST_KEY_CAP,
    PREFIX_CAP,
    TrackSide,
)
from matcher.engine.normalize import translit
from matcher.models import (
    DatasetTrack,
)
from matcher.search.keys import RANGE_END, index_reads

_T = TypeVar("_T")


@dataclass
class Candidate:
    """A candidate that passed the screen and was scored (see _score)."""

    track_pk: int
    version_id: int
    side: TrackSide
    # Provenance is read only for the candidates that become matches (fill_provenance): the
    # candidate columns come from covering indexes, without visiting the table's rows.
    dataset_track_id: str = ""
    source_file: str = ""
    source_row: int = 0


# Every column a candidate needs is in the covering indexes track_title_cover and
# track_artist_cover (see models.DatasetTrack), so blocking reads index pages only: against 22M
# rows a chunk's ~85,000 candidates cost tens of milliseconds instead of as many random reads of
# table pages. Keep this list and the indexes' INCLUDE lists in step.
TRACK_FIELDS = (
    "pk",
    "version_id",
    "artist_key",
    "title_key",
    "artists_norm",
    "version_label",
    "duration_s",
)


TRACK_COLUMNS = ("id", *TRACK_FIELDS[1:])


# A candidate as read (the values of TRACK_FIELDS, in order), and the positions in it.
TrackRow = tuple[Any, ...]


TKEY = TRACK_FIELDS.index("title_key")


AKEY = TRACK_FIELDS.index("artist_key")


ANORM = TRACK_FIELDS.index("artists_norm")


def candidate_from_row(row: TrackRow) -> Candidate:
    pk, version_id, a_key, t_key, artists_norm, label, duration = row
    return Candidate(
        pk,
        version_id,
        TrackSide.from_stored(
            artist_key=a_key,
            title_key=t_key,
            artists_norm=artists_norm,
            version=label,
            duration_s=duration,
        ),
    )


@dataclass
class Lookups:
    """What blocking reads from the tracks: ids (shared identifiers), keys equal to one of
    a list, an artist key with a range of title keys starting with one character (artists
    with many tracks), and key prefixes (ranges of the index)."""

    pks: list[int] = field(default_factory=list)
    equal: dict[str, list[str]] = field(default_factory=dict)
    artist_title_ranges: list[tuple[str, str]] = field(default_factory=list)
    prefixes: dict[str, list[str]] = field(default_factory=dict)


def fetch_tracks(
    lookups: Lookups,
    version_ids: list[int],
    using: str,
    rows: dict[int, TrackRow],
) -> list[int]:
    """Add the tracks found by `lookups` to `rows`; returns the ids of the rows read."""
    if connections[using].vendor == "postgresql":
        fetched = _fetch_rows_postgresql(lookups, version_ids, using)
    else:
        fetched = _fetch_rows_orm(lookups, version_ids, using)
    read: list[int] = []
    for row in fetched:
        pk = row[0]
        read.append(pk)
        if pk not in rows:
            rows[pk] = row
    return read


def _fetch_rows_postgresql(
    lookups: Lookups, version_ids: list[int], using: str
) -> Iterable[tuple[Any, ...]]:
    """One statement per kind of lookup, each answered by an index-only scan of a covering
    index: an OR of them would be a bitmap scan, which reads the table's rows (13 s for one
    chunk's 85,000 candidates against 22M rows, against well under a second this way).

    The ranges joined LATERAL carry a LIMIT above what their keys were counted to hold (so it
    never cuts): a subquery with a LIMIT is run per range, as an index range scan. Without it
    PostgreSQL flattened the join and, guessing 0.2% of the table per range, scanned the whole
    covering index against the array instead: 37 s for 50 prefixes at 22M tracks, 4 ms for
    1,243 prefixes with it."""
    table = connections[using].ops.quote_name(DatasetTrack._meta.db_table)
    columns = ", ".join(f"t.{c}" for c in TRACK_COLUMNS)
    # Versions are checked on the index entry (version_id is an INCLUDE column); "+ 0" keeps
    # PostgreSQL from trying to combine a version index with the key lookups.
    versions = "t.version_id + 0 = ANY(%s::bigint[])"
    # Only the fixed column names and the model's table name are interpolated.
    statements: list[tuple[str, list[Any]]] = []
    if lookups.pks:
        statements.append(
            (
                f"SELECT {columns} FROM {table} t WHERE t.id = ANY(%s::bigint[]) "  # noqa: S608
                f"AND {versions}",
                [lookups.pks, version_ids],
            )
        )
    for column, keys in lookups.equal.items():
        assert column in ("title_key", "artist_key")
        for part in slices(keys, 1000):
            statements.append(
                (
                    f"SELECT {columns} FROM {table} t WHERE t.{column} = ANY(%s::text[]) "  # noqa: S608
                    f"AND {versions}",
                    [part, version_ids],
                )
            )
    if lookups.artist_title_ranges:
        artists = [a for a, _ in lookups.artist_title_ranges]
        initials = [i for _, i in lookups.artist_title_ranges]
        statements.append(
            (
                f"SELECT {columns} FROM unnest(%s::text[], %s::text[]) AS r(a, i) "  # noqa: S608
                f"CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE t.artist_key = r.a "
                f"AND t.title_key >= r.i AND t.title_key < r.i || %s AND {versions} "
                f"LIMIT %s) t",
                [artists, initials, RANGE_END, version_ids, ARTIST_KEY_CAP + 1],
            )
        )
    for column, prefixes in lookups.prefixes.items():
        assert column in ("title_key", "artist_key")
        if prefixes:
            statements.append(
                (
                    f"SELECT {columns} FROM unnest(%s::text[]) AS r(p) "  # noqa: S608
                    f"CROSS JOIN LATERAL (SELECT * FROM {table} t WHERE t.{column} >= r.p "
                    f"AND t.{column} < r.p || %s AND {versions} LIMIT %s) t",
                    [prefixes, RANGE_END, version_ids, PREFIX_CAP + 1],
                )
            )
    rows: list[tuple[Any, ...]] = []
    with index_reads(using) as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            rows.extend(cursor.fetchall())
    return rows


def _fetch_rows_orm(
    lookups: Lookups, version_ids: list[int], using: str
) -> Iterable[tuple[Any, ...]]:
    """The same lookups through the ORM, for the embedded SQLite default."""
    conditions = [Q(pk__in=lookups.pks)] if lookups.pks else []
    for column, keys in lookups.equal.items():
        for part in slices(keys, 400):
            conditions.append(Q(**{f"{column}__in": part}))
    for artist_key, initial in lookups.artist_title_ranges:
        conditions.append(
            Q(artist_key=artist_key, title_key__gte=initial, title_key__lt=initial + RANGE_END)
        )
    for column, prefixes in lookups.prefixes.items():
        for prefix in prefixes:
            conditions.append(Q(**{f"{column}__gte": prefix, f"{column}__lt": prefix + RANGE_END}))
    in_versions = Q(version_id__in=version_ids)
    for part in slices(conditions, 200):
        condition = part[0] & in_versions
        for extra in part[1:]:
            condition |= extra & in_versions
        yield from DatasetTrack.objects.using(using).filter(condition).values_list(*TRACK_FIELDS)


def fill_provenance(
    tracks: dict[int, Candidate], pks: set[int], *, with_album: bool, using: str = "default"
) -> None:
    """Read the dataset's own id, the source file and line, and the album (compared only when
    the catalog has albums) of the candidates in `pks`: the matches, a few per row."""
    for part in slices(sorted(pks), 1000):
        for pk, dataset_track_id, source_file, source_row, album in (
            DatasetTrack.objects.using(using)
            .filter(pk__in=part)
            .values_list("pk", "track_id", "source_file", "source_row", "album")
        ):
            cand = tracks[pk]
            cand.dataset_track_id = dataset_track_id
            cand.source_file = source_file
            cand.source_row = source_row
            if with_album and album:
                cand.side = cand.side._replace(album_key=translit(album))


def slices(items: list[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
