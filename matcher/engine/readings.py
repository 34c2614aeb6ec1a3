"""Readings of a dataset track: the (artist, title) pairs its credit and title support.

A track keeps its credited reading (the track's own keys) and gains the readings its title
supports: a YouTube upload credited to the uploader's channel ("monelle") whose title is
"Fred Neil - A Little Bit of Rain" also reads as Fred Neil's "A Little Bit of Rain", and, since
uploads put the title first as often, as the song "Fred Neil" by "A Little Bit of Rain". Blocking
finds a catalog row through any reading; scoring says which one matched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from matcher.engine.keys import Prepared, prepare

MAX_EXTRA = 2  # extra readings per track at most: each is an index entry at 12M-track scale

_DASH_SPLIT = re.compile(
    r"\s+[-\u2013\u2014]\s+|(?<=\w)[-\u2013\u2014]\s+|\s+[-\u2013\u2014](?=\w)"
)


# How a reviewer reads each reading's name (the evidence page, the exports).
LABELS = {
    "credited": "as credited",
    "title_split": "artist and title both read from the title (Artist - Title)",
    "title_split_reversed": "artist and title both read from the title, title first",
}


def describe(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


class Reading(NamedTuple):
    name: str  # "title_split" (artist - title), "title_split_reversed" (title - artist)
    prepared: Prepared


def extra_readings(
    *, artists: str | Sequence[str], title: str, credited: Prepared, duration_s: float | None = None
) -> list[Reading]:
    """The readings of a track besides its credited one (`credited`, its prepare() result).

    Only the title as the normalizer left it counts: version tags after a dash (`- Remastered
    2011`, `- Live at the BBC`) are gone from it, so they never make a reading."""
    shown = credited.title.display
    if credited.title.artist_in_title or ("-" not in shown and "\u2013" not in shown):
        return []
    parts = _DASH_SPLIT.split(shown, maxsplit=1)
    if len(parts) != 2:
        return []
    left, right = (p.strip() for p in parts)
    if not left or not right:
        return []
    out: list[Reading] = []
    for name, artist, song in (("title_split", left, right), ("title_split_reversed", right, left)):
        p = prepare(artists=artist, title=song, duration_s=duration_s)
        if p.side.artist_key and p.side.title_key:
            out.append(Reading(name, p))
    return out[:MAX_EXTRA]
