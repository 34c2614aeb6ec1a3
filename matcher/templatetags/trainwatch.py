"""Template helpers for the pages: links to routes that may not be installed, role checks, and
durations as people read them."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from accounts.permissions import role_allows
from matcher.reports import wording

register = template.Library()


@register.simple_tag
def optional_url(name: str, *args: Any) -> str:
    """The URL of a named route, or "" when no such route is installed (the link is then
    hidden), so the layout does not depend on every app being present."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        return ""


_HTTP_URL = re.compile(r"https?://[^\s]+\Z", re.IGNORECASE)


@register.filter
def http_url(value: Any) -> str:
    """`value` when it is an http(s) URL, else "": only such URLs become links. A dataset row's
    url is imported text; a `javascript:` or `data:` one shown as a link would run for anyone
    who clicks it (the caller shows it as text instead)."""
    text = str(value or "").strip()
    return text if _HTTP_URL.match(text) else ""


@register.filter
def can(membership: Any, action: str) -> bool:
    """Whether the membership's role allows an action (accounts.permissions), for showing or
    hiding a control; the view checks again."""
    return membership is not None and role_allows(getattr(membership, "role", None), action)


@register.filter
def rate(rows_per_second: float | None) -> str:
    """Rows per second: one decimal below 10 (a slow start still shows), thousands separated."""
    if rows_per_second is None:
        return ""
    if rows_per_second < 10:
        return f"{rows_per_second:.1f}"
    return f"{round(rows_per_second):,}"


@register.filter
def duration(seconds: float | int | None) -> str:
    """12 -> "12 s", 95 -> "1 min 35 s", 7300 -> "2 h 1 min"."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def counted(value: int | None, nouns: str) -> str:
    """A count and its noun in the right number: `{{ n|counted:"row" }}` -> "1 row", "2 rows";
    `{{ n|counted:"match,matches" }}` -> "1,204 matches" (matcher.reports.wording.counted)."""
    singular, _, plural = nouns.partition(",")
    return wording.counted(value or 0, singular, plural)
