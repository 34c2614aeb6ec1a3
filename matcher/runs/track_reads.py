"""Reads of dataset tracks for blocking: the same lookups on PostgreSQL (index-only scans of the
covering indexes) and on SQLite (the embedded default, plain indexes), side by side.

Every lookup reads the tracks (their credited reading) and their extra readings
(TrackReading: "Fred Neil - A Little Bit of Rain" uploaded by "monelle" also reads as Fred
Neil's song) by the same keys. A candidate is one reading of one track, identified by
`candidate_key(track id, reading number)`; reading 0 is the track's credited reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connections

from matcher.engine.keys import (
    ARTIST_KEY_CAP,
    PREFIX_CAP,
    TrackSide,
)
from matcher.engine.normalize import translit
from matcher.engine.readings import CREDITED, RUN_TOGETHER
from matcher.models import DatasetTrack, TrackReading
from matcher.search.keys import RANGE_END, index_reads

_T = TypeVar("_T")


READING_SLOTS = 8  # candidate keys: track id * READING_SLOTS + reading number
# Readings made at match time for one catalog row (blocking._run_together_row), never stored:
# their slots are above any stored reading's (readings.MAX_READINGS).
RUN_TOGETHER_SLOTS = (6, 7)


def candidate_key(track_pk: int, reading: int = 0) -> int:
    return track_pk * READING_SLOTS + reading


@dataclass
class Candidate:
    """A candidate that passed the screen and was scored (see blocking._score): one reading of
    one track."""

    track_pk: int
    reading: int  # 0: the credited reading (the track's own keys); 1, 2...: TrackReading rows
    version_id: int
    side: TrackSide
    # Provenance is read only for the candidates that become matches (fill_provenance): the
    # candidate columns come from covering indexes, without visiting the table's rows.
    dataset_track_id: str = ""
    source_file: str = ""
    source_row: int = 0
    artist: str = ""  # the track as published (for the evidence of an extra reading)
    title: str = ""
    reading_name: str = CREDITED

    @property
    def key(self) -> int:
        return candidate_key(self.track_pk, self.reading)


# Every column a candidate needs is in the covering indexes track_title_cover and
# track_artist_cover (see models.DatasetTrack), and reading_title_cover and reading_artist_cover
# (models.TrackReading), so blocking reads index pages only: against 22M rows a chunk's ~85,000
# candidates cost tens of milliseconds instead of as many random reads of table pages. Keep
# these lists and the indexes' INCLUDE lists in step.
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
READING_COLUMNS = (f"track_id * {READING_SLOTS} + reading", *TRACK_FIELDS[1:])
READING_FIELDS = ("track_id", "reading", *TRACK_FIELDS[1:])

# A candidate as read: its candidate key, then the values of TRACK_FIELDS[1:], in order.
TrackRow = tuple[Any, ...]
TKEY = TRACK_FIELDS.index("title_key")
AKEY = TRACK_FIELDS.index("artist_key")
ANORM = TRACK_FIELDS.index("artists_norm")
VERSION = TRACK_FIELDS.index("version_label")


def candidate_from_row(row: TrackRow) -> Candidate:
    key, version_id, a_key, t_key, artists_norm, label, duration = row
    track_pk, reading = divmod(key, READING_SLOTS)
    return Candidate(
        track_pk,
        reading,
        version_id,
        TrackSide.from_stored(
            artist_key=a_key,
            title_key=t_key,
            artists_norm=artists_norm,
            version=label,
            duration_s=duration,
        ),
        reading_name=RUN_TOGETHER if reading in RUN_TOGETHER_SLOTS else CREDITED,
    )


@dataclass
class Lookups:
    """What blocking reads from the tracks and readings: track ids (shared identifiers), keys
    equal to one of a list, an artist key with a range of title keys starting with one
    character (artists with many tracks), and key prefixes (ranges of the index)."""

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
    """Add the candidates found by `lookups` to `rows`; returns the keys of the rows read."""
    if connections[using].vendor == "postgresql":
        fetched = _fetch_rows_postgresql(lookups, version_ids, using)
    else:
        fetched = _fetch_rows_sqlite(lookups, version_ids, using)
    read: list[int] = []
    for row in fetched:
        key = row[0]
        read.append(key)
        if key not in rows:
            rows[key] = row
    return read


def keys_over_cap(
    column: str, keys: set[str], version_ids: list[int], cap: int, using: str, *, exact: bool
) -> set[tuple[str, str]]:
    """The keys (exact values, or prefixes when not `exact`) shared by more than `cap`
    candidates (tracks and extra readings together).

    Each key's count stops at cap + 1 rows of each index, so a key with a million tracks costs
    no more than a rare one. PostgreSQL does all keys in one query (a LATERAL-style subquery per
    key and table); SQLite 500 keys a statement, the same subqueries for a VALUES list.
    """
    if not keys or not version_ids:  # no tracks: no key is common
        return set()
    assert column in ("title_key", "artist_key")
    connection = connections[using]
    ordered = sorted(keys)
    found: set[tuple[str, str]] = set()
    if connection.vendor == "postgresql":
        match = f"t.{column} = k" if exact else f"t.{column} >= k AND t.{column} < k || %s"
        counts = [
            f"(SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(table)} t "  # noqa: S608
            f"WHERE {match} AND t.version_id = ANY(%s) LIMIT %s) s)"
            for table in (DatasetTrack._meta.db_table, TrackReading._meta.db_table)
        ]
        # Only the column (checked above) and the models' table names are interpolated.
        sql = f"SELECT k FROM unnest(%s::text[]) AS k WHERE {' + '.join(counts)} > %s"  # noqa: S608
        with index_reads(using) as cursor:
            for part in slices(ordered, 1000):
                params: list[Any] = [part]
                for _ in counts:
                    if not exact:
                        params.append(RANGE_END)
                    params += [list(version_ids), cap + 1]
                params.append(cap)
                cursor.execute(sql, params)
                found |= {(column, k) for (k,) in cursor.fetchall()}
        return found
    # The same counts, for up to 500 keys a statement (a VALUES list in place of the array):
    # built by the ORM key by key, they cost about 1 ms each in Python, most of a chunk's time.
    # "+ 0", as on PostgreSQL: without it SQLite reads a prefix's range from the version index,
    # every track of the dataset, rather than from the key's.
    match = f"t.{column} = k.v" if exact else f"t.{column} >= k.v AND t.{column} < k.v || %s"
    in_versions = ", ".join(["%s"] * len(version_ids))
    counts = [
        f"(SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(table)} t "  # noqa: S608
        f"WHERE {match} AND t.version_id + 0 IN ({in_versions}) LIMIT %s) s)"
        for table in (DatasetTrack._meta.db_table, TrackReading._meta.db_table)
    ]
    count_params: list[Any] = [*([] if exact else [RANGE_END]), *version_ids, cap + 1]
    count_params *= len(counts)
    with connection.cursor() as cursor:
        for part in slices(ordered, 500):
            # Only the column (checked above), placeholders and table names are interpolated.
            cursor.execute(
                f"WITH k(v) AS (VALUES {', '.join(['(%s)'] * len(part))}) "  # noqa: S608
                f"SELECT k.v FROM k WHERE {' + '.join(counts)} > %s",
                [*part, *count_params, cap],
            )
            found |= {(column, k) for (k,) in cursor.fetchall()}
    return found


def _fetch_rows_postgresql(
    lookups: Lookups, version_ids: list[int], using: str
) -> Iterable[tuple[Any, ...]]:
    """One statement per kind of lookup and table, each answered by an index-only scan of a
    covering index: an OR of them would be a bitmap scan, which reads the table's rows (13 s
    for one chunk's 85,000 candidates against 22M rows, against well under a second this way).

    The ranges joined LATERAL carry a LIMIT above what their keys were counted to hold (so it
    never cuts): a subquery with a LIMIT is run per range, as an index range scan. Without it
    PostgreSQL flattened the join and, guessing 0.2% of the table per range, scanned the whole
    covering index against the array instead: 37 s for 50 prefixes at 22M tracks, 4 ms for
    1,243 prefixes with it."""
    quote = connections[using].ops.quote_name
    # Versions are checked on the index entry (version_id is an INCLUDE column); "+ 0" keeps
    # PostgreSQL from trying to combine a version index with the key lookups.
    versions = "t.version_id + 0 = ANY(%s::bigint[])"
    statements: list[tuple[str, list[Any]]] = []
    if lookups.pks:
        table = quote(DatasetTrack._meta.db_table)
        columns = ", ".join([f"t.id * {READING_SLOTS}", *(f"t.{c}" for c in TRACK_COLUMNS[1:])])
        statements.append(
            (
                f"SELECT {columns} FROM {table} t WHERE t.id = ANY(%s::bigint[]) "  # noqa: S608
                f"AND {versions}",
                [lookups.pks, version_ids],
            )
        )
    for model, first in (
        (DatasetTrack, f"t.id * {READING_SLOTS}"),
        (TrackReading, f"t.track_id * {READING_SLOTS} + t.reading"),
    ):
        # Only the fixed column names and the models' table names are interpolated.
        table = quote(model._meta.db_table)
        columns = ", ".join([first, *(f"t.{c}" for c in TRACK_COLUMNS[1:])])
        for column, keys in lookups.equal.items():
            assert column in ("title_key", "artist_key")
            for part in slices(keys, 1000):
                statements.append(
                    (
                        f"SELECT {columns} FROM {table} t "  # noqa: S608
                        f"WHERE t.{column} = ANY(%s::text[]) AND {versions}",
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


def _fetch_rows_sqlite(
    lookups: Lookups, version_ids: list[int], using: str
) -> Iterable[tuple[Any, ...]]:
    """The same lookups for the embedded SQLite default: for each group of up to 200 lookups,
    one statement per table with their OR (SQLite answers each term from its index).

    Written out rather than built by the ORM: building these statements, hundreds of terms
    each, cost more than SQLite takes to answer them."""
    connection = connections[using]
    quote = connection.ops.quote_name

    def marks(n: int) -> str:
        return ", ".join(["%s"] * n)

    # "+ 0": without it SQLite answered the ORed key lookups from the version index, reading
    # every track of the dataset once per key range (the ORM's statements did, before).
    in_versions = f"t.version_id + 0 IN ({marks(len(version_ids))})"
    conditions: list[tuple[str, list[Any]]] = []
    for column, keys in lookups.equal.items():
        assert column in ("title_key", "artist_key")
        for key_part in slices(keys, 400):
            conditions.append((f"t.{column} IN ({marks(len(key_part))})", list(key_part)))
    for artist_key, initial in lookups.artist_title_ranges:
        conditions.append(
            (
                "t.artist_key = %s AND t.title_key >= %s AND t.title_key < %s",
                [artist_key, initial, initial + RANGE_END],
            )
        )
    for column, prefixes in lookups.prefixes.items():
        assert column in ("title_key", "artist_key")
        for prefix in prefixes:
            conditions.append(
                (f"t.{column} >= %s AND t.{column} < %s", [prefix, prefix + RANGE_END])
            )
    # Only the fixed column names and the models' table names are interpolated.
    tables = (
        (quote(DatasetTrack._meta.db_table), f"t.id * {READING_SLOTS}"),
        (quote(TrackReading._meta.db_table), f"t.track_id * {READING_SLOTS} + t.reading"),
    )
    rest = ", ".join(f"t.{c}" for c in TRACK_COLUMNS[1:])
    with connection.cursor() as cursor:
        table, first = tables[0]
        for pk_part in slices(lookups.pks, 400):
            cursor.execute(
                f"SELECT {first}, {rest} FROM {table} t "  # noqa: S608
                f"WHERE {in_versions} AND t.id IN ({marks(len(pk_part))})",
                [*version_ids, *pk_part],
            )
            yield from cursor.fetchall()
        for part in slices(conditions, 200):
            where = " OR ".join(f"({sql} AND {in_versions})" for sql, _ in part)
            params = [value for _, values in part for value in (*values, *version_ids)]
            for table, first in tables:
                cursor.execute(f"SELECT {first}, {rest} FROM {table} t WHERE {where}", params)  # noqa: S608
                yield from cursor.fetchall()


def fill_provenance(
    tracks: dict[int, Candidate], keys: set[int], *, with_album: bool, using: str = "default"
) -> None:
    """Read the dataset's own id, the source file and line, the track as published and the
    album (compared only when the catalog has albums) of the candidates in `keys`: the
    matches, a few per row; and the names of their extra readings."""
    by_track: dict[int, list[Candidate]] = {}
    for key in keys:
        cand = tracks[key]
        by_track.setdefault(cand.track_pk, []).append(cand)
    fields = ("pk", "track_id", "source_file", "source_row", "album", "artist", "title")
    for part in slices(sorted(by_track), 1000):
        for pk, dataset_track_id, source_file, source_row, album, artist, title in (
            DatasetTrack.objects.using(using).filter(pk__in=part).values_list(*fields)
        ):
            for cand in by_track[pk]:
                cand.dataset_track_id = dataset_track_id
                cand.source_file = source_file
                cand.source_row = source_row
                cand.artist = artist
                cand.title = title
                if with_album and album:
                    cand.side = cand.side._replace(album_key=translit(album))
        extra = [
            c for pk in part for c in by_track[pk] if c.reading and c.reading_name != RUN_TOGETHER
        ]
        if extra:
            names = dict(
                (((track_pk, reading), name))
                for track_pk, reading, name in TrackReading.objects.using(using)
                .filter(track_id__in={c.track_pk for c in extra})
                .values_list("track_id", "reading", "name")
            )
            for cand in extra:
                cand.reading_name = names.get((cand.track_pk, cand.reading), "")


def slices(items: list[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
