"""Review services: record verdicts on matches (one or a filtered selection), undo the last
change of a match's verdict, keep the append-only audit trail, and carry verdicts over to a later
run of the same catalog."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.permissions import REVIEW
from accounts.scoping import require, user_actor
from matcher.models import Match, MatchRun, Verdict, VerdictEvent

logger = logging.getLogger(__name__)

BATCH = 1000
NOTE_MAX = 4000


@dataclass(frozen=True)
class _Carried:
    run_id: int
    reviewer_id: int | None
    reviewed_at: datetime


class ReviewError(ValueError):
    """A verdict cannot be recorded; the message is for the reviewer."""


def _check(*, user: Any, organization_id: int, value: str) -> None:
    require(user_actor(user), REVIEW, organization_id=organization_id)
    if value not in Verdict.Value.values:
        raise ReviewError(
            f"'{value}' is not a verdict: choose confirmed, rejected or unsure, then save again."
        )


def _record_batch(
    matches: list[Match],
    *,
    user: Any,
    value: str,
    note: str,
    at: Any,
    carried_from: dict[int, _Carried] | None = None,
) -> int:
    """Upsert the verdicts of a batch of matches and append one event per actual change."""
    existing = {v.match_id: v for v in Verdict.objects.filter(match__in=matches)}
    verdicts: list[Verdict] = []
    events: list[VerdictEvent] = []
    for m in matches:
        old = existing.get(m.pk)
        if old is not None and old.value == value and (not note or old.note == note):
            continue
        carried = (carried_from or {}).get(m.pk)
        source_run = carried.run_id if carried else None
        verdicts.append(
            Verdict(
                match=m,
                run_id=m.run_id,
                value=value,
                note=note,
                # A carried verdict keeps who gave it and when; the event says it was carried.
                reviewed_by_id=carried.reviewer_id if carried else getattr(user, "pk", None),
                reviewed_at=carried.reviewed_at if carried else at,
                carried_from_run_id=source_run,
            )
        )
        events.append(
            VerdictEvent(
                organization_id=m.run.organization_id,
                match=m,
                run_number=m.run_id,
                catalog_row_number=m.catalog_row.row_number,
                dataset_slug=m.dataset.slug,
                dataset_track_id=m.track.track_id,
                user=user,
                user_name=user.get_username() if user is not None else "trainwatch",
                at=at,
                old_value=old.value if old else "",
                new_value=value,
                note=note,
                carried_from_run=source_run,
            )
        )
    if verdicts:
        Verdict.objects.bulk_create(
            verdicts,
            update_conflicts=True,
            unique_fields=["match"],
            update_fields=["value", "note", "reviewed_by", "reviewed_at", "carried_from_run"],
        )
        VerdictEvent.objects.bulk_create(events)
    return len(verdicts)


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk verdict would do, for the reviewer to confirm before it is recorded."""

    value: str
    label: str
    selected: int  # matches in the selection
    same: int  # of which already have this verdict
    replaced: int  # of which have another verdict, which this one replaces


def verdicts_bulk_preview(
    *, run: MatchRun, matches: QuerySet[Match], user: Any, value: str
) -> BulkPreview:
    """Count what verdicts_bulk_record would reach, without recording anything."""
    _check(user=user, organization_id=run.organization_id, value=value)
    selection = matches.filter(run=run)
    selected = selection.count()
    with_verdict = Verdict.objects.filter(run=run, match__in=selection.values("pk"))
    same = with_verdict.filter(value=value).count()
    replaced = with_verdict.exclude(value=value).count()
    return BulkPreview(value, Verdict.Value(value).label, selected, same, replaced)


def verdict_record(*, match: Match, user: Any, value: str, note: str = "") -> Verdict:
    """Record one reviewer's verdict on one match (and its audit event)."""
    _check(user=user, organization_id=match.run.organization_id, value=value)
    with transaction.atomic():
        Match.objects.select_for_update().filter(pk=match.pk).first()
        _record_batch(
            [match], user=user, value=value, note=note.strip()[:NOTE_MAX], at=timezone.now()
        )
    return Verdict.objects.get(match=match)


