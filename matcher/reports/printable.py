"""The printable report: one self-contained HTML file (print CSS inline, no script, nothing
loaded from elsewhere) that a label's lawyer opens in any browser and prints or saves as PDF.

It names the catalog, the run, who ran it and the engine and normalizer versions, the dataset
versions with their SHA-256, the run page's figures (report_summary, never recounted) and every
confirmed match side by side with its provenance and the reviewer's verdict. It is rendered in
pieces (head, one piece per confirmed match, foot) so that memory stays flat for any report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.models import Match, MatchRun, Verdict
from matcher.reports.selectors import confirmed_matches, report_summary

HEAD_TEMPLATE = "matcher/print/head.html"
MATCH_TEMPLATE = "matcher/print/match.html"
FOOT_TEMPLATE = "matcher/print/foot.html"


def person(user: AbstractBaseUser | None, *, fallback: str = "") -> str:
    """A user as a reader of the report knows them: "Rita Reviewer (rita)", or the user name
    alone; `fallback` (the name recorded at the time) once the account is deleted."""
    if user is None:
        return fallback or "unknown (account deleted)"
    username = user.get_username()
    full = getattr(user, "get_full_name", lambda: "")().strip()
    return f"{full} ({username})" if full and full != username else username


@dataclass
class PrintedMatch:
    """One confirmed match as the report prints it."""

    number: int
    match: Match
    verdict: Verdict
    reviewer: str
    rules: list[str]


def _printed(number: int, m: Match) -> PrintedMatch:
    verdict = m.verdict
    events = list(m.verdict_events.all())
    # The name recorded with the latest change, should the reviewer's account be deleted.
    recorded = events[-1].user_name if events else ""
    evidence = m.evidence or {}
    rules = [str(r) for r in evidence.get("rules", []) if r]
    return PrintedMatch(
        number=number,
        match=m,
        verdict=verdict,
        reviewer=person(verdict.reviewed_by, fallback=recorded),
        rules=rules,
    )


def report_html_context(run: MatchRun) -> dict[str, Any]:
    """What the head and foot of the printable report show."""
    summary = report_summary(run)
    return {
        "run": run,
        "catalog": run.catalog,
        "organization": run.organization,
        "summary": summary,
        # Empty (shown as a dash) when nobody is recorded, e.g. a run started from the CLI.
        "run_by": person(run.created_by) if run.created_by_id else "",
        "uploaded_by": person(run.catalog.uploaded_by) if run.catalog.uploaded_by_id else "",
        "normalizer_version": NORMALIZER_VERSION,
        "versions": list(run.dataset_versions.select_related("dataset").order_by("dataset__slug")),
        "generated_at": timezone.now(),
    }


def report_html_chunks(run: MatchRun) -> Iterator[str]:
    """The printable report as HTML text, piece by piece (autoescaped templates: catalog and
    dataset text is shown, never interpreted)."""
    context = report_html_context(run)
    yield render_to_string(HEAD_TEMPLATE, context)
    piece = get_template(MATCH_TEMPLATE)
    total = context["summary"].confirmed
    for number, m in enumerate(confirmed_matches(run), start=1):
        yield piece.render({"p": _printed(number, m), "total": total})
    yield render_to_string(FOOT_TEMPLATE, context)


def report_html(run: MatchRun) -> str:
    """The whole printable report as one string (tests and small reports)."""
    return "".join(report_html_chunks(run))
