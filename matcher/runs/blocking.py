"""Blocking: the candidates of a chunk's rows, found in rounds of database reads, then scored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from matcher.engine.keys import (
    ARTIST_KEY_CAP,
    ARTIST_WHOLE,
    KEY_CAP,
    PREFIX_CAP,
    Prepared,
    TrackSide,
    prefix_key,
)
from matcher.engine.readings import run_together_keys, run_together_side
from matcher.engine.score import (
    EXACT,
    IDENTIFIER,
    STRONG,
    Score,
    Screen,
    Thresholds,
    rank_candidates,
)
from matcher.models import (
    TrackIdentifier,
)
from matcher.runs.track_reads import (
    AKEY,
    ANORM,
    RUN_TOGETHER_SLOTS,
    TKEY,
    VERSION,
    Candidate,
    Lookups,
    TrackRow,
    candidate_from_row,
    candidate_key,
    fetch_tracks,
    keys_over_cap,
    slices,
)
from matcher.search.keys import one_typo_keys
from uploads.models import CatalogRow


@dataclass
class Query:
    row: CatalogRow
    prepared: Prepared
    identifiers: list[tuple[str, str]]


@dataclass
class Blocked:
    """The candidates of a chunk: per query (candidates considered, matches best first)."""

    scored: list[tuple[int, list[tuple[Score, int]]]]
    tracks: dict[int, Candidate]  # the candidates that were scored
    notes: dict[int, list[str]]  # catalog row pk -> blocking rules worth showing as evidence
    stats: dict[str, int]


def block_candidates(
    queries: list[Query],
    version_ids: list[int],
    thresholds: Thresholds,
    *,
    using: str = "default",
) -> Blocked:
    """Fetch candidates for a chunk of rows in a few queries, score them, and fall back to key
    prefixes for the rows that found no confident match on their exact keys.

    Round 1: shared identifiers, and equality on `title_key` and `artist_key` (keys shared by
    more than KEY_CAP tracks skipped; an artist with more than ARTIST_WHOLE tracks is searched
    together with the first character of the title, and one with more than ARTIST_KEY_CAP not
    at all). Round 2, only for rows whose exact keys both found nothing and without an
    identifier, exact or strong match: range scans on the leading half of both keys (see
    keys.prefix_key). Round 3, for those still without one: the existing keys one typo away from
    each of the row's keys (matcher.search.selectors.one_typo_keys), looked up exactly.
    """
    by_query: dict[int, list[tuple[Score, int]]] = {}
    notes: dict[int, list[str]] = defaultdict(list)
    stats = {
        "round1_tracks": 0,
        "round2_rows": 0,
        "round2_tracks": 0,
        "skipped_keys": 0,
        "pairs": 0,  # (row, candidate) pairs screened (a row re-scored in round 2 twice)
        "built": 0,  # distinct candidates that passed a screen and were scored in full
    }
    title_keys = {q.prepared.side.title_key for q in queries if q.prepared.side.title_key}
    # Dataset titles that are a row's artist and title run together (`Dollar I Wanna Hold Your
    # Hand`): looked up as title keys too, each found track then read for that row only.
    run_together = [run_together_keys(q.prepared.side) for q in queries]
    title_keys |= {key for keys in run_together for key in keys}
    artist_keys = {q.prepared.side.artist_key for q in queries if q.prepared.side.artist_key}
    common = keys_over_cap("title_key", title_keys, version_ids, KEY_CAP, using, exact=True)
    # Artists with many tracks are blocked with the first character of the title too: a
    # 5,000-track artist then gives a few hundred candidates, not 5,000, per catalog row.
    big = keys_over_cap("artist_key", artist_keys, version_ids, ARTIST_WHOLE, using, exact=True)
    common |= keys_over_cap(
        "artist_key", {k for _, k in big}, version_ids, ARTIST_KEY_CAP, using, exact=True
    )
    big_artists = {k for _, k in big} - {k for c, k in common if c == "artist_key"}
    stats["skipped_keys"] = len(common)
    stats["big_artist_keys"] = len(big_artists)
    title_keys -= {k for c, k in common if c == "title_key"}
    artist_keys -= {k for c, k in common if c == "artist_key"}
    for q in queries:
        side = q.prepared.side
        for column, key in (("title_key", side.title_key), ("artist_key", side.artist_key)):
            if (column, key) in common:
                cap = KEY_CAP if column == "title_key" else ARTIST_KEY_CAP
                notes[q.row.pk].append(
                    f"blocking: {column.replace('_key', '')} key '{key}' is shared by more "
                    f"than {cap} tracks and was not used to find candidates"
                )

    by_ident = _identifier_hits(queries, version_ids, using)
    ident_track_ids = {pk for pks in by_ident.values() for pk in pks}
    rows: dict[int, TrackRow] = {}  # every candidate as read, by track id
    tracks: dict[int, Candidate] = {}  # those that passed the screen, built for scoring
    lookups = Lookups(pks=sorted(ident_track_ids))
    lookups.equal["title_key"] = sorted(title_keys)
    lookups.equal["artist_key"] = sorted(artist_keys - big_artists)
    lookups.artist_title_ranges = sorted(
        {
            (q.prepared.side.artist_key, q.prepared.side.title_key[:1])
            for q in queries
            if q.prepared.side.artist_key in big_artists and q.prepared.side.title_key
        }
    )
    stats["round1_tracks"] = len(fetch_tracks(lookups, version_ids, using, rows))
    by_title: dict[str, list[int]] = defaultdict(list)
    by_artist: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, row in rows.items():
        t_key = row[TKEY]
        if t_key in title_keys:
            by_title[t_key].append(pk)
        a_key = row[AKEY]
        if a_key in artist_keys:
            by_artist[(a_key, t_key[:1] if a_key in big_artists else "")].append(pk)

    def artist_block(side: TrackSide) -> tuple[str, str]:
        a_key = side.artist_key
        return a_key, side.title_key[:1] if a_key in big_artists else ""

    candidates: dict[int, dict[int, str]] = {}
    titled: dict[int, list[int]] = {}  # per query: its title block (candidates with its title)
    for i, q in enumerate(queries):
        ids: dict[int, str] = {}
        for kind, value in q.identifiers:
            for pk in by_ident.get((kind, value), ()):
                ids[candidate_key(pk)] = f"{kind}:{value}"
        titled[i] = by_title.get(q.prepared.side.title_key, [])
        for pk in titled[i]:
            ids.setdefault(pk, "")
        for pk in by_artist.get(artist_block(q.prepared.side), ()):
            ids.setdefault(pk, "")
        for key, artist in run_together[i].items():
            for pk in by_title.get(key, ()):
                made = _run_together_row(rows, pk, q.prepared.side, artist)
                if made is not None:
                    ids.setdefault(made, "")
        candidates[i] = ids

    screens: dict[int, Screen] = {}

    def score(i: int) -> None:
        screen = screens.get(i)
        if screen is None:
            screen = screens[i] = Screen(queries[i].prepared.side, thresholds)
        by_query[i] = _score(queries[i], candidates[i], titled[i], rows, tracks, screen, thresholds)
        stats["pairs"] += len(candidates[i])

    def extend(i: int, found: Iterable[int]) -> None:
        """Add the tracks of a later round to row i's candidates; re-score it if any is new."""
        added = False
        for pk in found:
            if pk not in candidates[i]:
                candidates[i][pk] = ""
                added = True
        if added:
            score(i)

    for i in range(len(queries)):
        score(i)

    # Round 2: prefixes of both keys, for the rows whose exact keys both found nothing (a typo
    # in each field, or keys too common to use) and that have no confident match. A row whose
    # artist is in the dataset but not its song (the usual outcome) does not come here.
    unresolved = [
        i
        for i, q in enumerate(queries)
        if not by_title.get(q.prepared.side.title_key)
        and not by_artist.get(artist_block(q.prepared.side))
        and (not by_query[i] or by_query[i][0][0].kind not in (IDENTIFIER, EXACT, STRONG))
    ]
    wanted: dict[int, list[tuple[str, str]]] = {}
    for i in unresolved:
        side = queries[i].prepared.side
        pairs = [
            (column, prefix)
            for column, prefix in (
                ("title_key", prefix_key(side.title_key)),
                ("artist_key", prefix_key(side.artist_key)),
            )
            if prefix
        ]
        if pairs:
            wanted[i] = pairs
    if wanted:
        stats["round2_rows"] = len(wanted)
        ranges: dict[str, set[str]] = {"title_key": set(), "artist_key": set()}
        for pairs in wanted.values():
            for column, prefix in pairs:
                ranges[column].add(prefix)
        too_common: set[tuple[str, str]] = set()
        for column, prefixes in ranges.items():
            too_common |= keys_over_cap(
                column, prefixes, version_ids, PREFIX_CAP, using, exact=False
            )
            prefixes -= {p for c, p in too_common if c == column}
        lookups = Lookups()
        for column, prefixes in ranges.items():
            lookups.prefixes[column] = sorted(prefixes)
        read = fetch_tracks(lookups, version_ids, using, rows)
        stats["round2_tracks"] = len(read)
        by_prefix: dict[tuple[str, str], list[int]] = defaultdict(list)
        lengths = {len(p) for prefixes in ranges.values() for p in prefixes}
        for pk in read:
            row = rows[pk]
            for n in lengths:
                for column, key in (("title_key", row[TKEY]), ("artist_key", row[AKEY])):
                    if len(key) >= n and key[:n] in ranges[column]:
                        by_prefix[(column, key[:n])].append(pk)
        for i, pairs in wanted.items():
            extend(i, (pk for key in pairs for pk in by_prefix.get(key, ())))

    # Round 3: keys one typo away from the row's own keys, for the rows still without a
    # confident match (a typo in both fields, one of them early in its key, where the prefixes
    # of round 2 cannot reach). The neighbour keys come from the distinct keys of the search
    # (SearchTerm); the tracks carrying them are read like the exact keys of round 1.
    still = [
        i
        for i in unresolved
        if not by_query[i] or by_query[i][0][0].kind not in (IDENTIFIER, EXACT, STRONG)
    ]
    if still:
        stats["round3_rows"] = len(still)
        near: dict[str, dict[str, set[str]]] = {
            column: one_typo_keys(
                field_name=field_name,
                keys={getattr(queries[i].prepared.side, column) for i in still},
                using=using,
            )
            for column, field_name in (("title_key", "title"), ("artist_key", "artist"))
        }
        keys_of: dict[str, set[str]] = {
            column: {k for found in by_key.values() for k in found}
            for column, by_key in near.items()
        }
        for column, keys in keys_of.items():
            over = keys_over_cap(column, keys, version_ids, PREFIX_CAP, using, exact=True)
            keys -= {k for _, k in over}
        lookups = Lookups(equal={c: sorted(k) for c, k in keys_of.items() if k})
        read = fetch_tracks(lookups, version_ids, using, rows) if lookups.equal else []
        stats["round3_tracks"] = len(read)
        with_key: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pk in read:
            row = rows[pk]
            for column, position in (("title_key", TKEY), ("artist_key", AKEY)):
                if row[position] in keys_of[column]:
                    with_key[(column, row[position])].append(pk)
        for i in still:
            side = queries[i].prepared.side
            extend(
                i,
                (
                    pk
                    for column in ("title_key", "artist_key")
                    for key in near[column].get(getattr(side, column), ())
                    for pk in with_key.get((column, key), ())
                ),
            )
    stats["built"] = len(tracks)
    return Blocked(
        scored=[(len(candidates[i]), by_query[i]) for i in range(len(queries))],
        tracks=tracks,
        notes=notes,
        stats=stats,
    )


