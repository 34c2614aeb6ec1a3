"""Blocking keys and the compact normalized form stored with every dataset track.

Each track gets two indexed equality keys, so that a typo on one side still finds the candidate
through the other: the primary artist key and the title key. Both come from
matcher.engine.normalize; the scorer reads the same compact form back (TrackSide).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from matcher.engine.normalize import (
    Artists,
    Title,
    name_key,
    normalize_artists,
    normalize_title,
    translit,
)

KEY_MAX = 255  # column width of the key columns
# The stored artists travel in the blocking indexes (INCLUDE columns), whose entries PostgreSQL
# caps at 2,704 bytes: with two keys of up to 1,020 bytes (255 four-byte characters) each, the
# artists keep to this many bytes. A longer credit list loses its last names, featured first.
ARTISTS_NORM_MAX_BYTES = 500


class TrackSide(NamedTuple):
    """What the scorer needs of one side of a pair; stored as columns for dataset tracks."""

    artist_key: str
    title_key: str
    artists: tuple[str, ...]  # comparison keys: primary first, then featured and split-off ones
    primary_count: int  # how many of `artists` are primary credits
    version: str  # "" for the original recording, else e.g. "live", "remix"
    duration_s: float | None = None
    album_key: str = ""

    @property
    def artists_norm(self) -> str:
        """The stored form of `artists`: primary names, '||', then the others, '|' between
        names; at most ARTISTS_NORM_MAX_BYTES of UTF-8."""
        primary = list(self.artists[: self.primary_count])
        others = list(self.artists[self.primary_count :])
        stored = "|".join(primary) + "||" + "|".join(others)
        while len(stored.encode()) > ARTISTS_NORM_MAX_BYTES and (others or len(primary) > 1):
            (others or primary).pop()
            stored = "|".join(primary) + "||" + "|".join(others)
        if len(stored.encode()) > ARTISTS_NORM_MAX_BYTES:  # one name longer than the budget
            budget = ARTISTS_NORM_MAX_BYTES - 2
            stored = primary[0].encode()[:budget].decode(errors="ignore") + "||"
        return stored

    @classmethod
    def from_stored(
        cls,
        *,
        artist_key: str,
        title_key: str,
        artists_norm: str,
        version: str,
        duration_s: float | None,
        album_key: str = "",
    ) -> TrackSide:
        artists, primary_count = parse_artists_norm(artists_norm)
        return cls(
            artist_key=artist_key,
            title_key=title_key,
            artists=artists,
            primary_count=primary_count,
            version=version,
            duration_s=duration_s,
            album_key=album_key,
        )


@lru_cache(maxsize=65536)
def parse_artists_norm(artists_norm: str) -> tuple[tuple[str, ...], int]:
    """Cached: a chunk's candidates repeat the same credits many times (an artist's tracks)."""
    primary_part, _, other_part = artists_norm.partition("||")
    primary = tuple(a for a in primary_part.split("|") if a)
    others = tuple(a for a in other_part.split("|") if a)
    return primary + others, len(primary)


class Prepared(NamedTuple):
    """A normalized record with the details evidence shows (rules that fired, display forms)."""

    side: TrackSide
    artists: Artists
    title: Title
    version_rules: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        return self.artists.rules + self.title.rules + self.version_rules


# "(Lou Reed Cover)", "(cover of X)", "Cover by X", "(Cher Instrumental Cover)": who is named.
_COVER_BY = re.compile(r"\bcover(?:ed)?\s+by\s+(?P<who>.+)$", re.IGNORECASE)
_COVER_OF = re.compile(r"\bcover\s+of\s+(?P<who>.+)$", re.IGNORECASE)
_COVER_WORDS = re.compile(
    r"\b(?:covers?|acoustic|instrumental|live|piano|guitar|version|a\s+cappella|acapella"
    r"|surf|reggae|rock|punk|metal|jazz|song|official|music|video)\b",
    re.IGNORECASE,
)
COVER_NAME_MIN = 90  # a named artist this similar to the record's artist is that artist


def cover_role(detail: str) -> tuple[str, str]:
    """("performer" or "original", the name) for a cover tag's text; ("", "") when it names
    nobody (`(Cover)`)."""
    m = _COVER_BY.search(detail)
    if m:
        return "performer", m.group("who").strip(" '\"")
    m = _COVER_OF.search(detail)
    who = m.group("who") if m else _COVER_WORDS.sub(" ", detail)
    who = " ".join(who.split()).strip(" -'\"")
    return ("original", who) if who else ("", "")


def names_one(name: str, keys: Sequence[str]) -> bool:
    key = name_key(name)
    return bool(key) and any(k == key or fuzz.ratio(k, key) >= COVER_NAME_MIN for k in keys)


def version_of(title: Title, primary: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The stored version label of a record and the rules that shaped it (since score-4).

    - A remix names its remixer: `remix by charlie darker` is not `remix by kdrew`, nor `remix`.
    - A cover tag that names the original artist (`(Bob Dylan cover)`, `cover of X`) says the
      record's artist performs the song: the record is that artist's own recording, and the
      label drops `cover`. When the named artist is the record's own artist (`Bob Dylan - I Shall
      Be Released (Bob Dylan cover)` read with Bob Dylan as the artist) or the tag names the
      performer as someone else (`Cover by Pomplamoose` on a Mark Ronson reading), the label
      keeps `cover`, so the pair is never confident. A bare `(Cover)` names nobody: kept.
    """
    version = title.version
    if not version.differs:
        return "", ()
    kinds = list(version.differs)
    rules: list[str] = []
    if "remix" in kinds:
        remixers = [d[len("remix by ") :] for d in version.details if d.startswith("remix by ")]
        if remixers:
            kinds[kinds.index("remix")] = "remix by " + translit(remixers[0])
    if "cover" in kinds:
        covers = [d for d in version.details if "cover" in d.lower()]
        role, who = cover_role(covers[0]) if covers else ("", "")
        if role:
            named_is_artist = names_one(who, primary)
            if role == "original" and not named_is_artist:
                kinds.remove("cover")
                rules.append(f"cover of {who}: {who} is the original artist, not the performer")
            elif role == "performer" and named_is_artist:
                kinds.remove("cover")
                rules.append(f"cover by {who}: the performer's own recording")
            else:
                rules.append(f"cover tag names {who}: not this artist's own recording")
    return "+".join(kinds), tuple(rules)


