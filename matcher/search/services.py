"""The search terms (SearchTerm): the distinct keys of the current dataset versions, rebuilt or
added to after an import.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.db.models.functions import Coalesce, Upper

from matcher.models import Dataset, DatasetTrack, SearchTerm
from matcher.search.keys import (
    CREDIT_KEY_MAX,
    HAS_OTHER_CREDITS_SQL,
    OTHER_CREDITS_SQL,
    other_credits,
)

# --- refresh (a write: run after each import) -----------------------------------------------------
_TERMS = "matcher_searchterm"


_NEW_TERMS = "matcher_searchterm_new"


_INDEX_DEF = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (.*)$")


def _terms_select(field_name: str, scope: str, where: str) -> str:
    """The SELECT of (field, key, display, tracks) for one field, over the tracks that `scope`
    (a JOIN) and `where` (a condition on `t`) leave: fixed SQL, never built from input.

    Artist terms hold every credited name (OTHER_CREDITS_SQL): a track counts once for each
    name it credits. A first name is spelled as published; another name as the part of a
    ';'-joined credit that lower-cases to its key (Spotify's `benny blanco; BTS; Snoop Dogg`
    gives `Snoop Dogg`), else as its key. The display is the smallest spelling of the best
    _DISPLAY_TIER: "Beyoncé", not "BEYONCÉ"; "Snoop Dogg" (published) rather than "snoop dogg"
    (the key), whatever the collation.
    """
    # `scope` and `where` come from this module (S608), never from input; keys are parameters
    if field_name == SearchTerm.Field.TITLE:
        source = (
            f"SELECT t.title_key AS key, t.title AS shown FROM matcher_datasettrack t {scope} "  # noqa: S608
            f"WHERE {where} AND t.title_key <> ''"
        )
    else:
        source = (
            "SELECT t.artist_key AS key, split_part(t.artist, '; ', 1) AS shown "  # noqa: S608
            f"FROM matcher_datasettrack t {scope} WHERE {where} AND t.artist_key <> '' "
            "UNION ALL SELECT o.key, coalesce((SELECT p FROM unnest(string_to_array(t.artist, "
            "'; ')) AS p WHERE lower(p) = o.key LIMIT 1), o.key) "
            f"FROM matcher_datasettrack t {scope} CROSS JOIN LATERAL unnest({OTHER_CREDITS_SQL}) "
            f"AS o(key) WHERE {where} AND {HAS_OTHER_CREDITS_SQL} "
            f"AND length(o.key) <= {CREDIT_KEY_MAX}"
        )
    tier = _DISPLAY_TIER.format(display="c.shown", key="c.key")
    return (
        f"SELECT '{field_name}', c.key, coalesce(min(c.shown) FILTER (WHERE {tier} = 0), "  # noqa: S608
        f"min(c.shown) FILTER (WHERE {tier} = 1), min(c.shown)), count(*) "
        f"FROM ({source}) c GROUP BY c.key"
    )


# Which spellings a term shows first: 0, one not in capitals and not its bare key ("Beyoncé",
# "Snoop Dogg"); 1, one not in capitals ("snoop dogg"); 2, the others ("BEYONCÉ").
_DISPLAY_TIER = (
    "(CASE WHEN {display} <> upper({display}) AND {display} <> {key} THEN 0 "
    "WHEN {display} <> upper({display}) THEN 1 ELSE 2 END)"
)


_CURRENT = "JOIN matcher_dataset d ON d.current_version_id = t.version_id"


def _refresh_postgresql(cur: Any) -> None:
    """Fill a new table without indexes, index it, then swap it in.

    Building indexes once over the filled table is about 6x faster than maintaining them row by
    row (22.0M tracks: ~2 minutes against ~11 for DELETE + INSERT, which also left the table
    twice its size). Searches keep reading the old table until the swap, which takes its lock
    only for the renames at the end of the transaction. The new table's indexes are copied
    from the live ones (pg_get_indexdef), so they follow whatever the migrations define.
    """
    cur.execute("SET LOCAL work_mem = '256MB'")
    _aggregate_by_sorting(cur)
    cur.execute(
        f"CREATE TABLE {_NEW_TERMS} (LIKE {_TERMS} INCLUDING DEFAULTS INCLUDING IDENTITY "
        "INCLUDING CONSTRAINTS)"
    )
    for field_name in SearchTerm.Field.values:
        cur.execute(
            f"INSERT INTO {_NEW_TERMS} (field, key, display, tracks) "
            + _terms_select(field_name, _CURRENT, "TRUE")
        )
    cur.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary, "
        "(SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass",
        [_TERMS],
    )
    renames = []
    for name, definition, primary, constraint in cur.fetchall():
        if primary:
            cur.execute(f"ALTER TABLE {_NEW_TERMS} ADD PRIMARY KEY (id)")
            renames.append((f"{_NEW_TERMS}_pkey", name))
            continue
        parsed = _INDEX_DEF.match(definition)
        if parsed is None or constraint:
            raise RuntimeError(f"search terms: cannot copy index {name}: {definition}")
        unique, _, _, rest = parsed.groups()
        cur.execute(f"CREATE {unique or ''}INDEX {name}_new ON {_NEW_TERMS} {rest}")
        renames.append((f"{name}_new", name))
    cur.execute(f"ANALYZE {_NEW_TERMS}")
    cur.execute(f"DROP TABLE {_TERMS}")
    cur.execute(f"ALTER TABLE {_NEW_TERMS} RENAME TO {_TERMS}")
    for temporary, final in renames:
        cur.execute(f"ALTER INDEX {temporary} RENAME TO {final}")
    cur.execute(f"ALTER SEQUENCE IF EXISTS {_NEW_TERMS}_id_seq RENAME TO {_TERMS}_id_seq")


def _aggregate_by_sorting(cur: Any) -> None:
    """Group tracks by key with a sort, not a hash table, for the rest of the transaction.

    Most keys have one or two tracks, so a hash table holds nearly every row and spills to disk
    several times over, while the byte-order keys sort fast: on 12.2M LAION tracks, grouping the
    titles took 16.8 s sorted against 27.6 s hashed (the planner, guessing 0.16M groups for
    6.3M, picks the hash). The terms then also arrive in key order, which their indexes' sorts
    like. JIT compiling such a statement costs more than it saves.
    """
    cur.execute("SET LOCAL enable_hashagg = off")
    cur.execute("SET LOCAL jit = off")


_REFRESH_LOCK = 0x7472_6D73  # advisory lock key ("trms"): one refresh of the terms at a time


def _lock_terms(cur: Any) -> None:
    """Serialize refreshes: each then reads the versions committed before it got the lock.

    Without it, two imports finishing together could each rebuild from a snapshot that misses
    the other's dataset, or one's additions could go to the table the other's rebuild drops.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_REFRESH_LOCK])