def verdicts_bulk_record(
    *, run: MatchRun, matches: QuerySet[Match], user: Any, value: str, note: str = ""
) -> int:
    """Record the same verdict on every match of a selection (e.g. the report's current filter).

    Returns how many verdicts changed. Matches of other runs in the selection are ignored.
    """
    _check(user=user, organization_id=run.organization_id, value=value)
    note = note.strip()[:NOTE_MAX]
    at = timezone.now()
    ids = list(matches.filter(run=run).order_by("pk").values_list("pk", flat=True))
    changed = 0
    with transaction.atomic():
        for start in range(0, len(ids), BATCH):
            batch = list(
                Match.objects.filter(pk__in=ids[start : start + BATCH]).select_related(
                    "run", "catalog_row", "dataset", "track"
                )
            )
            changed += _record_batch(batch, user=user, value=value, note=note, at=at)
    logger.info(
        "bulk verdict recorded",
        extra={"run": run.pk, "value": value, "selected": len(ids), "changed": changed},
    )
    return changed


@dataclass(frozen=True)
class _State:
    """A match's verdict as it stood at some point of its trail."""

    value: str
    note: str
    reviewer_id: int | None
    reviewed_at: datetime
    carried_from_run: int | None


def _state_after(trail: list[VerdictEvent], index: int) -> _State | None:
    """The verdict right after trail[index] (a trail is one match's events, oldest first).

    An undo leaves the verdict as it was before the change it undid; a carried verdict keeps
    who gave it and when in the earlier run, as verdicts_carry_over recorded it."""
    while index >= 0:
        event = trail[index]
        if event.undoes_id is None:
            break
        index = next((i for i, e in enumerate(trail) if e.pk == event.undoes_id), 0) - 1
    if index < 0:
        return None
    event = trail[index]
    if not event.new_value:
        return None
    if event.carried_from_run is None:
        return _State(event.new_value, event.note, event.user_id, event.at, None)
    source = list(
        VerdictEvent.objects.filter(
            organization_id=event.organization_id,
            run_number=event.carried_from_run,
            catalog_row_number=event.catalog_row_number,
            dataset_slug=event.dataset_slug,
            dataset_track_id=event.dataset_track_id,
            at__lte=event.at,
        ).order_by("at", "id")
    )
    given = _state_after(source, len(source) - 1) if source else None
    return _State(
        event.new_value,
        event.note,
        given.reviewer_id if given else None,
        given.reviewed_at if given else event.at,
        event.carried_from_run,
    )


def verdict_undo(*, match: Match, user: Any, event_id: int | None = None) -> Verdict | None:
    """Undo the last change of a match's verdict: the verdict goes back to what it was before
    (none, or the earlier verdict with its note, reviewer and date), and the undo is added to
    the audit trail as a change of its own (nothing is removed from the trail).

    `event_id` is the change the reviewer saw and means to undo; if the verdict changed since,
    nothing is undone. Returns the verdict as restored, or None when there was none before.
    """
    require(user_actor(user), REVIEW, organization_id=match.run.organization_id)
    with transaction.atomic():
        Match.objects.select_for_update().filter(pk=match.pk).first()
        trail = list(VerdictEvent.objects.filter(match=match).order_by("at", "id"))
        if not trail:
            raise ReviewError("This match has no verdict to undo.")
        last = trail[-1]
        if event_id is not None and last.pk != event_id:
            raise ReviewError(
                f"Nothing was undone: the verdict of this match was changed since, by "
                f"{last.user_name} at {timezone.localtime(last.at):%H:%M:%S}. Check the "
                "audit trail below and record the verdict you want."
            )
        if last.undoes_id is not None:
            raise ReviewError(
                "The last change of this verdict was already an undo; record the verdict you "
                "want instead."
            )
        before = _state_after(trail, len(trail) - 2)
        current = Verdict.objects.filter(match=match).first()
        at = timezone.now()
        if before is None:
            Verdict.objects.filter(match=match).delete()
        else:
            carried = before.carried_from_run
            if carried is not None and not MatchRun.objects.filter(pk=carried).exists():
                carried = None  # that run is gone; the trail still names it
            Verdict.objects.update_or_create(
                match=match,
                defaults={
                    "run_id": match.run_id,
                    "value": before.value,
                    "note": before.note,
                    "reviewed_by_id": before.reviewer_id,
                    "reviewed_at": before.reviewed_at,
                    "carried_from_run_id": carried,
                },
            )
        VerdictEvent.objects.create(
            organization_id=match.run.organization_id,
            match=match,
            run_number=match.run_id,
            catalog_row_number=match.catalog_row.row_number,
            dataset_slug=match.dataset.slug,
            dataset_track_id=match.track.track_id,
            user=user,
            user_name=user.get_username(),
            at=at,
            old_value=current.value if current else "",
            new_value=before.value if before else "",
            note=before.note if before else "",
            undoes=last,
        )
    logger.info(
        "verdict undone",
        extra={
            "match": match.pk,
            "undone_event": last.pk,
            "restored": before.value if before else "",
        },
    )
    return Verdict.objects.filter(match=match).first()