def _score(
    q: Query,
    candidate_ids: dict[int, str],
    titled: list[int],
    rows: dict[int, TrackRow],
    tracks: dict[int, Candidate],
    screen: Screen,
    thresholds: Thresholds,
) -> list[tuple[Score, int]]:
    """Score a row's candidates. Most fail the screen on their stored keys (another artist's
    song of the same title, another song of the same artist) and are never built or scored;
    the screen only drops pairs `score_pair` would reject, so the matches are the same.
    `titled` are the candidates found by the row's own title key, screened as one block."""
    passed = [pk for pk, ident in candidate_ids.items() if ident]
    block = [pk for pk in titled if not candidate_ids[pk]]
    passed += screen.keep_titled(
        q.prepared.side.title_key, block, [rows[pk][ANORM] for pk in block]
    )
    in_block = set(titled)
    passed += screen.keep(
        [
            (pk, (row := rows[pk])[TKEY], row[ANORM])
            for pk, ident in candidate_ids.items()
            if not ident and pk not in in_block
        ]
    )
    kept: list[tuple[int, TrackSide, str]] = []
    for pk in passed:
        cand = tracks.get(pk)
        if cand is None:
            cand = tracks[pk] = candidate_from_row(rows[pk])
        kept.append((pk, cand.side, candidate_ids[pk]))
    return rank_candidates(q.prepared.side, kept, thresholds)


