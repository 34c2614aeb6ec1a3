"""Public search of the datasets: artist and/or title, fuzzy and accent-insensitive, per dataset.

How a query runs (docs/matching.md, "Search"): the typed artist and title are normalized by the
matching engine into the same keys the tracks carry (`Beyoncé` -> `beyonce`); similar keys are
looked up among the distinct keys of the current dataset versions (`SearchTerm`): every one-typo
variant of a short key, and for a longer key the keys of about its length sharing its first or
its second half, all as btree lookups; the candidates are scored with rapidfuzz and kept from
`ACCEPT` up; the tracks carrying the kept keys are then counted and listed per dataset through
the tracks' key indexes. The same lookups run through the ORM on SQLite (embedded default).

`search_terms_refresh` (a write, called after a big import) rebuilds the terms;
`search_terms_add` (after a small import of a new dataset) adds one version's keys to them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce, Length, Upper
from rapidfuzz import fuzz, process

from matcher.engine.normalize import normalize_artists, normalize_title, translit
from matcher.engine.score import ONE_EDIT_MIN_LEN, one_edit
from matcher.models import Dataset, DatasetTrack, SearchTerm

MAX_QUERY_CHARS = 200  # per field; longer input is refused, not cut
MAX_LIMIT = 50  # tracks listed per dataset
ACCEPT = 80  # a key scoring below this against the typed one is not used
TERMS_KEPT = 10  # at most this many similar keys per field
VARIANTS_MAX_LEN = 7  # keys up to this long: all one-typo variants; longer: halves
HALF_CAP = 5000  # keys read per half-key range at most
RANGE_END = "\U0010ffff"  # above every character: [p, p + RANGE_END) holds the keys starting p
PREFIX_CAP = 50  # keys read that start with the typed words
PREFIX_MIN_CHARS = 3  # "de" is the start of too many names to mean any of them
SCORE_PREFILTER = 300  # candidates scored in full after rapidfuzz's fast pass
BOTH_FETCH_CAP = 500  # artist+title searches: tracks of the title keys scored at most
STATEMENT_TIMEOUT_MS = 3000  # a public query never holds a connection longer than this
SUGGEST_MIN_CHARS = 2
_ALPHABET = string.ascii_lowercase + string.digits + " "
_TRACK_FIELDS = (
    "id",
    "version_id",
    "track_id",
    "artist",
    "title",
    "album",
    "duration_s",
    "url",
    "source_file",
    "source_row",
    "artist_key",
    "title_key",
    "artists_norm",
)


class SearchQueryError(ValueError):
    """The query cannot be run as typed (too long); the message says what to change."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class MatchedTerm:
    key: str
    display: str
    tracks: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchHit:
    pk: int
    track_id: str
    artist: str
    title: str
    album: str
    duration_s: float | None
    url: str
    source_file: str
    source_row: int
    score: int


@dataclass(slots=True)
class DatasetGroup:
    slug: str
    name: str
    source_url: str
    count: int
    hits: list[SearchHit] = field(default_factory=list)


@dataclass(slots=True)
class SearchResult:
    artist: str
    title: str
    groups: list[DatasetGroup] = field(default_factory=list)
    artist_terms: list[MatchedTerm] = field(default_factory=list)
    title_terms: list[MatchedTerm] = field(default_factory=list)
    message: str = ""

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def empty_query(self) -> bool:
        return not (self.artist or self.title)


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    tracks: int


# --- normalization of what was typed --------------------------------------------------------------
def _clean(value: str, field_name: str) -> str:
    value = " ".join((value or "").split())
    if len(value) > MAX_QUERY_CHARS:
        raise SearchQueryError(
            f"The {field_name} is {len(value)} characters long; type at most "
            f"{MAX_QUERY_CHARS} characters.",
            field=field_name,
        )
    return value


def artist_query_key(text: str) -> str:
    """The key an artist as typed would carry in a dataset (first credited name)."""
    return normalize_artists(text).key or translit(text)


def title_query_key(text: str) -> str:
    return normalize_title(text).key or translit(text)


# --- similar keys ---------------------------------------------------------------------------------
def _one_edit_variants(key: str) -> set[str]:
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