def search_terms_refresh() -> int:
    """Rebuild the search terms from the current version of every dataset; returns their count.

    One transaction: searches running meanwhile keep seeing the old terms until it commits.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                _lock_terms(cur)
                _refresh_postgresql(cur)
        else:
            SearchTerm.objects.all().delete()
            _refresh_portable()
        count = SearchTerm.objects.count()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Marks the new rows all-visible, so the suggestions' ranking reads the index alone.
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) matcher_searchterm")
    return count


def _refresh_portable() -> None:
    """The terms _terms_select gives, through the ORM and Python: the embedded default's
    datasets are small."""
    tracks = DatasetTrack.objects.filter(
        version_id__in=Dataset.objects.exclude(current_version=None).values("current_version_id")
    )
    capitals = Q(title=Upper("title"))
    SearchTerm.objects.bulk_create(
        SearchTerm(field="title", key=row["title_key"], display=row["display"], tracks=row["n"])
        for row in tracks.exclude(title_key="")
        .values("title_key")
        .annotate(
            display=Coalesce(
                Min("title", filter=~capitals & ~Q(title=F("title_key"))),
                Min("title", filter=~capitals),
                Min("title"),
            ),
            n=Count("*"),
        )
        .iterator()
    )
    spellings: dict[str, list[str]] = {}
    counts: Counter[str] = Counter()
    rows = tracks.values_list("artist", "artist_key", "artists_norm")
    for artist, artist_key, artists_norm in rows.iterator():
        parts = artist.split("; ")
        if artist_key:
            counts[artist_key] += 1
            spellings.setdefault(artist_key, []).append(parts[0])
        for key in other_credits(artist_key, artists_norm):
            if len(key) <= CREDIT_KEY_MAX:
                counts[key] += 1
                shown = next((p for p in parts if p.lower() == key), key)
                spellings.setdefault(key, []).append(shown)
    SearchTerm.objects.bulk_create(
        (
            SearchTerm(field="artist", key=key, display=_display(spellings[key], key), tracks=n)
            for key, n in counts.items()
        ),
        batch_size=1000,
    )


def _display(spellings: list[str], key: str) -> str:
    """The spelling _DISPLAY_TIER puts first (the smallest of the best tier)."""

    def tier(text: str) -> int:
        if text == text.upper():
            return 2
        return 1 if text == key else 0

    return min(spellings, key=lambda text: (tier(text), text))


# A term's display is the smallest spelling of the best tier (_DISPLAY_TIER); combining two such
# displays gives the display of the union of their spellings.
_OLD_TIER = _DISPLAY_TIER.format(display="s.display", key="s.key")
_NEW_TIER = _DISPLAY_TIER.format(display="a.display", key="a.key")
_COMBINED_DISPLAY = (
    f"CASE WHEN {_OLD_TIER} = {_NEW_TIER} THEN least(s.display, a.display) "
    f"WHEN {_OLD_TIER} < {_NEW_TIER} THEN s.display ELSE a.display END"
)


def search_terms_add(version_id: int) -> int:
    """Add the keys of `version_id`, a version that has just joined the current set while none
    left it (the first version of a new dataset), to the search terms; returns how many keys the
    version has (on databases other than PostgreSQL, which rebuild, how many terms there are).

    Gives the terms a full rebuild would (tests/matcher/test_search_terms.py): per key the track
    counts add up and the displays combine (_COMBINED_DISPLAY). It costs in proportion to the new
    version, not to all datasets, but maintains the indexes row by row, so a rebuild is cheaper
    when the version is a large share of the tracks (matcher.datasets.importer decides).
    """
    with transaction.atomic():
        if connection.vendor != "postgresql":
            # the embedded default's datasets are small: a rebuild is simplest
            search_terms_refresh()
            return SearchTerm.objects.count()
        with connection.cursor() as cur:
            _lock_terms(cur)
            cur.execute("SET LOCAL work_mem = '256MB'")
            _aggregate_by_sorting(cur)
            added = "searchterm_added"
            cur.execute(
                f"CREATE TEMP TABLE {added} (field varchar(6), key varchar(255), "
                "display text, tracks bigint) ON COMMIT DROP"
            )
            for field_name in SearchTerm.Field.values:
                sql = _terms_select(field_name, "", "t.version_id = %(version)s")
                cur.execute(
                    f"INSERT INTO {added} (field, key, display, tracks) " + sql,
                    {"version": version_id},
                )
            cur.execute(f"ANALYZE {added}")
            cur.execute(
                f"UPDATE {_TERMS} s SET tracks = s.tracks + a.tracks, "  # noqa: S608
                f"display = {_COMBINED_DISPLAY} FROM {added} a "
                "WHERE s.field = a.field AND s.key = a.key"
            )
            cur.execute(
                f"INSERT INTO {_TERMS} (field, key, display, tracks) "  # noqa: S608
                f"SELECT a.field, a.key, a.display, a.tracks FROM {added} a WHERE NOT EXISTS "
                f"(SELECT 1 FROM {_TERMS} s WHERE s.field = a.field AND s.key = a.key)"
            )
            cur.execute(f"SELECT count(*) FROM {added}")  # noqa: S608
            count = int(cur.fetchone()[0])
            cur.execute(f"DROP TABLE {added}")
    if not connection.in_atomic_block:
        with connection.cursor() as cur:
            cur.execute(f"VACUUM (ANALYZE) {_TERMS}")
    return count