def _run_together_row(
    rows: dict[int, TrackRow], found: int, query: TrackSide, artist: str
) -> int | None:
    """The candidate key of the track read as `found` (any of its readings), read as `artist`'s
    recording of the query's title (readings.run_together_side); its row is added to `rows`.

    Two candidate slots per track are kept for such readings: two rows of one chunk that read
    the same track differently (`Dollar` / `I Wanna Hold Your Hand` and `Dollar I` / `Wanna
    Hold Your Hand`) each get theirs; a third such reading of one track is not made (None).
    """
    row = rows[found]
    stored = candidate_from_row(row)
    side = run_together_side(query, stored.side, artist)
    made = (row[0], row[1], side.artist_key, side.title_key, side.artists_norm, *row[VERSION:])
    for slot in RUN_TOGETHER_SLOTS:
        key = candidate_key(stored.track_pk, slot)
        existing = rows.get(key)
        if existing is None:
            rows[key] = (key, *made[1:])
            return key
        if existing[1:] == made[1:]:
            return key
    return None


def _identifier_hits(
    queries: list[Query], version_ids: list[int], using: str
) -> dict[tuple[str, str], list[int]]:
    idents = {pair for q in queries for pair in q.identifiers}
    by_ident: dict[tuple[str, str], list[int]] = defaultdict(list)
    if not idents:
        return by_ident
    values = sorted({v for _, v in idents})
    for part in slices(values, 400):
        for track_pk, kind, value in (
            TrackIdentifier.objects.using(using)
            .filter(version_id__in=version_ids, value__in=part)
            .values_list("track_id", "kind", "value")
        ):
            if (kind, value) in idents:
                by_ident[(kind, value)].append(track_pk)
    return by_ident
