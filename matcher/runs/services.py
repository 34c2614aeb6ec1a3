"""Match runs: start a run over a catalog, match one chunk of rows, finish or cancel the run.

Every write here is safe to repeat: a chunk that runs twice (a redelivered task) finds itself
done under a row lock and writes nothing twice; the run is finished by whichever chunk completes
it, with a conditional update.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from matcher.engine.identifiers import identifiers_in, normalize_isrc
from matcher.engine.keys import (
    ARTIST_KEY_CAP,
    ARTIST_WHOLE,
    KEY_CAP,
    PREFIX_CAP,
    Prepared,
    TrackSide,
    prefix_key,
    prepare,
)
from matcher.engine.normalize import NORMALIZER_VERSION, translit
from matcher.engine.score import (
    ENGINE_VERSION,
    EXACT,
    IDENTIFIER,
    STRONG,
    Score,
    Screen,
    Thresholds,
    album_similarity,
    ambiguity_note,
    rank_candidates,
)
from matcher.models import (
    Dataset,
    DatasetTrack,
    DatasetVersion,
    Match,
    MatchChunk,
    MatchRun,
    RowResult,
    TrackIdentifier,
)
from matcher.review.services import report_prepare
from matcher.search.selectors import RANGE_END, index_reads, one_typo_keys
from uploads.models import Catalog, CatalogRow

logger = logging.getLogger(__name__)

TOP_CANDIDATES_KEPT = 5


_T = TypeVar("_T")


class MatchRunError(Exception):
    """A run cannot start; the message is for the person who asked."""


def default_thresholds() -> Thresholds:
    return Thresholds.from_dict(settings.MATCH_THRESHOLDS)


@transaction.atomic
def match_run_create(
    *,
    catalog: Catalog,
    datasets: Sequence[Dataset] | None = None,
    created_by: Any = None,
    thresholds: Thresholds | None = None,
    chunk_rows: int | None = None,
    after_storing: bool = False,
) -> MatchRun:
    """Create a run and its chunks. The caller enqueues it (see match_run_start).

    A catalog whose rows are not stored yet is refused, except with `after_storing` (the web
    upload, which stores them in a task): its run then waits, without chunks, until
    match_run_release plans and enqueues it.
    """
    _require_ready(catalog, after_storing=after_storing)
    chosen = list(datasets) if datasets is not None else list(Dataset.objects.all())
    versions = [
        d.current_version
        for d in chosen
        if d.current_version is not None and d.current_version.status == DatasetVersion.Status.READY
    ]
    if not versions:
        raise MatchRunError(
            "No dataset has been imported yet, so there is nothing to match against. "
            "Import one with `manage.py import_dataset`."
        )
    run = MatchRun.objects.create(
        organization=catalog.organization,
        catalog=catalog,
        created_by=created_by,
        thresholds=(thresholds or default_thresholds()).as_dict(),
        engine_version=ENGINE_VERSION,
        total_rows=catalog.row_count,
    )
    run.dataset_versions.set(versions)
    if catalog.status == Catalog.Status.READY:
        _plan_chunks(run, catalog, chunk_rows)
    return run


def _require_ready(catalog: Catalog, *, after_storing: bool) -> None:
    if catalog.status == Catalog.Status.FAILED:
        raise MatchRunError(
            f'"{catalog.name}" cannot be matched: its rows were not stored. {catalog.error}'
        )
    if catalog.status != Catalog.Status.READY and not after_storing:
        raise MatchRunError(
            f'The rows of "{catalog.name}" are still being stored, so matching cannot start yet. '
            "Try again in a minute; the catalog page shows when it is ready."
        )


def _plan_chunks(run: MatchRun, catalog: Catalog, chunk_rows: int | None = None) -> None:
    size = chunk_rows or settings.MATCH_CHUNK_ROWS
    chunks: list[MatchChunk] = []
    ids: list[int] = []
    for row_id in catalog.rows.order_by("id").values_list("id", flat=True).iterator(2000):
        ids.append(row_id)
        if len(ids) == size:
            chunks.append(_chunk(run, len(chunks), ids))
            ids = []
    if ids:
        chunks.append(_chunk(run, len(chunks), ids))
    MatchChunk.objects.bulk_create(chunks, batch_size=1000)
    run.total_rows = catalog.row_count
    run.chunk_count = len(chunks)
    if not chunks:
        run.status = MatchRun.Status.DONE
        run.started_at = run.finished_at = timezone.now()
    run.save()


def _chunk(run: MatchRun, index: int, ids: list[int]) -> MatchChunk:
    return MatchChunk(
        run=run, index=index, first_row_id=ids[0], last_row_id=ids[-1], row_count=len(ids)
    )


def match_run_start(
    *,
    catalog: Catalog,
    datasets: Sequence[Dataset] | None = None,
    created_by: Any = None,
    thresholds: Thresholds | None = None,
    after_storing: bool = False,
) -> MatchRun:
    """Create a run and enqueue it once the transaction commits."""
    from matcher import tasks  # tasks import services: keep the cycle out of module load

    run = match_run_create(
        catalog=catalog,
        datasets=datasets,
        created_by=created_by,
        thresholds=thresholds,
        after_storing=after_storing,
    )
    if run.chunk_count:
        transaction.on_commit(lambda: tasks.match_run_dispatch.delay(run.pk))
    return run


def match_run_release(*, catalog: Catalog) -> list[int]:
    """Plan and enqueue the runs that waited for this catalog's rows (now stored), or fail them
    with the catalog's reason when storing failed; returns the runs released. Safe to repeat:
    a run that has its chunks already is left alone."""
    from matcher import tasks

    waiting = MatchRun.objects.select_for_update().filter(
        catalog=catalog, status=MatchRun.Status.QUEUED, chunk_count=0
    )
    released = []
    for run in waiting:
        if catalog.status == Catalog.Status.FAILED:
            match_run_fail(run_id=run.pk, reason=f"The catalog was not stored: {catalog.error}")
            continue
        _plan_chunks(run, catalog)
        if run.chunk_count:
            transaction.on_commit(partial(tasks.match_run_dispatch.delay, run.pk))
        released.append(run.pk)
    return released


def match_run_begin(*, run_id: int, window: int | None = None) -> list[int]:
    """Mark the run running and return the chunks to enqueue first.

    With a `window`, only the first `window` chunks are queued at once; each finished chunk
    queues the one `window` further on (match_chunk_next). A run never has more than a window of
    tasks waiting, so a small catalog started behind a million-row one is not queued behind
    all of its chunks: concurrent runs share the workers.
    """
    now = timezone.now()
    MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=now
    )
    run = MatchRun.objects.get(pk=run_id)
    if run.status != MatchRun.Status.RUNNING:
        return []
    pending = run.chunks.filter(status=MatchChunk.Status.PENDING)
    if window is not None:
        pending = pending.filter(index__lt=window)
    return list(pending.order_by("index").values_list("pk", flat=True))


def match_chunk_next(*, chunk_id: int, window: int) -> int | None:
    """The chunk that follows this one in its chain (index + window), if it still needs doing.

    Asked also when this chunk turned out done already (a redelivered task), so that a worker
    killed between finishing a chunk and queueing the next one does not break the chain; a
    chunk queued twice is harmless.
    """
    chunk = MatchChunk.objects.select_related("run").get(pk=chunk_id)
    if chunk.run.status != MatchRun.Status.RUNNING:
        return None
    return (
        MatchChunk.objects.filter(
            run_id=chunk.run_id,
            index=chunk.index + window,
            status=MatchChunk.Status.PENDING,
        )
        .values_list("pk", flat=True)
        .first()
    )


def match_run_cancel(*, run: MatchRun) -> bool:
    updated = MatchRun.objects.filter(
        pk=run.pk, status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]
    ).update(status=MatchRun.Status.CANCELLED, finished_at=timezone.now())
    return bool(updated)


def match_run_fail(*, run_id: int, reason: str) -> None:
    MatchRun.objects.filter(
        pk=run_id, status__in=[MatchRun.Status.QUEUED, MatchRun.Status.RUNNING]
    ).update(status=MatchRun.Status.FAILED, error=reason[:2000], finished_at=timezone.now())


# --- matching one chunk -------------------------------------------------------------------


@dataclass
class _Query:
    row: CatalogRow
    prepared: Prepared
    identifiers: list[tuple[str, str]]


@dataclass
class _Candidate:
    """A candidate that passed the screen and was scored (see _score)."""

    track_pk: int
    version_id: int
    side: TrackSide
    # Provenance is read only for the candidates that become matches (_fill_provenance): the
    # candidate columns come from covering indexes, without visiting the table's rows.
    dataset_track_id: str = ""
    source_file: str = ""
    source_row: int = 0


def catalog_row_identifiers(row: CatalogRow) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    isrc = normalize_isrc(row.isrc)
    if isrc:
        found.append(("isrc", isrc))
    for text in (row.spotify_id, row.youtube_id):
        for kind, value in identifiers_in(text):
            if (kind, value) not in found:
                found.append((kind, value))
    if row.spotify_id and not any(k == "spotify" for k, _ in found):
        found.append(("spotify", row.spotify_id))
    if row.youtube_id and not any(k == "youtube" for k, _ in found):
        found.append(("youtube", row.youtube_id))
    return found


def prepare_catalog_row(row: CatalogRow) -> Prepared:
    return prepare(
        artists=row.artist,
        title=row.title,
        version=row.version,
        album=row.album,
        duration_s=row.duration_s,
    )


def match_chunk_process(*, chunk_id: int) -> int:
    """Match the rows of one chunk and record the results. Returns rows written (0 if done)."""
    chunk = MatchChunk.objects.select_related("run").get(pk=chunk_id)
    run = chunk.run
    if chunk.status == MatchChunk.Status.DONE or run.status != MatchRun.Status.RUNNING:
        return 0
    MatchChunk.objects.filter(pk=chunk_id).update(attempts=F("attempts") + 1)
    thresholds = Thresholds.from_dict(run.thresholds)
    version_ids = list(run.dataset_versions.values_list("pk", flat=True))
    dataset_of_version = dict(
        DatasetVersion.objects.filter(pk__in=version_ids).values_list("pk", "dataset_id")
    )
    rows = list(
        CatalogRow.objects.filter(
            catalog_id=run.catalog_id, id__gte=chunk.first_row_id, id__lte=chunk.last_row_id
        )
        .select_related("duplicate_of")
        .order_by("id")
    )
    results, matches = _match_rows(rows, version_ids, dataset_of_version, thresholds, run)

    with transaction.atomic():
        locked = MatchChunk.objects.select_for_update().get(pk=chunk_id)
        if locked.status == MatchChunk.Status.DONE:
            return 0
        current = MatchRun.objects.select_for_update().get(pk=run.pk)
        if current.status != MatchRun.Status.RUNNING:
            return 0
        RowResult.objects.bulk_create(results, batch_size=1000)
        Match.objects.bulk_create(matches, batch_size=1000)
        locked.status = MatchChunk.Status.DONE
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        MatchRun.objects.filter(pk=run.pk).update(
            rows_done=F("rows_done") + len(rows), chunks_done=F("chunks_done") + 1
        )
        finished = MatchRun.objects.filter(
            pk=run.pk, status=MatchRun.Status.RUNNING, chunks_done=F("chunk_count")
        ).update(status=MatchRun.Status.DONE, finished_at=timezone.now())
        if finished:
            _settle_duplicates(run.pk)
    if finished:
        logger.info("match run finished", extra={"run": run.pk, "rows": current.total_rows})
        # Verdicts carried over and report figures stored now, so the first view is fast.
        report_prepare(run=MatchRun.objects.get(pk=run.pk))
    return len(rows)


def _settle_duplicates(run_id: int) -> None:
    """A duplicate row was matched once, through its first occurrence: give it that outcome."""
    dup_results = RowResult.objects.filter(
        run_id=run_id, catalog_row__duplicate_of__isnull=False
    ).select_related("catalog_row")
    originals = {
        r.catalog_row_id: r
        for r in RowResult.objects.filter(
            run_id=run_id,
            catalog_row_id__in=dup_results.values("catalog_row__duplicate_of_id"),
        )
    }
    changed = []
    for result in dup_results:
        original = originals.get(result.catalog_row.duplicate_of_id or 0)
        if original is None or result.status == RowResult.Status.INVALID:
            continue
        result.status = original.status
        result.best_kind = original.best_kind
        result.best_confidence = original.best_confidence
        changed.append(result)
    RowResult.objects.bulk_update(
        changed, ["status", "best_kind", "best_confidence"], batch_size=1000
    )


def _match_rows(
    rows: list[CatalogRow],
    version_ids: list[int],
    dataset_of_version: dict[int, int],
    thresholds: Thresholds,
    run: MatchRun,
) -> tuple[list[RowResult], list[Match]]:
    queries: list[_Query] = []
    results: list[RowResult] = []
    for row in rows:
        if row.status == CatalogRow.Status.INVALID:
            results.append(
                RowResult(
                    run=run,
                    catalog_row=row,
                    status=RowResult.Status.INVALID,
                    note=row.problem_text,
                )
            )
        elif row.duplicate_of_id is not None:
            results.append(
                RowResult(
                    run=run,
                    catalog_row=row,
                    status=RowResult.Status.UNMATCHED,
                    note=f"duplicate of row {row.duplicate_of.row_number}"
                    if row.duplicate_of
                    else "duplicate",
                )
            )
        else:
            queries.append(_Query(row, prepare_catalog_row(row), catalog_row_identifiers(row)))

    blocked = block_candidates(queries, version_ids, thresholds)
    versions = {
        v.pk: v for v in DatasetVersion.objects.filter(pk__in=version_ids).select_related("dataset")
    }
    matches: list[Match] = []
    _fill_provenance(
        blocked.tracks,
        {pk for _, scored in blocked.scored for _, pk in scored},
        with_album=any(q.prepared.side.album_key for q in queries),
    )
    for q, (candidate_ids, scored) in zip(queries, blocked.scored, strict=True):
        tracks = blocked.tracks
        album_key = q.prepared.side.album_key
        if album_key:  # compared now that the matches' albums are read
            scored = [
                (replace(s, album=album_similarity(album_key, tracks[pk].side.album_key)), pk)
                for s, pk in scored
            ]
        per_dataset: dict[int, int] = defaultdict(int)
        row_matches: list[Match] = []
        for position, (score, pk) in enumerate(scored):
            cand = tracks[pk]
            dataset_id = dataset_of_version[cand.version_id]
            if per_dataset[dataset_id] >= settings.MATCH_MAX_PER_DATASET:
                continue
            per_dataset[dataset_id] += 1
            extra_rules = list(blocked.notes.get(q.row.pk, ()))
            if per_dataset[dataset_id] == 1:
                runner = _runner_up(scored, position, dataset_id, tracks, dataset_of_version)
                if runner is not None:
                    note = ambiguity_note(score, cand.side, runner[0], tracks[runner[1]].side)
                    if note:
                        extra_rules.append(note)
            row_matches.append(
                Match(
                    run=run,
                    catalog_row=q.row,
                    track_id=pk,
                    dataset_id=dataset_id,
                    kind=score.kind,
                    confidence=score.confidence,
                    rank=per_dataset[dataset_id],
                    artist_score=score.artist,
                    title_score=score.title,
                    duration_delta_s=score.duration_delta_s,
                    version_note=score.version_note,
                    evidence=_evidence(
                        q, cand, score, versions[cand.version_id], thresholds, extra_rules
                    ),
                )
            )
        matches.extend(row_matches)
        best = row_matches[0] if row_matches else None
        results.append(
            RowResult(
                run=run,
                catalog_row=q.row,
                status=RowResult.Status.MATCHED if best else RowResult.Status.UNMATCHED,
                best_kind=best.kind if best else "",
                best_confidence=best.confidence if best else 0,
                candidates_considered=candidate_ids,
                top_candidates=[
                    {"track": pk, "kind": s.kind, "confidence": s.confidence, **s.fields()}
                    for s, pk in scored[:TOP_CANDIDATES_KEPT]
                ],
            )
        )
    return results, matches


def _runner_up(
    scored: list[tuple[Score, int]],
    position: int,
    dataset_id: int,
    tracks: dict[int, _Candidate],
    dataset_of_version: dict[int, int],
) -> tuple[Score, int] | None:
    for score, pk in scored[position + 1 :]:
        if dataset_of_version[tracks[pk].version_id] == dataset_id:
            return score, pk
    return None


@dataclass
class Blocked:
    """The candidates of a chunk: per query (candidates considered, matches best first)."""

    scored: list[tuple[int, list[tuple[Score, int]]]]
    tracks: dict[int, _Candidate]  # the candidates that were scored
    notes: dict[int, list[str]]  # catalog row pk -> blocking rules worth showing as evidence
    stats: dict[str, int]


def block_candidates(
    queries: list[_Query],
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
    artist_keys = {q.prepared.side.artist_key for q in queries if q.prepared.side.artist_key}
    common = _over_common("title_key", title_keys, version_ids, KEY_CAP, using, exact=True)
    # Artists with many tracks are blocked with the first character of the title too: a
    # 5,000-track artist then gives a few hundred candidates, not 5,000, per catalog row.
    big = _over_common("artist_key", artist_keys, version_ids, ARTIST_WHOLE, using, exact=True)
    common |= _over_common(
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
    rows: dict[int, _Row] = {}  # every candidate as read, by track id
    tracks: dict[int, _Candidate] = {}  # those that passed the screen, built for scoring
    lookups = _Lookups(pks=sorted(ident_track_ids))
    lookups.equal["title_key"] = sorted(title_keys)
    lookups.equal["artist_key"] = sorted(artist_keys - big_artists)
    lookups.artist_title_ranges = sorted(
        {
            (q.prepared.side.artist_key, q.prepared.side.title_key[:1])
            for q in queries
            if q.prepared.side.artist_key in big_artists and q.prepared.side.title_key
        }
    )
    stats["round1_tracks"] = len(_fetch(lookups, version_ids, using, rows))
    by_title: dict[str, list[int]] = defaultdict(list)
    by_artist: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, row in rows.items():
        t_key = row[_TKEY]
        if t_key in title_keys:
            by_title[t_key].append(pk)
        a_key = row[_AKEY]
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
                ids[pk] = f"{kind}:{value}"
        titled[i] = by_title.get(q.prepared.side.title_key, [])
        for pk in titled[i]:
            ids.setdefault(pk, "")
        for pk in by_artist.get(artist_block(q.prepared.side), ()):
            ids.setdefault(pk, "")
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
            too_common |= _over_common(
                column, prefixes, version_ids, PREFIX_CAP, using, exact=False
            )
            prefixes -= {p for c, p in too_common if c == column}
        lookups = _Lookups()
        for column, prefixes in ranges.items():
            lookups.prefixes[column] = sorted(prefixes)
        read = _fetch(lookups, version_ids, using, rows)
        stats["round2_tracks"] = len(read)
        by_prefix: dict[tuple[str, str], list[int]] = defaultdict(list)
        lengths = {len(p) for prefixes in ranges.values() for p in prefixes}
        for pk in read:
            row = rows[pk]
            for n in lengths:
                for column, key in (("title_key", row[_TKEY]), ("artist_key", row[_AKEY])):
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
            over = _over_common(column, keys, version_ids, PREFIX_CAP, using, exact=True)
            keys -= {k for _, k in over}
        lookups = _Lookups(equal={c: sorted(k) for c, k in keys_of.items() if k})
        read = _fetch(lookups, version_ids, using, rows) if lookups.equal else []
        stats["round3_tracks"] = len(read)
        with_key: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pk in read:
            row = rows[pk]
            for column, position in (("title_key", _TKEY), ("artist_key", _AKEY)):
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
    q: _Query,
    candidate_ids: dict[int, str],
    titled: list[int],
    rows: dict[int, _Row],
    tracks: dict[int, _Candidate],
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
        q.prepared.side.title_key, block, [rows[pk][_ANORM] for pk in block]
    )
    in_block = set(titled)
    passed += screen.keep(
        [
            (pk, (row := rows[pk])[_TKEY], row[_ANORM])
            for pk, ident in candidate_ids.items()
            if not ident and pk not in in_block
        ]
    )
    kept: list[tuple[int, TrackSide, str]] = []
    for pk in passed:
        cand = tracks.get(pk)
        if cand is None:
            cand = tracks[pk] = _candidate(rows[pk])
        kept.append((pk, cand.side, candidate_ids[pk]))
    return rank_candidates(q.prepared.side, kept, thresholds)


def _identifier_hits(
    queries: list[_Query], version_ids: list[int], using: str
) -> dict[tuple[str, str], list[int]]:
    idents = {pair for q in queries for pair in q.identifiers}
    by_ident: dict[tuple[str, str], list[int]] = defaultdict(list)
    if not idents:
        return by_ident
    values = sorted({v for _, v in idents})
    for part in _slices(values, 400):
        for track_pk, kind, value in (
            TrackIdentifier.objects.using(using)
            .filter(version_id__in=version_ids, value__in=part)
            .values_list("track_id", "kind", "value")
        ):
            if (kind, value) in idents:
                by_ident[(kind, value)].append(track_pk)
    return by_ident


def _over_common(
    column: str, keys: set[str], version_ids: list[int], cap: int, using: str, *, exact: bool
) -> set[tuple[str, str]]:
    """The keys (exact values, or prefixes when not `exact`) shared by more than `cap` tracks.

    Each key's count stops at cap + 1 rows of the index, so a key with a million tracks costs
    no more than a rare one. PostgreSQL does all keys in one query (a LATERAL-style subquery per
    key); other databases ask key by key.
    """
    if not keys:
        return set()
    assert column in ("title_key", "artist_key")
    connection = connections[using]
    ordered = sorted(keys)
    found: set[tuple[str, str]] = set()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(DatasetTrack._meta.db_table)
        match = f"t.{column} = k" if exact else f"t.{column} >= k AND t.{column} < k || %s"
        # Only the column (checked above) and the model's table name are interpolated.
        sql = (
            f"SELECT k FROM unnest(%s::text[]) AS k WHERE (SELECT count(*) FROM "  # noqa: S608
            f"(SELECT 1 FROM {table} t WHERE {match} AND t.version_id = ANY(%s) "
            f"LIMIT %s) s) > %s"
        )
        with index_reads(using) as cursor:
            for part in _slices(ordered, 1000):
                params: list[Any] = [part]
                if not exact:
                    params.append(RANGE_END)
                params += [list(version_ids), cap + 1, cap]
                cursor.execute(sql, params)
                found |= {(column, k) for (k,) in cursor.fetchall()}
        return found
    base = DatasetTrack.objects.using(using).filter(version_id__in=version_ids)
    for key in ordered:
        if exact:
            qs = base.filter(**{column: key})
        else:
            qs = base.filter(**{f"{column}__gte": key, f"{column}__lt": key + RANGE_END})
        if qs.values("pk")[: cap + 1].count() > cap:
            found.add((column, key))
    return found


# Every column a candidate needs is in the covering indexes track_title_cover and
# track_artist_cover (see models.DatasetTrack), so blocking reads index pages only: against 22M
# rows a chunk's ~85,000 candidates cost tens of milliseconds instead of as many random reads of
# table pages. Keep this list and the indexes' INCLUDE lists in step.
_TRACK_FIELDS = (
    "pk",
    "version_id",
    "artist_key",
    "title_key",
    "artists_norm",
    "version_label",
    "duration_s",
)
_TRACK_COLUMNS = ("id", *_TRACK_FIELDS[1:])
# A candidate as read (the values of _TRACK_FIELDS, in order), and the positions in it.
_Row = tuple[Any, ...]
_TKEY = _TRACK_FIELDS.index("title_key")
_AKEY = _TRACK_FIELDS.index("artist_key")
_ANORM = _TRACK_FIELDS.index("artists_norm")


def _candidate(row: _Row) -> _Candidate:
    pk, version_id, a_key, t_key, artists_norm, label, duration = row
    return _Candidate(
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
class _Lookups:
    """What blocking reads from the tracks: ids (shared identifiers), keys equal to one of
    a list, an artist key with a range of title keys starting with one character (artists
    with many tracks), and key prefixes (ranges of the index)."""

    pks: list[int] = field(default_factory=list)
    equal: dict[str, list[str]] = field(default_factory=dict)
    artist_title_ranges: list[tuple[str, str]] = field(default_factory=list)
    prefixes: dict[str, list[str]] = field(default_factory=dict)


def _fetch(
    lookups: _Lookups,
    version_ids: list[int],
    using: str,
    rows: dict[int, _Row],
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
    lookups: _Lookups, version_ids: list[int], using: str
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
    columns = ", ".join(f"t.{c}" for c in _TRACK_COLUMNS)
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
        for part in _slices(keys, 1000):
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
    lookups: _Lookups, version_ids: list[int], using: str
) -> Iterable[tuple[Any, ...]]:
    """The same lookups through the ORM, for the embedded SQLite default."""
    conditions = [Q(pk__in=lookups.pks)] if lookups.pks else []
    for column, keys in lookups.equal.items():
        for part in _slices(keys, 400):
            conditions.append(Q(**{f"{column}__in": part}))
    for artist_key, initial in lookups.artist_title_ranges:
        conditions.append(
            Q(artist_key=artist_key, title_key__gte=initial, title_key__lt=initial + RANGE_END)
        )
    for column, prefixes in lookups.prefixes.items():
        for prefix in prefixes:
            conditions.append(Q(**{f"{column}__gte": prefix, f"{column}__lt": prefix + RANGE_END}))
    in_versions = Q(version_id__in=version_ids)
    for part in _slices(conditions, 200):
        condition = part[0] & in_versions
        for extra in part[1:]:
            condition |= extra & in_versions
        yield from DatasetTrack.objects.using(using).filter(condition).values_list(*_TRACK_FIELDS)


def _fill_provenance(
    tracks: dict[int, _Candidate], pks: set[int], *, with_album: bool, using: str = "default"
) -> None:
    """Read the dataset's own id, the source file and line, and the album (compared only when
    the catalog has albums) of the candidates in `pks`: the matches, a few per row."""
    for part in _slices(sorted(pks), 1000):
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


def _slices(items: list[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _evidence(
    q: _Query,
    cand: _Candidate,
    score: Score,
    version: DatasetVersion,
    thresholds: Thresholds,
    extra_rules: Sequence[str] = (),
) -> dict[str, Any]:
    """What a reviewer needs to check the match again later, without re-running anything."""
    side = q.prepared.side
    return {
        "catalog": {
            "row": q.row.row_number,
            "artist": q.row.artist,
            "title": q.row.title,
            "version": q.row.version,
            "album": q.row.album,
            "duration_s": q.row.duration_s,
            "identifiers": [f"{k}:{v}" for k, v in q.identifiers],
            "normalized": {
                "artists": list(side.artists),
                "artist_key": side.artist_key,
                "title_key": side.title_key,
                "version": side.version or "original",
            },
        },
        "track": {
            "dataset_track_id": cand.dataset_track_id,
            "normalized": {
                "artists": list(cand.side.artists),
                "artist_key": cand.side.artist_key,
                "title_key": cand.side.title_key,
                "version": cand.side.version or "original",
            },
        },
        "scores": score.fields(),
        "rules": list(q.prepared.rules) + list(score.rules) + list(extra_rules),
        "thresholds": thresholds.as_dict(),
        "engine_version": ENGINE_VERSION,
        "normalizer_version": NORMALIZER_VERSION,
        "dataset": {
            "slug": version.dataset.slug,
            "version": version.number,
            "sha256": version.sha256,
        },
        "provenance": {"file": cand.source_file, "row": cand.source_row},
    }
