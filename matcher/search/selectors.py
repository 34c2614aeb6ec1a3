"""The public dataset search: tracks by artist, title or both, typo-tolerant, best first, and
the suggestions shown while typing. Reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Length
from rapidfuzz import fuzz, process

from matcher.engine.normalize import translit
from matcher.engine.score import one_edit
from matcher.models import Dataset, DatasetTrack, SearchTerm
from matcher.search.keys import (
    HALF_CAP,
    VARIANTS_MAX_LEN,
    artist_query_key,
    credited_besides_first,
    index_reads,
    one_edit_variants,
    title_query_key,
)

MAX_QUERY_CHARS = 200  # per field; longer input is refused, not cut


MAX_LIMIT = 50  # tracks listed per dataset


ACCEPT = 80  # a key scoring below this against the typed one is not used


TERMS_KEPT = 10  # at most this many similar keys per field


TERM_PREFIX_CAP = 50  # keys read that start with the typed words


PREFIX_MIN_CHARS = 3  # "de" is the start of too many names to mean any of them


SCORE_PREFILTER = 300  # candidates scored in full after rapidfuzz's fast pass


BOTH_FETCH_CAP = 500  # artist+title searches: tracks read per lookup of both keys at most


TITLE_SCORE_CAP = 500  # ... and of the title keys alone, scored against the artist, at most


STATEMENT_TIMEOUT_MS = 3000  # a public query never holds a connection longer than this


SUGGEST_MIN_CHARS = 2


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
                [field_name, sorted(one_edit_variants(key))],
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
                [field_name, _like_prefix(key), TERM_PREFIX_CAP],
            )
            found.update(row[0] for row in cur.fetchall())
    return found


def _candidates_portable(field_name: str, key: str) -> set[str]:
    """The same lookups through the ORM, for SQLite (the embedded default's small datasets)."""
    terms = SearchTerm.objects.filter(field=field_name)
    if len(key) <= VARIANTS_MAX_LEN:
        near = terms.filter(key__in=[key, *one_edit_variants(key)])
    else:
        half = len(key) // 2
        near = (
            terms.annotate(n=Length("key"))
            .filter(n__gte=len(key) - 2, n__lte=len(key) + 2)
            .filter(Q(key__startswith=key[:half]) | Q(key__endswith=key[half + 1 :]))
        )[: 2 * HALF_CAP]
    found = {key, *near.values_list("key", flat=True)}
    if len(key) >= PREFIX_MIN_CHARS:
        found.update(
            terms.filter(key__startswith=key).values_list("key", flat=True)[:TERM_PREFIX_CAP]
        )
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


def _per_version(tracks: QuerySet[DatasetTrack]) -> dict[int, int]:
    return dict(
        tracks.values_list("version_id").annotate(n=Count("*")).values_list("version_id", "n")
    )


def _one_field_groups(
    datasets: Sequence[Dataset], column: str, terms: Sequence[MatchedTerm], typed: dict[str, Any]
) -> list[DatasetGroup]:
    """Tracks whose `column` is one of the terms' keys (for artists: or that credit one of them
    besides their first name): counted per dataset, best keys listed."""
    keys = [t.key for t in terms]
    versions = {d.current_version_id: d for d in datasets if d.current_version_id is not None}
    tracks = DatasetTrack.objects.filter(version_id__in=versions)
    counts = _per_version(tracks.filter(**{f"{column}__in": keys}))
    # an index-only count on the key index, then a GIN lookup for the names credited after it
    others = (
        _per_version(tracks.filter(credited_besides_first(keys, vendor=connection.vendor)))
        if column == "artist_key"
        else {}
    )
    groups = []
    for version_id, dataset in versions.items():
        count = counts.get(version_id, 0) + others.get(version_id, 0)
        if not count:
            continue
        group = DatasetGroup(dataset.slug, dataset.name, dataset.source_url, count)
        rows: list[dict[str, Any]] = []
        version_tracks = DatasetTrack.objects.filter(version_id=version_id)
        for key in keys:  # best key first; each lookup is one range of the key index
            for found in (
                version_tracks.filter(**{column: key}) if counts.get(version_id) else None,
                version_tracks.filter(
                    credited_besides_first([key], vendor=connection.vendor)
                ).exclude(artist_key__in=keys)
                if others.get(version_id)
                else None,
            ):
                need = typed["limit"] - len(rows)
                if found is not None and need > 0:
                    rows += found.values(*_TRACK_FIELDS)[:need]
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
    """Tracks crediting one of the artist keys (first: a BitmapAnd of both key indexes; or
    later: the credits' GIN index) with one of the title keys, plus tracks of the title keys
    crediting a similar name (part of a name, or the uploader's channel taken as artist) when
    those titles are rare enough to score them all."""
    versions = {d.current_version_id: d for d in datasets if d.current_version_id is not None}
    title_keys = [t.key for t in title_terms]
    rows: dict[int, dict[str, Any]] = {}
    if artist_terms:
        artist_keys = [t.key for t in artist_terms]
        tracks = DatasetTrack.objects.filter(version_id__in=versions, title_key__in=title_keys)
        for credited in (
            tracks.filter(artist_key__in=artist_keys),
            tracks.filter(credited_besides_first(artist_keys, vendor=connection.vendor)),
        ):
            for row in credited.values(*_TRACK_FIELDS)[:BOTH_FETCH_CAP]:
                rows[row["id"]] = row
    if sum(t.tracks for t in title_terms) <= TITLE_SCORE_CAP:
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


def _on_indexes() -> AbstractContextManager[Any]:
    """The track reads' plans kept on the indexes (PostgreSQL; see keys.index_reads).

    A popular name's credits, read with a LIMIT, look cheap to find by reading the table from
    its start: the planner expects them spread evenly, where they sit among one version's rows,
    possibly after millions of others. The indexes answer in milliseconds whatever the name.
    """
    return index_reads() if connection.vendor == "postgresql" else nullcontext()


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
    with _on_indexes():
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
