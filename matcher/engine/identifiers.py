"""Canonical forms of the identifiers that catalogs and datasets share (ISRC, YouTube, Spotify,
Genius, Free Music Archive), so both sides compare them by plain string equality."""

from __future__ import annotations

import re
from urllib.parse import unquote

from stdnum import isrc as stdnum_isrc

# YouTube video ids are 11 characters of base64url; channel ids are "UC" + 22 of the same.
_YT_ID = r"[A-Za-z0-9_-]{11}"
_YT_ID_RE = re.compile(rf"{_YT_ID}")
_YT_URL_RE = re.compile(
    r"(?:https?://)?(?:[a-z0-9-]+\.)*"
    r"(?:youtube\.com/(?:(?:watch|attribution_link)?\?(?:[^#\s]*?&)?v=|shorts/|embed/|live/|v/)"
    r"|youtu\.be/|youtube-nocookie\.com/embed/)"
    rf"({_YT_ID})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)
_YT_CHANNEL = r"UC[A-Za-z0-9_-]{22}"
_YT_CHANNEL_RE = re.compile(_YT_CHANNEL)
_YT_CHANNEL_URL_RE = re.compile(
    rf"(?:https?://)?(?:[a-z0-9-]+\.)*youtube\.com/channel/({_YT_CHANNEL})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)

_SPOTIFY_ID = r"[0-9A-Za-z]{22}"
_SPOTIFY_ID_RE = re.compile(_SPOTIFY_ID)
_SPOTIFY_RE = re.compile(
    r"(?:spotify:track:"
    r"|(?:https?://)?open\.spotify\.com/(?:intl-[a-z]{2}(?:-[a-z]+)?/)?(?:embed/)?track/)"
    rf"({_SPOTIFY_ID})(?![0-9A-Za-z])",
    re.IGNORECASE,
)

# Genius song pages are one path segment ending in "-lyrics"; /songs/ID is the numeric form.
_GENIUS_URL_RE = re.compile(
    r"(?:https?://)?(?:www\.)?genius\.com/([^\s/?#\"'<>]+-lyrics)(?=[/?#\s\"'<>]|$)",
    re.IGNORECASE,
)
_GENIUS_SONG_ID_RE = re.compile(
    r"(?:https?://)?(?:www\.)?genius\.com/songs/(\d+)(?!\d)", re.IGNORECASE
)

_FMA_URL_RE = re.compile(
    r"(?:https?://)?(?:www\.)?freemusicarchive\.org(/[^\s?#\"'<>]*)", re.IGNORECASE
)

# An ISRC in free text: 12 characters, optionally written with hyphens or spaces between parts.
_ISRC_TEXT_RE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{2}[-\s]?[A-Za-z0-9]{3}[-\s]?\d{2}[-\s]?\d{5})(?![A-Za-z0-9])"
)


_ISRC_PREFIX = re.compile(r"^\s*ISRC\s*:?\s*", re.IGNORECASE)
# What labels write between an ISRC's parts: hyphens, spaces, dots, underscores.
_ISRC_SEPARATORS = str.maketrans("", "", " \t\r\n\u00a0-._")


def normalize_isrc(text: str | None) -> str | None:
    """The 12-character uppercase ISRC in ``text``, or None when it is not a valid ISRC.

    The one ISRC normalizer (catalog parsing, dataset imports and matching): an "ISRC:" prefix,
    any case, and hyphens, spaces, dots or underscores between the parts are accepted
    ("US.RC1.76.07839", "us_rc1_76_07839" -> "USRC17607839"); python-stdnum checks the rest.
    """
    if not text:
        return None
    compact = _ISRC_PREFIX.sub("", text).translate(_ISRC_SEPARATORS).upper()
    return compact if stdnum_isrc.is_valid(compact) else None


def youtube_video_id(text: str | None) -> str | None:
    """The 11-character video id of a bare id or any YouTube / YouTube Music URL."""
    if not text:
        return None
    text = text.strip()
    if _YT_ID_RE.fullmatch(text):
        return text
    match = _YT_URL_RE.search(text)
    return match.group(1) if match else None


def youtube_channel_id(text: str | None) -> str | None:
    """The "UC..." channel id of a bare id or a youtube.com/channel/ URL."""
    if not text:
        return None
    text = text.strip()
    if _YT_CHANNEL_RE.fullmatch(text):
        return text
    match = _YT_CHANNEL_URL_RE.search(text)
    return match.group(1) if match else None


def spotify_track_id(text: str | None) -> str | None:
    """The 22-character track id of a bare id, a spotify:track: URI or an open.spotify.com URL."""
    if not text:
        return None
    text = text.strip()
    if _SPOTIFY_ID_RE.fullmatch(text):
        return text
    match = _SPOTIFY_RE.search(text)
    return match.group(1) if match else None


def genius_url_key(text: str | None) -> str | None:
    """``genius.com/<slug>-lyrics`` in lowercase for a Genius song page URL, else None."""
    if not text:
        return None
    match = _GENIUS_URL_RE.search(text.strip())
    if not match:
        return None
    return "genius.com/" + unquote(match.group(1)).lower()


def fma_url_key(text: str | None) -> str | None:
    """``freemusicarchive.org/<path>`` in lowercase, without scheme, query or trailing slash."""
    if not text:
        return None
    match = _FMA_URL_RE.search(text.strip())
    if not match:
        return None
    path = unquote(match.group(1)).rstrip("/").lower()
    if not path:
        return None  # the home page identifies nothing
    return "freemusicarchive.org" + path


def identifiers_in(text: str | None) -> list[tuple[str, str]]:
    """Every identifier found in a free-text or URL cell, as (kind, canonical value) pairs.

    Kinds: "isrc", "spotify", "youtube", "youtube_channel", "genius" (numeric song id),
    "genius_url", "fma_url". Bare 11- or 22-character tokens are not taken as YouTube or Spotify
    ids here because ordinary words can have that shape; only URLs and URIs count.
    """
    if not text:
        return []
    found: list[tuple[str, str]] = []

    def add(kind: str, value: str | None) -> None:
        if value and (kind, value) not in found:
            found.append((kind, value))

    for match in _ISRC_TEXT_RE.finditer(text):
        add("isrc", normalize_isrc(match.group(1)))
    for match in _SPOTIFY_RE.finditer(text):
        add("spotify", match.group(1))
    for match in _YT_URL_RE.finditer(text):
        add("youtube", match.group(1))
    for match in _YT_CHANNEL_URL_RE.finditer(text):
        add("youtube_channel", match.group(1))
    for match in _GENIUS_SONG_ID_RE.finditer(text):
        add("genius", match.group(1))
    for match in _GENIUS_URL_RE.finditer(text):
        add("genius_url", genius_url_key(match.group(0)))
    for match in _FMA_URL_RE.finditer(text):
        add("fma_url", fma_url_key(match.group(0)))
    return found
