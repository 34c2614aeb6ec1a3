"""One chunk of a run: prepare its catalog rows, block and score candidates, write the results.

Safe to repeat: a chunk that runs twice (a redelivered task) finds itself done under a row lock
and writes nothing twice; the chunk that completes the run finishes it with a conditional update.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from matcher.engine.identifiers import identifiers_in, normalize_isrc
from matcher.engine.keys import (
    Prepared,
    prepare,
)
from matcher.engine.score import (
    Score,
    Thresholds,
    album_similarity,
    ambiguity_note,
)
from matcher.models import (
    DatasetVersion,
    Match,
    MatchChunk,
    MatchRun,
    RowResult,
)
from matcher.reports.services import report_prepare
from matcher.runs.blocking import Blocked, Query, block_candidates
from matcher.runs.evidence import match_evidence
from matcher.runs.services import match_run_statistics_refresh
from matcher.runs.track_reads import Candidate, fill_provenance
from uploads.models import CatalogRow

logger = logging.getLogger(__name__)

TOP_CANDIDATES_KEPT = 5


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
    with transaction.atomic():
        # A chunk whose row is locked is being written by another copy of this task (a
        # redelivery, a re-queue): waiting for it would only hold a worker until it is done.
        claimed = (
            MatchChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=chunk_id)
            .order_by("pk")  # not the default order, whose join would lock the run's row too
            .values_list("pk", flat=True)
            .first()
        )
        if claimed is None:
            logger.info("match chunk skipped: being written", extra={"chunk": chunk_id})
            return 0
        # No attempt is counted here: the queueing counted it (runs.services._chunk, watchdog).
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
            _settle_duplicates(run.pk, run.catalog_id)
    if finished:
        logger.info("match run finished", extra={"run": run.pk, "rows": current.total_rows})
        # The report's figures, pages and exports read the run's results and matches, which the
        # statistics do not cover yet: refresh them rather than wait for autovacuum.
        match_run_statistics_refresh(run_id=run.pk)
        # Verdicts carried over and report figures stored now, so the first view is fast.
        report_prepare(run=MatchRun.objects.get(pk=run.pk))
    return len(rows)


def _settle_duplicates(run_id: int, catalog_id: int) -> None:
    """A duplicate row was matched once, through its first occurrence: give it that outcome.

    Two single-table scans joined here, in memory that follows the duplicates: their plans are
    scans whatever the statistics say. The run's rows are new (written by this transaction and
    the chunks before it), so statistics rarely cover them yet, and the join this used to be
    was then planned as a nested loop that rescanned the run once per row (> 150 s, holding the
    run's lock, for a few hundred repeated rows).
    """
    original_of = dict(
        CatalogRow.objects.filter(catalog_id=catalog_id, duplicate_of__isnull=False)
        .order_by()
        .values_list("id", "duplicate_of_id")
        .iterator(2000)
    )
    if not original_of:
        return
    wanted = set(original_of.values())
    outcome: dict[int, tuple[str, str, int]] = {}
    duplicates: list[tuple[int, int, str]] = []  # (result, catalog row, status)
    results = (
        RowResult.objects.filter(run_id=run_id)
        .order_by()
        .values_list("pk", "catalog_row_id", "status", "best_kind", "best_confidence")
    )
    for pk, row_id, status, best_kind, best_confidence in results.iterator(2000):
        if row_id in original_of:
            duplicates.append((pk, row_id, status))
        if row_id in wanted:
            outcome[row_id] = (status, best_kind, best_confidence)
    changed = []
    for pk, row_id, status in duplicates:
        original = outcome.get(original_of[row_id])
        if original is None or status == RowResult.Status.INVALID:
            continue
        changed.append(
            RowResult(pk=pk, status=original[0], best_kind=original[1], best_confidence=original[2])
        )
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
    queries: list[Query] = []
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
            original = row.duplicate_of
            duplicate = f"duplicate of row {original.row_number}" if original else "duplicate"
            results.append(
                RowResult(
                    run=run,
                    catalog_row=row,
                    status=RowResult.Status.UNMATCHED,
                    note="; ".join(filter(None, (duplicate, row.warning_text))),
                )
            )
        else:
            queries.append(Query(row, prepare_catalog_row(row), catalog_row_identifiers(row)))

    blocked = block_candidates(queries, version_ids, thresholds)
    versions = {
        v.pk: v for v in DatasetVersion.objects.filter(pk__in=version_ids).select_related("dataset")
    }
    matches: list[Match] = []
    fill_provenance(
        blocked.tracks,
        {key for _, scored in blocked.scored for _, key in scored},
        with_album=any(q.prepared.side.album_key for q in queries),
    )
    for q, (candidate_ids, scored) in zip(queries, blocked.scored, strict=True):
        tracks = blocked.tracks
        album_key = q.prepared.side.album_key
        if album_key:  # compared now that the matches' albums are read
            scored = [
                (replace(s, album=album_similarity(album_key, tracks[key].side.album_key)), key)
                for s, key in scored
            ]
        # A track found through several of its readings counts once, by its best reading.
        scored = _best_reading_per_track(scored, tracks)
        row_matches = _row_matches(
            q, scored, tracks, dataset_of_version, versions, blocked, thresholds, run
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
                # What the row's matching ignored (a bad ISRC) reaches the report and exports.
                note=q.row.warning_text,
                top_candidates=[
                    {
                        "track": tracks[key].track_pk,
                        "reading": tracks[key].reading_name,
                        "kind": s.kind,
                        "confidence": s.confidence,
                        **s.fields(),
                    }
                    for s, key in scored[:TOP_CANDIDATES_KEPT]
                ],
            )
        )
    return results, matches


def _best_reading_per_track(
    scored: list[tuple[Score, int]], tracks: dict[int, Candidate]
) -> list[tuple[Score, int]]:
    seen: set[int] = set()
    kept = []
    for score, key in scored:  # best first
        track_pk = tracks[key].track_pk
        if track_pk not in seen:
            seen.add(track_pk)
            kept.append((score, key))
    return kept


def _row_matches(
    q: Query,
    scored: list[tuple[Score, int]],
    tracks: dict[int, Candidate],
    dataset_of_version: dict[int, int],
    versions: dict[int, DatasetVersion],
    blocked: Blocked,
    thresholds: Thresholds,
    run: MatchRun,
) -> list[Match]:
    """A row's matches, best first, at most MATCH_MAX_PER_DATASET recordings per dataset.

    Every copy counts: a dataset track that is the same recording as one already listed (the
    same keys and version, scored the same: a second upload, a second id) is listed too, as
    evidence of its own, without taking the place of another recording.
    """
    per_dataset: dict[int, int] = defaultdict(int)
    listed: dict[int, set[tuple[str, str, str, int, str]]] = defaultdict(set)
    row_matches: list[Match] = []
    for position, (score, key) in enumerate(scored):
        cand = tracks[key]
        dataset_id = dataset_of_version[cand.version_id]
        recording = (
            cand.side.artist_key,
            cand.side.title_key,
            cand.side.version,
            score.confidence,
            score.kind,
        )
        copy = recording in listed[dataset_id]
        if not copy:
            if per_dataset[dataset_id] >= settings.MATCH_MAX_PER_DATASET:
                continue
            per_dataset[dataset_id] += 1
            listed[dataset_id].add(recording)
        extra_rules = list(blocked.notes.get(q.row.pk, ()))
        if copy:
            extra_rules.append("another copy in this dataset of the recording listed above")
        elif per_dataset[dataset_id] == 1:
            runner = _runner_up(scored, position, dataset_id, tracks, dataset_of_version)
            if runner is not None:
                note = ambiguity_note(score, cand.side, runner[0], tracks[runner[1]].side)
                if note:
                    extra_rules.append(note)
        row_matches.append(
            Match(
                run=run,
                catalog_row=q.row,
                track_id=cand.track_pk,
                dataset_id=dataset_id,
                kind=score.kind,
                confidence=score.confidence,
                rank=len([m for m in row_matches if m.dataset_id == dataset_id]) + 1,
                artist_score=score.artist,
                title_score=score.title,
                duration_delta_s=score.duration_delta_s,
                version_note=score.version_note,
                evidence=match_evidence(
                    q, cand, score, versions[cand.version_id], thresholds, extra_rules
                ),
            )
        )
    return row_matches


def _runner_up(
    scored: list[tuple[Score, int]],
    position: int,
    dataset_id: int,
    tracks: dict[int, Candidate],
    dataset_of_version: dict[int, int],
) -> tuple[Score, int] | None:
    for score, pk in scored[position + 1 :]:
        if dataset_of_version[tracks[pk].version_id] == dataset_id:
            return score, pk
    return None