def verdicts_carry_over(*, run: MatchRun) -> int:
    """Give the matches of `run` the latest verdict recorded in an earlier run of the same
    catalog on the same (catalog row number, dataset, dataset track id). Safe to call twice:
    matches that already have a verdict are left alone.

    Call it when a run finishes; the report page also calls it once, lazily, for runs that
    finished before it existed (see verdicts_carry_over_once).
    """
    earlier = list(
        Verdict.objects.filter(run__catalog_id=run.catalog_id, run__created_at__lt=run.created_at)
        .exclude(run=run)
        .order_by("reviewed_at", "pk")
        .values_list(
            "match__catalog_row__row_number",
            "match__dataset_id",
            "match__track__track_id",
            "value",
            "note",
            "reviewed_by",
            "reviewed_at",
            "run_id",
        )
    )
    if not earlier:
        return 0
    latest: dict[tuple[int, int, str], tuple[str, str, _Carried]] = {}
    for number, dataset_id, track_id, value, note, reviewer, reviewed_at, run_id in earlier:
        latest[(number, dataset_id, track_id)] = (
            value,
            note,
            _Carried(run_id, reviewer, reviewed_at),
        )
    candidates = (
        Match.objects.filter(run=run, verdict__isnull=True)
        .select_related("run", "catalog_row", "dataset", "track")
        .order_by("pk")
    )
    by_value: dict[tuple[str, str], list[Match]] = {}
    carried_from: dict[int, _Carried] = {}
    for m in candidates.iterator(chunk_size=BATCH):
        found = latest.get((m.catalog_row.row_number, m.dataset_id, m.track.track_id))
        if found is None:
            continue
        value, note, carried = found
        carried_from[m.pk] = carried
        by_value.setdefault((value, note), []).append(m)
    at = timezone.now()
    total = 0
    with transaction.atomic():
        for (value, note), group in by_value.items():
            for batch in _batches(group, BATCH):
                total += _record_batch(
                    batch,
                    user=None,
                    value=value,
                    note=note,
                    at=at,
                    carried_from=carried_from,
                )
    logger.info("verdicts carried over", extra={"run": run.pk, "carried": total})
    return total


def verdicts_carry_over_once(*, run: MatchRun) -> int:
    """Carry verdicts over the first time a finished run is looked at; later calls do nothing."""
    if run.status != MatchRun.Status.DONE or run.verdicts_carried_at is not None:
        return 0
    claimed = MatchRun.objects.filter(pk=run.pk, verdicts_carried_at__isnull=True).update(
        verdicts_carried_at=timezone.now()
    )
    run.verdicts_carried_at = run.verdicts_carried_at or timezone.now()
    if not claimed:
        return 0
    return verdicts_carry_over(run=run)


def _batches(items: list[Match], size: int) -> Iterable[list[Match]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
