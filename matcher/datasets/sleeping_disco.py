"""Reader for Sleeping-DISCO-9M JSON Lines (``a.jsonl`` ... ``z.jsonl``, optionally gzipped).

Each line is one Genius song: song_id, song_url, primary_artist, featured_artists, album_name,
album_release_date, language, youtube_links, tags, lyrics. Lyrics are read past and never kept:
match evidence needs the song's identity, not its words.

The published field list names no title field. A line with one (`title`, `full_title`, ...)
uses it; a line without one takes its title from the Genius page URL, whose slug is the primary
artist's then the title's (`https://genius.com/Hozier-take-me-to-church-lyrics` with primary
artist `Hozier` gives `Take me to church`). Only a line from which no title can be had is
rejected.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from anyascii import anyascii

from matcher.datasets._text import open_text
from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord
from matcher.engine.identifiers import genius_url_key, youtube_video_id

# The card lists no title field by name; Genius API dumps call it "title" (some "full_title").
_TITLE_KEYS = ("title", "song_title", "name", "full_title")


_SLUG_DROP = re.compile(r"['\u2019\u2018`\"]")
_SLUG_SEP = re.compile(r"[^a-z0-9]+")
_GENIUS_SLUG = re.compile(r"genius\.com/([^/?#\s]+?)-lyrics/?(?:[?#].*)?$", re.IGNORECASE)


def genius_slug(text: str) -> str:
    """A name as Genius writes it in page URLs, lowercased: ASCII, `&` as `and`, apostrophes
    dropped, every other run of non-alphanumerics one hyphen (`Guns N' Roses` ->
    `guns-n-roses`, `P.O.D.` -> `p-o-d`, `Beyoncé` -> `beyonce`)."""
    folded = anyascii(text).lower().replace("&", " and ")
    return _SLUG_SEP.sub("-", _SLUG_DROP.sub("", folded)).strip("-")


def title_from_genius_url(url: str, primary_artist: str) -> str:
    """The song title a Genius page URL spells after the primary artist's slug, first letter
    capitalised (`https://genius.com/Hozier-take-me-to-church-lyrics`, `Hozier` ->
    `Take me to church`); "" when the URL is not a song page of that artist."""
    match = _GENIUS_SLUG.search(url.strip())
    artist = genius_slug(primary_artist)
    if not match or not artist:
        return ""
    slug = unquote(match.group(1)).lower()
    if not slug.startswith(artist + "-"):
        return ""
    words = slug[len(artist) + 1 :].replace("-", " ").split()
    if not words:
        return ""
    title = " ".join(words)
    return title[0].upper() + title[1:]


def read(paths: Sequence[Path]) -> ReaderOutput:
    for path in paths:
        yield from _read_file(Path(path))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, dict):  # Genius API objects: {"name": ...}
        return _text(value.get("name"))
    return ""


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for name in (_text(item) for item in value) if name]
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    return []


def _read_file(path: Path) -> ReaderOutput:
    name = path.name
    line = 0
    with open_text(path) as handle:
        try:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                yield from _record(name, line, text)
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{name}: is not UTF-8 text near line {line + 1}; download it again."
            ) from exc
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DatasetFormatError(
                f"{name}: the gzip stream is damaged after line {line}; download it again."
            ) from exc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """`value` with lone UTF-16 surrogates (escapes such as "\\ud800" that JSON allows but no
    text encoding can store) replaced by U+FFFD, in strings, lists and objects alike."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _record(name: str, line: int, text: str) -> ReaderOutput:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        yield ImportProblem(name, line, f"not valid JSON ({exc.msg} at column {exc.colno})")
        return
    if not isinstance(obj, dict):
        yield ImportProblem(name, line, "not a JSON object")
        return
    # json.loads joins escaped surrogate pairs; a lone one stays and could not be stored
    replaced = False
    if "\\ud" in text or "\\uD" in text:
        cleaned = _without_surrogates(obj)
        replaced = cleaned != obj
        obj = cleaned
    song_id = _text(obj.get("song_id", obj.get("id")))
    title = next((_text(obj.get(key)) for key in _TITLE_KEYS if _text(obj.get(key))), "")
    primary = _text(obj.get("primary_artist"))
    song_url = _text(obj.get("song_url", obj.get("url")))
    title_from_url = not title and bool(primary)
    if title_from_url:
        title = title_from_genius_url(song_url, primary)
    absent = [
        label
        for label, value in (("song_id", song_id), ("title", title), ("primary_artist", primary))
        if not value
    ]
    if absent:
        reason = "missing " + ", ".join(absent)
        if "title" in absent and primary:
            reason += (
                " (no title field, and no song_url of the artist's Genius page to read one from)"
            )
        yield ImportProblem(name, line, reason)
        return
    if replaced:
        yield ImportProblem(
            name, line, "a lone UTF-16 surrogate escape was replaced by U+FFFD; track kept"
        )
    artists = [primary]
    for featured in _names(obj.get("featured_artists")):
        if featured not in artists:
            artists.append(featured)
    identifiers: list[tuple[str, str]] = [("genius", song_id)]
    url_key = genius_url_key(song_url)
    if url_key:
        identifiers.append(("genius_url", url_key))
    links = obj.get("youtube_links") or []
    if isinstance(links, str):
        links = [links]
    for link in links if isinstance(links, list) else []:
        video_id = youtube_video_id(link) if isinstance(link, str) else None
        if video_id and ("youtube", video_id) not in identifiers:
            identifiers.append(("youtube", video_id))
    extra: dict[str, Any] = {}
    for key in ("album_release_date", "language"):
        value = _text(obj.get(key))
        if value:
            extra[key] = value
    tags = _names(obj.get("tags"))
    if tags:
        extra["tags"] = tags
    if title_from_url:
        extra["title_from"] = "song_url"
    yield TrackRecord(
        track_id=song_id,
        artists=artists,
        title=title,
        album=_text(obj.get("album_name")),
        url=song_url,
        identifiers=identifiers,
        extra=extra,
        source_file=name,
        source_row=line,
    )