def _term_score(typed: str, key: str, field_name: str) -> float:
    if typed == key:
        return 100.0
    score = fuzz.ratio(typed, key)
    if one_edit(typed, key):
        score = max(score, 90.0)
    if key.startswith(typed) and len(typed) >= PREFIX_MIN_CHARS:
        # The start of a longer name or title ("drunk in" for "drunk in love").
        score = max(score, 85.0)
    if field_name == SearchTerm.Field.TITLE and " " in typed:
        score = max(score, 0.9 * fuzz.token_set_ratio(typed, key))  # words of it, any order
    elif " " in typed:
        score = max(score, 0.95 * fuzz.token_sort_ratio(typed, key))  # "garfunkel simon"
    return score


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _candidates_postgresql(field_name: str, key: str) -> set[str]:
    """Existing keys that may be `key` with a typo, or start with its words (raw SQL, so each
    lookup is one btree range of the indexes of migration 0004)."""
    found = {key}
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT set_config('statement_timeout', %s, true)", [str(STATEMENT_TIMEOUT_MS)])
        if len(key) <= VARIANTS_MAX_LEN:
            cur.execute(
                "SELECT key FROM matcher_searchterm WHERE field = %s AND key = ANY(%s)",
                [field_name, sorted(_one_edit_variants(key))],
            )
        else:
            # The character between the halves belongs to neither, so that two swapped letters
            # across the middle still leave one half intact.
            half = len(key) // 2
            lengths = list(range(len(key) - 2, len(key) + 3))
            cur.execute(
                "(SELECT key FROM matcher_searchterm WHERE field = %s AND length(key) = ANY(%s) "
                "AND key LIKE %s LIMIT %s) UNION ALL "
                "(SELECT key FROM matcher_searchterm WHERE field = %s AND length(key) = ANY(%s) "
                "AND reverse(key) LIKE %s LIMIT %s)",
                [
                    *(field_name, lengths, _like_prefix(key[:half]), HALF_CAP),
                    *(field_name, lengths, _like_prefix(key[half + 1 :][::-1]), HALF_CAP),
                ],
            )
        found.update(row[0] for row in cur.fetchall())
        if len(key) >= PREFIX_MIN_CHARS:
            cur.execute(
                "SELECT key FROM matcher_searchterm WHERE field = %s AND key LIKE %s LIMIT %s",
                [field_name, _like_prefix(key), PREFIX_CAP],
            )
            found.update(row[0] for row in cur.fetchall())
    return found


def _candidates_portable(field_name: str, key: str) -> set[str]:
    """The same lookups through the ORM, for SQLite (the embedded default's small datasets)."""
    terms = SearchTerm.objects.filter(field=field_name)
    if len(key) <= VARIANTS_MAX_LEN:
        near = terms.filter(key__in=[key, *_one_edit_variants(key)])
    else:
        half = len(key) // 2
        near = (
            terms.annotate(n=Length("key"))
            .filter(n__gte=len(key) - 2, n__lte=len(key) + 2)
            .filter(Q(key__startswith=key[:half]) | Q(key__endswith=key[half + 1 :]))
        )[: 2 * HALF_CAP]
    found = {key, *near.values_list("key", flat=True)}
    if len(key) >= PREFIX_MIN_CHARS:
        found.update(terms.filter(key__startswith=key).values_list("key", flat=True)[:PREFIX_CAP])
    return found


