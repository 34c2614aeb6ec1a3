"""Reads for the review workflow: a match's verdict, its history and the change an undo would
take back, and moving from one match to the next (unreviewed) one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from matcher.models import (
    Match,
    Verdict,
    VerdictEvent,
)


def verdict_history(match: Match) -> QuerySet[VerdictEvent]:
    return VerdictEvent.objects.filter(match=match).select_related("undoes").order_by("at", "id")


def verdict_last_change(match: Match) -> VerdictEvent | None:
    return VerdictEvent.objects.filter(match=match).order_by("-at", "-id").first()


def verdict_undoable(match: Match) -> VerdictEvent | None:
    """The change of the match's verdict that an undo would take back: the last one, unless it
    was itself an undo (an undo is not undone; the reviewer records the verdict again)."""
    last = verdict_last_change(match)
    return last if last is not None and last.undoes_id is None else None


def match_verdict(match: Match) -> Verdict | None:
    return Verdict.objects.select_related("reviewed_by").filter(match=match).first()


# A run's matches in report order: sheet row, then dataset, then rank (ties broken by id).
MATCH_ORDER = ("catalog_row_id", "dataset_id", "rank", "id")


def _beyond(match: Match, *, before: bool) -> Q:
    """Matches after (or before) `match` in MATCH_ORDER, as one lexicographic condition."""
    op = "lt" if before else "gt"
    condition = Q()
    equal: dict[str, Any] = {}
    for name in MATCH_ORDER:
        condition |= Q(**equal, **{f"{name}__{op}": getattr(match, name)})
        equal[name] = getattr(match, name)
    return condition


def match_neighbours(match: Match) -> tuple[Match | None, Match | None]:
    """The previous and the next match of the same run, in report order."""
    same_run = Match.objects.filter(run_id=match.run_id)
    previous = (
        same_run.filter(_beyond(match, before=True))
        .order_by(*(f"-{name}" for name in MATCH_ORDER))
        .first()
    )
    following = same_run.filter(_beyond(match, before=False)).order_by(*MATCH_ORDER).first()
    return previous, following


def match_next_unreviewed(match: Match) -> Match | None:
    """The next match of the run without a verdict, after `match` and then from the start."""
    unreviewed = Match.objects.filter(run_id=match.run_id, verdict__isnull=True).exclude(
        pk=match.pk
    )
    return (
        unreviewed.filter(_beyond(match, before=False)).order_by(*MATCH_ORDER).first()
        or unreviewed.order_by(*MATCH_ORDER).first()
    )


def run_first_unreviewed(run_id: int) -> Match | None:
    return Match.objects.filter(run_id=run_id, verdict__isnull=True).order_by(*MATCH_ORDER).first()


def run_unreviewed_count(run_id: int) -> int:
    # Two index-only counts (a verdict belongs to one match of its run) instead of an anti-join.
    matches = Match.objects.filter(run_id=run_id).count()
    return matches - Verdict.objects.filter(run_id=run_id).count()
