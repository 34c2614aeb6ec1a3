"""Keys as the search and blocking look them up: the key of typed text, the existing keys one
typo away from many keys at once, and a cursor whose plans stay on the indexes.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from matcher.engine.normalize import normalize_artists, normalize_title, translit
from matcher.engine.score import ONE_EDIT_MIN_LEN, one_edit
from matcher.models import SearchTerm

VARIANTS_MAX_LEN = 7  # keys up to this long: all one-typo variants; longer: halves


HALF_CAP = 5000  # keys read per half-key range at most


RANGE_END = "\U0010ffff"  # above every character: [p, p + RANGE_END) holds the keys starting p


_ALPHABET = string.ascii_lowercase + string.digits + " "
_SEPARATOR = "\x1f"  # between the variants one_typo_keys sends PostgreSQL as one text


def artist_query_key(text: str) -> str:
    """The key of an artist as typed (its first name: `Dr. Dre feat. Snoop Dogg` -> `dr dre`),
    looked up among every name the tracks credit (`credited_besides_first`)."""
    return normalize_artists(text).key or translit(text)


# --- every credited name --------------------------------------------------------------------------
# A track's artists_norm holds the keys of every name it credits ("primary|names||featured|names":
# the artist field's names, featured names of the title, an artist split off an upload's title);
# the first is also its artist_key, which the key indexes serve. The others are found through a
# GIN index on this expression (track_other_credits, migration 0008), partial on the predicate:
# single-name tracks, most of them, are not in it. Queries must spell both exactly like this.
OTHER_CREDITS_SQL = (
    "array_remove(array_remove(string_to_array(artists_norm, '|'), ''), artist_key::text)"
)
HAS_OTHER_CREDITS_SQL = "artists_norm <> (artist_key || '||')"
CREDIT_KEY_MAX = 255  # a longer name cannot be a search term (SearchTerm.key's width)


def other_credits(artist_key: str, artists_norm: str) -> list[str]:
    """The keys OTHER_CREDITS_SQL gives for one track, in credit order (the portable path)."""
    return [k for k in artists_norm.split("|") if k and k != artist_key]


def credited_besides_first(keys: Sequence[str], *, vendor: str) -> Q | RawSQL:
    """A DatasetTrack filter: the track's first name (artist_key) is none of `keys`, another
    credited name is one of them. So it never finds a track `artist_key__in=keys` finds.

    On PostgreSQL a GIN lookup (`&&` on OTHER_CREDITS_SQL); elsewhere (SQLite, the embedded
    default, small datasets) patterns on artists_norm, read by scanning the table.
    """
    if vendor == "postgresql":
        # The GIN lookup is an ARRAY(subquery), an init plan the planner costs on its own: as a
        # plain condition under the search's LIMIT, PostgreSQL chose to walk a key index and
        # filter, expecting to meet 11 matches early (estimate 60,764 tracks, real 2): over a
        # minute per query on the 22M tracks (bench_search, 2026-12-08), where the bitmap scan
        # of track_other_credits takes milliseconds. Fixed SQL; the keys are parameters.
        return RawSQL(  # noqa: S611
            '"matcher_datasettrack"."id" = ANY(ARRAY(SELECT id FROM matcher_datasettrack '  # noqa: S608
            f"WHERE {HAS_OTHER_CREDITS_SQL} AND {OTHER_CREDITS_SQL} && %s::text[])) "
            'AND NOT ("matcher_datasettrack"."artist_key" = ANY(%s::text[]))',
            (list(keys), list(keys)),
            output_field=BooleanField(),
        )
    # names in artists_norm are always followed by '|' or end it, and preceded by '|' or start it
    found = Q(pk__in=[])
    for key in keys:
        found |= (
            Q(artists_norm__startswith=f"{key}|")
            | Q(artists_norm__contains=f"|{key}|")
            | Q(artists_norm__endswith=f"|{key}")
        )
    return found & ~Q(artist_key__in=keys)


def title_query_key(text: str) -> str:
    return normalize_title(text).key or translit(text)


# --- similar keys ---------------------------------------------------------------------------------
def one_edit_variants(key: str) -> set[str]:
    """Every string one typo away from `key` (changed, added, dropped or swapped character)."""
    out: set[str] = set()
    for i in range(len(key) + 1):
        for ch in _ALPHABET:
            out.add(key[:i] + ch + key[i:])
            if i < len(key):
                out.add(key[:i] + ch + key[i + 1 :])
        if i < len(key):
            out.add(key[:i] + key[i + 1 :])
        if i < len(key) - 1:
            out.add(key[:i] + key[i + 1] + key[i] + key[i + 2 :])
    out.discard(key)
    return {v for v in out if v.strip() == v and "  " not in v and v}


@contextmanager
def index_reads(using: str = "default") -> Iterator[Any]:
    """A cursor in a transaction whose plans stay on the indexes (PostgreSQL).

    Blocking and typo lookups send arrays of keys or prefixes joined LATERAL to the tables. The
    planner cannot know that each prefix range is narrow (they were counted first), estimates
    0.2% of 22M rows per range, and for a few thousand prefixes preferred a parallel sequential
    scan of the whole table joined to the array: minutes per statement instead of milliseconds
    (a catalog whose rows the datasets do not hold sends every row to the prefix round). With
    sequential scans off, the same statements are index-only range scans. JIT compilation is
    off too: it cost more than these short statements run.
    """
    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL jit = off")
        yield cur


def one_typo_keys(
    *, field_name: str, keys: Iterable[str], using: str = "default"
) -> dict[str, set[str]]:
    """For many keys at once: the existing keys of `field_name` exactly one typo away from each
    (`one_edit`: a letter changed, added, dropped or two swapped; keys of 4+ characters).

    Matching uses it for the rows whose own keys found nothing (a typo in both fields, one of
    them early in the key, where key-prefix ranges cannot reach). Short keys: every variant,
    looked up exactly in one statement; longer keys: the keys one character shorter, as long
    or one longer that share the first or the second half (one typo leaves one intact), then
    checked with `one_edit`.
    """
    wanted = sorted({k for k in keys if len(k) >= ONE_EDIT_MIN_LEN})
    found: dict[str, set[str]] = {}
    if not wanted:
        return found
    short = [k for k in wanted if len(k) <= VARIANTS_MAX_LEN]
    long = [k for k in wanted if len(k) > VARIANTS_MAX_LEN]
    origins: dict[str, list[str]] = {}  # variant -> the keys it is a variant of
    for k in short:
        for variant in one_edit_variants(k):
            origins.setdefault(variant, []).append(k)
    near: list[tuple[str, str]] = []  # (key, existing key that may be one typo away)
    if connections[using].vendor == "postgresql":
        with index_reads(using) as cur:
            variants = sorted(origins)
            # Sent as one text split on the server: quoting each of hundreds of thousands of
            # variants as an array element cost psycopg more than the lookups took (the keys
            # hold no control character; a variant holding the separator goes as an array).
            for i in range(0, len(variants), 20_000):
                part = variants[i : i + 20_000]
                joined = _SEPARATOR.join(part)
                param: list[Any]
                if joined.count(_SEPARATOR) == len(part) - 1:
                    wanted_keys, param = "string_to_array(%s, %s)", [joined, _SEPARATOR]
                else:
                    wanted_keys, param = "%s", [part]
                # Only one of the two fixed placeholders above is interpolated.
                cur.execute(
                    "SELECT key FROM matcher_searchterm WHERE field = %s "  # noqa: S608
                    f"AND key = ANY({wanted_keys})",
                    [field_name, *param],
                )
                near += [(k, row[0]) for row in cur.fetchall() for k in origins[row[0]]]
            if long:
                # One range per half and length of the index (field, length(key), key or
                # reverse(key), text_pattern_ops), each read at most HALF_CAP keys deep. Ranges
                # with the pattern operators, not LIKE: the pattern comes from the unnest, and
                # only a constant LIKE pattern becomes an index range.
                cur.execute(
                    "SELECT r.k, t.key FROM unnest(%s::text[], %s::text[], %s::text[]) "
                    "AS r(k, head, tail) CROSS JOIN LATERAL ("
                    "(SELECT key FROM matcher_searchterm WHERE field = %s "
                    "AND length(key) = ANY(ARRAY[length(r.k) - 1, length(r.k), length(r.k) + 1]) "
                    "AND key ~>=~ r.head AND key ~<~ (r.head || %s) LIMIT %s) UNION ALL "
                    "(SELECT key FROM matcher_searchterm WHERE field = %s "
                    "AND length(key) = ANY(ARRAY[length(r.k) - 1, length(r.k), length(r.k) + 1]) "
                    "AND reverse(key) ~>=~ r.tail AND reverse(key) ~<~ (r.tail || %s) "
                    "LIMIT %s)) t",
                    [
                        long,
                        [k[: len(k) // 2] for k in long],
                        [k[len(k) // 2 + 1 :][::-1] for k in long],
                        *(field_name, RANGE_END, HALF_CAP),
                        *(field_name, RANGE_END, HALF_CAP),
                    ],
                )
                near += cur.fetchall()
    else:
        # The statements the ORM would build (key__in; length, key__startswith, key__endswith),
        # written out: built by the ORM once per key, they cost more than SQLite takes to answer
        # them, and were most of a chunk's time on the embedded default.
        connection = connections[using]
        like = connection.ops.prep_for_like_query
        table = connection.ops.quote_name(SearchTerm._meta.db_table)
        variants = sorted(origins)
        with connection.cursor() as cur:
            for i in range(0, len(variants), 500):
                part = variants[i : i + 500]
                cur.execute(
                    f"SELECT key FROM {table} WHERE field = %s "  # noqa: S608
                    f"AND key IN ({', '.join(['%s'] * len(part))})",
                    [field_name, *part],
                )
                near += [(k, key) for (key,) in cur.fetchall() for k in origins[key]]
            for k in long:
                half = len(k) // 2
                cur.execute(
                    f"SELECT key FROM {table} WHERE field = %s "  # noqa: S608
                    "AND length(key) >= %s AND length(key) <= %s "
                    "AND (key LIKE %s ESCAPE '\\' OR key LIKE %s ESCAPE '\\') LIMIT %s",
                    [
                        field_name,
                        len(k) - 1,
                        len(k) + 1,
                        like(k[:half]) + "%",
                        "%" + like(k[half + 1 :]),
                        2 * HALF_CAP,
                    ],
                )
                near += [(k, key) for (key,) in cur.fetchall()]
    for k, key in near:
        if key != k and one_edit(k, key):
            found.setdefault(k, set()).add(key)
    return found