def prepare(
    *,
    artists: str | Sequence[str],
    title: str,
    version: str = "",
    album: str = "",
    duration_s: float | None = None,
) -> Prepared:
    """Normalize one record (catalog row or dataset track) into its comparable form.

    `version` is a separate version column some catalogs have ("Live", "2009 Remaster"); it is
    read as if it stood in brackets after the title.
    """
    norm_artists = normalize_artists(artists)
    full_title = f"{title} ({version})" if version and version.strip() else title
    norm_title = normalize_title(full_title, artists=norm_artists)
    primary = norm_artists.primary
    if len(primary) > 1 or not all(primary):
        primary = tuple(dict.fromkeys(a for a in primary if a))
    names = primary
    in_title = norm_title.artist_in_title
    if norm_artists.featured or norm_title.featured or in_title:
        others: list[str] = []
        for name in (*norm_artists.featured, *norm_title.featured, in_title):
            if name and name not in primary and name not in others:
                others.append(name)
        names = primary + tuple(others)
    label, version_rules = version_of(norm_title, primary or names)
    side = TrackSide(
        (norm_artists.key or in_title)[:KEY_MAX],
        norm_title.key[:KEY_MAX],
        names,
        len(primary),
        label[:64],
        duration_s,
        translit(album)[:KEY_MAX] if album else "",
    )
    return Prepared(side, norm_artists, norm_title, version_rules)


# Blocking limits. A key shared by more tracks than this ("various artists", a title such as
# "intro") is not used to fetch candidates: scoring thousands of tracks per catalog row costs
# more than it finds, and the row's other key still finds its match. Prefix ranges (the
# fallback for a typo in both fields) must be more selective still.
KEY_CAP = 1000
# An artist with more tracks than ARTIST_WHOLE is blocked on (artist key, first character of the
# title); one with more than ARTIST_KEY_CAP ("various artists") only through the title key.
ARTIST_WHOLE = 50
ARTIST_KEY_CAP = 20000
PREFIX_CAP = 200
PREFIX_MIN = 5  # shorter prefixes ("love", "the ") match far too many titles to be worth a query


def prefix_key(key: str) -> str:
    """The leading half of a key (at least PREFIX_MIN characters), for range blocking.

    A typo in the second half of the artist or of the title keeps this prefix, so a row whose
    exact keys both miss can still find its candidate by a range scan on the same btree index.
    Empty when the key is too short to have a prefix different from itself.
    """
    prefix = key[: max(PREFIX_MIN, (len(key) + 1) // 2)]
    return "" if prefix == key else prefix