def similar_terms(*, field_name: str, key: str) -> list[MatchedTerm]:
    """The keys of `field_name` close enough to `key`, best first (at most TERMS_KEPT).

    Candidates: for a short key every one-typo variant (looked up exactly); for a longer one,
    keys of about the same length sharing its first or its second half (one typo always leaves
    one half intact, two typos often do); and keys starting with what was typed. Candidates
    are then scored with rapidfuzz (`_term_score`) and kept from ACCEPT up.
    """
    if not key:
        return []
    if connection.vendor == "postgresql":
        candidates = _candidates_postgresql(field_name, key)
    else:
        candidates = _candidates_portable(field_name, key)
    if len(candidates) > SCORE_PREFILTER:
        # rapidfuzz's C loop first; the finer scoring only for the closest few hundred
        near = process.extract(
            key, list(candidates), scorer=fuzz.ratio, limit=SCORE_PREFILTER, score_cutoff=50
        )
        candidates = {key} | {k for k, _, _ in near} | {c for c in candidates if c.startswith(key)}
    scored = {k: _term_score(key, k, field_name) for k in candidates}
    wanted = [k for k, s in scored.items() if s >= ACCEPT]
    rows = SearchTerm.objects.filter(field=field_name, key__in=wanted).values_list(
        "key", "display", "tracks"
    )
    terms = [MatchedTerm(k, display, tracks, scored[k]) for k, display, tracks in rows]
    if any(t.key == key for t in terms):
        # The name exists as typed: other names that merely start with it ("muse" / "museum")
        # are left out, and so are one-typo neighbours of a short name (likely other acts).
        terms = [t for t in terms if t.key == key or (len(key) >= 5 and t.score >= 90)]
    terms.sort(key=lambda t: (-t.score, -t.tracks, t.key))
    return terms[:TERMS_KEPT]


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
        for variant in _one_edit_variants(k):
            origins.setdefault(variant, []).append(k)
    near: list[tuple[str, str]] = []  # (key, existing key that may be one typo away)
    if connections[using].vendor == "postgresql":
        with index_reads(using) as cur:
            variants = sorted(origins)
            for i in range(0, len(variants), 20_000):
                cur.execute(
                    "SELECT key FROM matcher_searchterm WHERE field = %s AND key = ANY(%s)",
                    [field_name, variants[i : i + 20_000]],
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
        terms = SearchTerm.objects.using(using).filter(field=field_name)
        variants = sorted(origins)
        for i in range(0, len(variants), 500):
            for key in terms.filter(key__in=variants[i : i + 500]).values_list("key", flat=True):
                near += [(k, key) for k in origins[key]]
        for k in long:
            half = len(k) // 2
            rows = (
                terms.annotate(n=Length("key"))
                .filter(n__gte=len(k) - 1, n__lte=len(k) + 1)
                .filter(Q(key__startswith=k[:half]) | Q(key__endswith=k[half + 1 :]))
                .values_list("key", flat=True)[: 2 * HALF_CAP]
            )
            near += [(k, key) for key in rows]
    for k, key in near:
        if key != k and one_edit(k, key):
            found.setdefault(k, set()).add(key)
    return found


# --- tracks ---------------------------------------------------------------------------------------
def _hit_score(row: dict[str, Any], artist_key: str, title_key: str) -> int:
    scores = []
    if artist_key:
        # any credited name; part of a name counts a little less ("pharrell" for "pharrell
        # williams")
        names = [n for n in row["artists_norm"].split("|") if n] or [row["artist_key"]]
        scores.append(
            max(
                max(fuzz.ratio(artist_key, n), 0.9 * fuzz.token_set_ratio(artist_key, n))
                for n in names
            )
        )
    if title_key:
        scores.append(
            100.0 if title_key == row["title_key"] else fuzz.ratio(title_key, row["title_key"])
        )
    return round(sum(scores) / len(scores)) if scores else 0


def _hit(row: dict[str, Any], score: int) -> SearchHit:
    return SearchHit(
        pk=row["id"],
        track_id=row["track_id"],
        artist=row["artist"],
        title=row["title"],
        album=row["album"],
        duration_s=row["duration_s"],
        url=row["url"],
        source_file=row["source_file"],
        source_row=row["source_row"],
        score=score,
    )


def _one_field_groups(
    datasets: Sequence[Dataset], column: str, terms: Sequence[MatchedTerm], typed: dict[str, str]
) -> list[DatasetGroup]:
    """Tracks whose `column` is one of the terms' keys: counted per dataset, best keys listed."""
    keys = [t.key for t in terms]
    versions = {d.current_version_id: d for d in datasets}
    counts = dict(
        DatasetTrack.objects.filter(version_id__in=versions, **{f"{column}__in": keys})
        .values_list("version_id")
        .annotate(n=Count("*"))
        .values_list("version_id", "n")
    )
    groups = []
    for version_id, dataset in versions.items():
        count = counts.get(version_id, 0)
        if not count:
            continue
        group = DatasetGroup(dataset.slug, dataset.name, dataset.source_url, count)
        rows: list[dict[str, Any]] = []
        for key in keys:  # best key first; each lookup is one range of the key index
            need = typed["limit"] - len(rows)  # type: ignore[operator]
            if need <= 0:
                break
            rows += DatasetTrack.objects.filter(version_id=version_id, **{column: key}).values(
                *_TRACK_FIELDS
            )[:need]
        group.hits = _ranked(rows, typed)
        groups.append(group)
    return groups


def _ranked(rows: Iterable[dict[str, Any]], typed: dict[str, Any]) -> list[SearchHit]:
    hits = [_hit(r, _hit_score(r, typed["artist_key"], typed["title_key"])) for r in rows]
    hits.sort(key=lambda h: (-h.score, h.artist, h.title, h.pk))
    return hits


def _both_fields_groups(
    datasets: Sequence[Dataset],
    artist_terms: Sequence[MatchedTerm],
    title_terms: Sequence[MatchedTerm],
    typed: dict[str, Any],
) -> list[DatasetGroup]:
    """Tracks with one of the artist keys and one of the title keys (a BitmapAnd of both key
    indexes), plus tracks of the title keys crediting the artist elsewhere (featured, or the
    uploader's channel taken as artist) when those titles are rare enough to score them all."""
    versions = {d.current_version_id: d for d in datasets}
    title_keys = [t.key for t in title_terms]
    rows: dict[int, dict[str, Any]] = {}
    if artist_terms:
        for row in DatasetTrack.objects.filter(
            version_id__in=versions,
            artist_key__in=[t.key for t in artist_terms],
            title_key__in=title_keys,
        ).values(*_TRACK_FIELDS)[:BOTH_FETCH_CAP]:
            rows[row["id"]] = row
    if sum(t.tracks for t in title_terms) <= BOTH_FETCH_CAP:
        for row in DatasetTrack.objects.filter(
            version_id__in=versions, title_key__in=title_keys
        ).values(*_TRACK_FIELDS):
            if row["id"] not in rows and _hit_score(row, typed["artist_key"], "") >= ACCEPT:
                rows[row["id"]] = row
    by_version: dict[int, list[dict[str, Any]]] = {}
    for row in rows.values():
        by_version.setdefault(row["version_id"], []).append(row)
    groups = []
    for version_id, dataset in versions.items():
        found = by_version.get(version_id)
        if found:
            group = DatasetGroup(dataset.slug, dataset.name, dataset.source_url, len(found))
            group.hits = _ranked(found, typed)[: typed["limit"]]
            groups.append(group)
    return groups


def dataset_search(*, artist: str = "", title: str = "", limit: int = 10) -> SearchResult:
    """Tracks of the datasets' current versions matching `artist` and/or `title`, per dataset.

    Raises SearchQueryError for input that cannot be searched as typed (too long).
    """
    artist = _clean(artist, "artist")
    title = _clean(title, "title")
    limit = max(1, min(int(limit), MAX_LIMIT))
    result = SearchResult(artist=artist, title=title)
    if result.empty_query:
        result.message = "Type an artist, a title or both to search the datasets."
        return result
    typed: dict[str, Any] = {
        "artist_key": artist_query_key(artist) if artist else "",
        "title_key": title_query_key(title) if title else "",
        "limit": limit,
    }
    if artist:
        result.artist_terms = similar_terms(field_name="artist", key=typed["artist_key"])
    if title:
        result.title_terms = similar_terms(field_name="title", key=typed["title_key"])
    datasets = list(Dataset.objects.filter(current_version__isnull=False).order_by("slug"))
    if artist and title:
        if result.title_terms:
            result.groups = _both_fields_groups(
                datasets, result.artist_terms, result.title_terms, typed
            )
    elif artist and result.artist_terms:
        result.groups = _one_field_groups(datasets, "artist_key", result.artist_terms, typed)
    elif title and result.title_terms:
        result.groups = _one_field_groups(datasets, "title_key", result.title_terms, typed)
    if not result.groups:
        result.message = "No track in the datasets matches this search."
    return result


# --- suggestions ----------------------------------------------------------------------------------
def search_suggest(*, q: str, field_name: str, limit: int = 8) -> list[Suggestion]:
    """Artists or titles starting with what was typed (most tracks first), then similar ones."""
    if field_name not in SearchTerm.Field.values:
        raise SearchQueryError("Suggestions are for 'artist' or 'title'.", field="field")
    q = _clean(q, field_name)
    key = artist_query_key(q) if field_name == SearchTerm.Field.ARTIST else translit(q)
    if len(key) < SUGGEST_MIN_CHARS:
        return []
    terms = SearchTerm.objects.filter(field=field_name)
    # keys and counts first (read from the prefix index alone), then the few spellings shown
    top = list(
        terms.filter(key__startswith=key)
        .order_by("-tracks", "key")
        .values_list("key", "tracks")[:limit]
    )
    shown = dict(terms.filter(key__in=[k for k, _ in top]).values_list("key", "display"))
    rows = [(k, shown[k], n) for k, n in top]
    if len(rows) < limit and len(key) >= 3:
        seen = {r[0] for r in rows}
        extra = [t for t in similar_terms(field_name=field_name, key=key) if t.key not in seen]
        rows += [(t.key, t.display, t.tracks) for t in extra[: limit - len(rows)]]
    return [Suggestion(display, tracks) for _, display, tracks in rows]


# --- refresh (a write: run after each import) -----------------------------------------------------
_TERMS = "matcher_searchterm"
_NEW_TERMS = "matcher_searchterm_new"
_INDEX_DEF = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (.*)$")
# (term field, track key column, the track text shown for it): an artist term shows the first
# credited name as published
_TERM_SOURCES = (
    ("artist", "artist_key", "split_part(t.artist, '; ', 1)"),
    ("title", "title_key", "t.title"),
)


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
    for field_name, column, shown in _TERM_SOURCES:
        # Table and column names are fixed here, never taken from input.
        # the display: a spelling not in capitals if there is one ("Beyoncé", not "BEYONCÉ")
        cur.execute(
            f"INSERT INTO {_NEW_TERMS} (field, key, display, tracks) "  # noqa: S608
            f"SELECT %s, t.{column}, coalesce(min({shown}) FILTER (WHERE {shown} <> upper("
            f"{shown})), min({shown})), count(*) FROM matcher_datasettrack t "
            "JOIN matcher_dataset d ON d.current_version_id = t.version_id "
            f"WHERE t.{column} <> '' GROUP BY t.{column}",
            [field_name],
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
            tracks = DatasetTrack.objects.filter(
                version_id__in=Dataset.objects.exclude(current_version=None).values(
                    "current_version_id"
                )
            )
            for field_name, column, shown in (
                ("artist", "artist_key", "artist"),
                ("title", "title_key", "title"),
            ):
                SearchTerm.objects.bulk_create(
                    SearchTerm(
                        field=field_name,
                        key=row[column],
                        display=row["display"].split("; ")[0]
                        if field_name == "artist"
                        else row["display"],
                        tracks=row["n"],
                    )
                    for row in tracks.exclude(**{column: ""})
                    .values(column)
                    .annotate(
                        display=Coalesce(
                            Min(shown, filter=~Q(**{shown: Upper(shown)})), Min(shown)
                        ),
                        n=Count("*"),
                    )
                    .iterator()
                )
        count = SearchTerm.objects.count()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Marks the new rows all-visible, so the suggestions' ranking reads the index alone.
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) matcher_searchterm")
    return count


# A term's display is the smallest spelling not in capitals, or the smallest spelling when all are
# in capitals; combining two such displays gives the display of the union of their spellings.
_COMBINED_DISPLAY = (
    "CASE WHEN (s.display <> upper(s.display)) = (a.display <> upper(a.display)) "
    "THEN least(s.display, a.display) "
    "WHEN s.display <> upper(s.display) THEN s.display ELSE a.display END"
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
            for field_name, column, shown in _TERM_SOURCES:
                # Table and column names are fixed here, never taken from input.
                cur.execute(
                    f"INSERT INTO {added} (field, key, display, tracks) "  # noqa: S608
                    f"SELECT %s, t.{column}, coalesce(min({shown}) FILTER (WHERE {shown} <> "
                    f"upper({shown})), min({shown})), count(*) FROM matcher_datasettrack t "
                    f"WHERE t.version_id = %s AND t.{column} <> '' GROUP BY t.{column}",
                    [field_name, version_id],
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
