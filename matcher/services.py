"""Match runs: start a run over a catalog, match one chunk of rows, finish or cancel the run.

Every write here is safe to repeat: a chunk that runs twice (a redelivered task) finds itself
done under a row lock and writes nothing twice; the run is finished by whichever chunk completes
it, with a conditional update.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from matcher.engine.identifiers import identifiers_in, normalize_isrc
from matcher.engine.keys import Prepared, TrackSide, prepare
from matcher.engine.normalize import NORMALIZER_VERSION, translit
from matcher.engine.score import ENGINE_VERSION, Score, Thresholds, score_pair
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
from uploads.models import Catalog, CatalogRow

logger = logging.getLogger(__name__)

TOP_CANDIDATES_KEPT = 5


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
) -> MatchRun:
    """Create a run and its chunks. The caller enqueues it (see match_run_start)."""
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
    run.chunk_count = len(chunks)
    if not chunks:
        run.status = MatchRun.Status.DONE
        run.started_at = run.finished_at = timezone.now()
    run.save()
    return run


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
) -> MatchRun:
    """Create a run and enqueue it once the transaction commits."""
    from matcher import tasks  # tasks import services: keep the cycle out of module load

    run = match_run_create(
        catalog=catalog, datasets=datasets, created_by=created_by, thresholds=thresholds
    )
    if run.chunk_count:
        transaction.on_commit(lambda: tasks.match_run_dispatch.delay(run.pk))
    return run


def match_run_begin(*, run_id: int) -> list[int]:
    """Mark the run running and return the ids of the chunks still to do."""
    now = timezone.now()
    MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=now
    )
    run = MatchRun.objects.get(pk=run_id)
    if run.status != MatchRun.Status.RUNNING:
        return []
    return list(
        run.chunks.filter(status=MatchChunk.Status.PENDING)
        .order_by("index")
        .values_list("pk", flat=True)
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
    track_pk: int
    version_id: int
    side: TrackSide
    dataset_track_id: str
    source_file: str
    source_row: int


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

    by_title, by_artist, by_ident, tracks = _block(queries, version_ids)
    versions = {
        v.pk: v for v in DatasetVersion.objects.filter(pk__in=version_ids).select_related("dataset")
    }
    matches: list[Match] = []
    for q in queries:
        candidate_ids: dict[int, str] = {}
        for kind, value in q.identifiers:
            for pk in by_ident.get((kind, value), ()):
                candidate_ids[pk] = f"{kind}:{value}"
        for pk in by_title.get(q.prepared.side.title_key, ()):
            candidate_ids.setdefault(pk, "")
        for pk in by_artist.get(q.prepared.side.artist_key, ()):
            candidate_ids.setdefault(pk, "")
        scored: list[tuple[Score, int]] = []
        for pk, ident in candidate_ids.items():
            score = score_pair(q.prepared.side, tracks[pk].side, thresholds, identifier=ident)
            if score is not None:
                scored.append((score, pk))
        scored.sort(key=lambda sp: (-_kind_rank(sp[0].kind), -sp[0].confidence, sp[1]))
        per_dataset: dict[int, int] = defaultdict(int)
        row_matches: list[Match] = []
        for score, pk in scored:
            cand = tracks[pk]
            dataset_id = dataset_of_version[cand.version_id]
            if per_dataset[dataset_id] >= settings.MATCH_MAX_PER_DATASET:
                continue
            per_dataset[dataset_id] += 1
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
                    evidence=_evidence(q, cand, score, versions[cand.version_id], thresholds),
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
                candidates_considered=len(candidate_ids),
                top_candidates=[
                    {"track": pk, "kind": s.kind, "confidence": s.confidence, **s.fields()}
                    for s, pk in scored[:TOP_CANDIDATES_KEPT]
                ],
            )
        )
    return results, matches


def _kind_rank(kind: str) -> int:
    return {"identifier": 5, "exact": 4, "strong": 3, "version": 2, "possible": 1}.get(kind, 0)


def _block(
    queries: list[_Query], version_ids: list[int]
) -> tuple[
    dict[str, list[int]],
    dict[str, list[int]],
    dict[tuple[str, str], list[int]],
    dict[int, _Candidate],
]:
    """Fetch, in a few queries for the whole chunk, every track sharing a key with some row."""
    title_keys = {q.prepared.side.title_key for q in queries if q.prepared.side.title_key}
    artist_keys = {q.prepared.side.artist_key for q in queries if q.prepared.side.artist_key}
    idents = {pair for q in queries for pair in q.identifiers}

    by_ident: dict[tuple[str, str], list[int]] = defaultdict(list)
    if idents:
        values = {v for _, v in idents}
        for track_pk, kind, value in TrackIdentifier.objects.filter(
            version_id__in=version_ids, value__in=values
        ).values_list("track_id", "kind", "value"):
            if (kind, value) in idents:
                by_ident[(kind, value)].append(track_pk)
    ident_track_ids = {pk for pks in by_ident.values() for pk in pks}

    condition = Q(pk__in=ident_track_ids) if ident_track_ids else Q(pk__in=[])
    for keys, column in ((title_keys, "title_key"), (artist_keys, "artist_key")):
        for part in _slices(sorted(keys), 400):
            condition |= Q(**{f"{column}__in": part})
    by_title: dict[str, list[int]] = defaultdict(list)
    by_artist: dict[str, list[int]] = defaultdict(list)
    tracks: dict[int, _Candidate] = {}
    if not (title_keys or artist_keys or ident_track_ids):
        return by_title, by_artist, by_ident, tracks
    fields = (
        "pk",
        "version_id",
        "artist_key",
        "title_key",
        "artists_norm",
        "version_label",
        "duration_s",
        "album",
        "track_id",
        "source_file",
        "source_row",
    )
    qs = DatasetTrack.objects.filter(version_id__in=version_ids).filter(condition)
    for (
        pk,
        version_id,
        a_key,
        t_key,
        artists_norm,
        label,
        duration,
        album,
        dataset_track_id,
        source_file,
        source_row,
    ) in qs.values_list(*fields).iterator(5000):
        tracks[pk] = _Candidate(
            pk,
            version_id,
            TrackSide.from_stored(
                artist_key=a_key,
                title_key=t_key,
                artists_norm=artists_norm,
                version=label,
                duration_s=duration,
                album_key=translit(album) if album else "",
            ),
            dataset_track_id,
            source_file,
            source_row,
        )
        if t_key in title_keys:
            by_title[t_key].append(pk)
        if a_key in artist_keys:
            by_artist[a_key].append(pk)
    return by_title, by_artist, by_ident, tracks


def _slices(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _evidence(
    q: _Query,
    cand: _Candidate,
    score: Score,
    version: DatasetVersion,
    thresholds: Thresholds,
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
        "rules": list(q.prepared.rules) + list(score.rules),
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
